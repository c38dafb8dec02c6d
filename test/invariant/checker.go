// Package invariant watches a cluster through its API server and reports
// every moment gangsched's promises do not hold, whatever the scheduler
// believes: a group bound half-way past its grace, a node committed beyond
// its allocatable, an admissible group left waiting on an idle cluster, and
// a member deleted by nobody entitled to. The chaos tests and the benchmark
// run it beside the scheduler; it reads only what the API server serves.
package invariant

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	pgclientset "sigs.k8s.io/scheduler-plugins/pkg/generated/clientset/versioned"
	pginformers "sigs.k8s.io/scheduler-plugins/pkg/generated/informers/externalversions"
	pglisters "sigs.k8s.io/scheduler-plugins/pkg/generated/listers/scheduling/v1alpha1"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
)

// The invariants a Checker reports.
const (
	// PartialGroup: a group that never ran whole holds bound members,
	// fewer than its minimum, for longer than Options.PartialGrace.
	PartialGroup = "PartialGroup"
	// NodeOvercommitted: the pods bound to a node request more than its
	// allocatable, or, for longer than Options.ReservationGrace, they and
	// the room gangsched's running groups hold there for members to come
	// (as their objects record it: podgroup.AnnotationReservation) do.
	NodeOvercommitted = "NodeOvercommitted"
	// IdleGroupNotAdmitted: nothing is bound in the cluster, yet a group
	// that fits the empty cluster has waited longer than Options.IdleGrace.
	IdleGroupNotAdmitted = "IdleGroupNotAdmitted"
	// UnexplainedDeletion: a running member was deleted without a
	// DisruptionTarget condition, while its owner exists.
	UnexplainedDeletion = "UnexplainedDeletion"
	// WholeGroupReleased: a member was deleted as part of a group released
	// half-way (podgroup.DisruptionReasonReleased), but its group had run
	// whole: the scheduler guessed.
	WholeGroupReleased = "WholeGroupReleased"
)

// Options say what a Checker watches and how long it lets things take.
type Options struct {
	// SchedulerName selects the pods whose groups are checked; the
	// overcommit check counts every pod.
	SchedulerName string
	// PartialGrace is how long a group may hold fewer than its minimum
	// bound before it ran whole: binding a whole group takes a while, and
	// a restarted scheduler needs time to finish or release it. Default 90s.
	PartialGrace time.Duration
	// IdleGrace is how long an admissible group may wait on an idle
	// cluster. Default 60s.
	IdleGrace time.Duration
	// ReservationGrace is how long bound pods and reserved room together
	// may exceed a node's allocatable: the record of a reservation the
	// scheduler planned anew is written with the next member's binding.
	// Default 10s.
	ReservationGrace time.Duration
	// Owner, if set, reports deletions the caller made as the pods' owner
	// (a user, an operator), which are never violations.
	Owner func(*v1.Pod) bool
	// Interval between checks of the time-bound invariants. Default 250ms.
	Interval time.Duration
}

// Violation is one broken promise.
type Violation struct {
	At        time.Time
	Invariant string
	// Object is the group, node or pod concerned.
	Object  string
	Message string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s %s %s: %s", v.At.Format("15:04:05.000"), v.Invariant, v.Object, v.Message)
}

// groupState is what the checker has seen of one group since it last had
// no member.
type groupState struct {
	// whole is set once as many members as its minimum were bound at once.
	whole bool
	// partialSince is when it last started to hold bound members short of
	// its minimum; zero when it does not.
	partialSince time.Time
	reported     bool
}

// Checker checks the invariants until its context ends.
type Checker struct {
	opts   Options
	pods   corelisters.PodLister
	podIdx cache.Indexer
	nodes  corelisters.NodeLister
	pgs    pglisters.PodGroupLister

	mu        sync.Mutex
	groups    map[podgroup.Key]*groupState
	deleted   map[types.UID]bool
	overNodes map[string]bool
	// heldOver is when each node began to be committed beyond its
	// allocatable counting reserved room.
	heldOver   map[string]time.Time
	idleSince  time.Time
	idleNamed  map[podgroup.Key]bool
	violations []Violation
	checks     int
	// withHeld counts the checks that found room held for members to come.
	withHeld int
	unjudged int
}

const groupIndex = "group"

// Start watches the cluster of client (and its PodGroups through pgs, if
// not nil) and checks until ctx ends.
func Start(ctx context.Context, client kubernetes.Interface, pgs pgclientset.Interface, opts Options) (*Checker, error) {
	if opts.PartialGrace == 0 {
		opts.PartialGrace = 90 * time.Second
	}
	if opts.IdleGrace == 0 {
		opts.IdleGrace = 60 * time.Second
	}
	if opts.Interval == 0 {
		opts.Interval = 250 * time.Millisecond
	}
	if opts.ReservationGrace == 0 {
		opts.ReservationGrace = 10 * time.Second
	}
	c := &Checker{opts: opts, groups: map[podgroup.Key]*groupState{}, deleted: map[types.UID]bool{},
		overNodes: map[string]bool{}, heldOver: map[string]time.Time{}, idleNamed: map[podgroup.Key]bool{}}
	factory := informers.NewSharedInformerFactory(client, 0)
	podInf := factory.Core().V1().Pods().Informer()
	if err := podInf.AddIndexers(cache.Indexers{groupIndex: func(obj interface{}) ([]string, error) {
		if key, ok := podgroup.KeyOf(obj.(*v1.Pod)); ok {
			return []string{keyString(key)}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, err
	}
	c.podIdx = podInf.GetIndexer()
	c.pods = factory.Core().V1().Pods().Lister()
	c.nodes = factory.Core().V1().Nodes().Lister()
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { c.observe(obj.(*v1.Pod)) },
		UpdateFunc: func(_, obj interface{}) { c.observe(obj.(*v1.Pod)) },
		DeleteFunc: c.deletedPod,
	}); err != nil {
		return nil, err
	}
	var pgFactory pginformers.SharedInformerFactory
	if pgs != nil {
		pgFactory = pginformers.NewSharedInformerFactory(pgs, 0)
		c.pgs = pgFactory.Scheduling().V1alpha1().PodGroups().Lister()
		pgFactory.Start(ctx.Done())
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("invariant: %v did not sync", typ)
		}
	}
	if pgFactory != nil {
		for typ, ok := range pgFactory.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return nil, fmt.Errorf("invariant: %v did not sync", typ)
			}
		}
	}
	go func() {
		t := time.NewTicker(opts.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				c.check(now)
			}
		}
	}()
	return c, nil
}

// ChecksWithReservations counts the checks that counted room some group
// held for members to come (see NodeOvercommitted).
func (c *Checker) ChecksWithReservations() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.withHeld
}

// Violations returns what was found so far, oldest first.
func (c *Checker) Violations() []Violation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Violation(nil), c.violations...)
}

// Checks returns how many rounds of the time-bound checks ran.
func (c *Checker) Checks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks
}

// Unjudged returns how many member deletions were seen only by a relist
// (a cut watch), without their final state, and so were not checked.
func (c *Checker) Unjudged() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unjudged
}

// Report renders the violations, one a line, or "none".
func (c *Checker) Report() string {
	vs := c.Violations()
	if len(vs) == 0 {
		return "none"
	}
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = v.String()
	}
	return strings.Join(lines, "\n")
}

func (c *Checker) violate(at time.Time, invariant, object, format string, args ...any) {
	c.violations = append(c.violations, Violation{At: at, Invariant: invariant, Object: object, Message: fmt.Sprintf(format, args...)})
}

func keyString(k podgroup.Key) string { return string(k.Kind) + "/" + k.Namespace + "/" + k.Name }

// member returns the group of a pod that asks for the checked scheduler.
func (c *Checker) member(p *v1.Pod) (podgroup.Key, bool) {
	if p.Spec.SchedulerName != c.opts.SchedulerName {
		return podgroup.Key{}, false
	}
	return podgroup.KeyOf(p)
}

// bound reports whether a pod holds (or held) a node for its group: bound,
// and not failed.
func bound(p *v1.Pod) bool { return p.Spec.NodeName != "" && p.Status.Phase != v1.PodFailed }

// terminated reports whether a pod's containers have ended.
func terminated(p *v1.Pod) bool {
	return p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed
}

// minimum returns how many members the group must hold at once: the
// PodGroup's minMember, or a Spark driver and its gang's executors; 0 when
// unknown (no PodGroup object, no driver yet).
func (c *Checker) minimum(key podgroup.Key, members []*v1.Pod) int {
	switch key.Kind {
	case podgroup.KindPodGroup:
		if c.pgs == nil {
			return 0
		}
		pg, err := c.pgs.PodGroups(key.Namespace).Get(key.Name)
		if err != nil {
			return 0
		}
		return int(pg.Spec.MinMember)
	case podgroup.KindSparkApp:
		for _, p := range members {
			if podgroup.IsSparkDriver(p) && p.DeletionTimestamp == nil {
				s := podgroup.SpecFromSparkDriver(p)
				return 1 + int(s.Executors)
			}
		}
	}
	return 0
}

func (c *Checker) membersOf(key podgroup.Key) []*v1.Pod {
	objs, _ := c.podIdx.ByIndex(groupIndex, keyString(key))
	out := make([]*v1.Pod, 0, len(objs))
	for _, o := range objs {
		if p := o.(*v1.Pod); p.Spec.SchedulerName == c.opts.SchedulerName {
			out = append(out, p)
		}
	}
	return out
}

// observe brings the group of p up to date: ran whole, or holding members
// short of its minimum since when.
func (c *Checker) observe(p *v1.Pod) {
	key, ok := c.member(p)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.updateGroupLocked(key, time.Now())
}

func (c *Checker) updateGroupLocked(key podgroup.Key, now time.Time) *groupState {
	members := c.membersOf(key)
	g := c.groups[key]
	if len(members) == 0 {
		delete(c.groups, key) // gone: a new incarnation starts afresh
		return nil
	}
	if g == nil {
		g = &groupState{}
		c.groups[key] = g
	}
	n := 0
	for _, p := range members {
		if bound(p) {
			n++
		}
	}
	minimum := c.minimum(key, members)
	switch {
	case g.whole:
	case minimum > 0 && n >= minimum:
		g.whole, g.partialSince = true, time.Time{}
	case n > 0 && minimum > 0:
		if g.partialSince.IsZero() {
			g.partialSince = now
		}
	default:
		g.partialSince, g.reported = time.Time{}, false
	}
	return g
}

// deletedPod checks that a member that went was ended by someone entitled
// to: it had ended, its owner went first, the scheduler marked it
// DisruptionTarget (preemption, or release of a group bound half-way), or
// Options.Owner claims it.
func (c *Checker) deletedPod(obj interface{}) {
	// A pod found gone by a relist (the watch was cut) has no final
	// state: whether it ended or was marked first is not known, and it is
	// counted, not judged.
	d, unknown := obj.(cache.DeletedFinalStateUnknown)
	if unknown {
		obj = d.Obj
	}
	p, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deleted[p.UID] = true
	key, ok := c.member(p)
	if !ok {
		return
	}
	g := c.groups[key]
	whole := g != nil && g.whole
	c.updateGroupLocked(key, now)
	if unknown {
		c.unjudged++
		return
	}
	if terminated(p) || (c.opts.Owner != nil && c.opts.Owner(p)) {
		return
	}
	if cond := disruption(p); cond != nil {
		if cond.Reason == podgroup.DisruptionReasonReleased && whole {
			c.violate(now, WholeGroupReleased, p.Namespace+"/"+p.Name,
				"deleted as a member of a group bound half-way (%s), but group %s had run whole", cond.Message, key)
		}
		return
	}
	if owner := metav1.GetControllerOf(p); owner != nil {
		if c.deleted[owner.UID] {
			return
		}
		if o, err := c.pods.Pods(p.Namespace).Get(owner.Name); owner.Kind == "Pod" && (err != nil || o.UID != owner.UID) {
			return
		}
	}
	state := "pending"
	if p.Spec.NodeName != "" {
		state = "bound to " + p.Spec.NodeName + ", " + string(p.Status.Phase)
	}
	c.violate(now, UnexplainedDeletion, p.Namespace+"/"+p.Name,
		"member of %s deleted while %s, with no DisruptionTarget condition and its owner in place", key, state)
}

func disruption(p *v1.Pod) *v1.PodCondition {
	for i := range p.Status.Conditions {
		if cond := &p.Status.Conditions[i]; cond.Type == v1.DisruptionTarget && cond.Status == v1.ConditionTrue {
			return cond
		}
	}
	return nil
}

// check runs the time-bound invariants and the overcommit check.
func (c *Checker) check(now time.Time) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks++

	// Partial groups.
	keys := map[podgroup.Key]bool{}
	for _, p := range pods {
		if key, ok := c.member(p); ok {
			keys[key] = true
		}
	}
	for key := range c.groups {
		keys[key] = true
	}
	for _, key := range sortedKeys(keys) {
		g := c.updateGroupLocked(key, now)
		if g == nil || g.whole || g.partialSince.IsZero() || g.reported || now.Sub(g.partialSince) < c.opts.PartialGrace {
			continue
		}
		g.reported = true
		members := c.membersOf(key)
		n := 0
		for _, p := range members {
			if bound(p) {
				n++
			}
		}
		c.violate(now, PartialGroup, key.String(), "%d/%d members bound for %s, and it never ran whole",
			n, c.minimum(key, members), now.Sub(g.partialSince).Round(time.Second))
	}

	// Overcommitted nodes, and whether anything is bound at all.
	used := map[string]resources.List{}
	busy := false
	for _, p := range pods {
		if p.Spec.NodeName == "" || terminated(p) {
			continue
		}
		busy = true
		u := used[p.Spec.NodeName]
		if u == nil {
			u = resources.List{}
			used[p.Spec.NodeName] = u
		}
		u.Add(resources.PodRequests(p))
	}
	held, holders := c.reservedLocked(pods, now)
	if len(held) > 0 {
		c.withHeld++
	}
	var maxNode resources.List
	total := resources.List{}
	for _, n := range nodes {
		alloc := resources.FromResourceList(n.Status.Allocatable)
		if _, ok := alloc[resources.Pods]; !ok {
			alloc[resources.Pods] = 110 // kubelet's default --max-pods
		}
		total.Add(alloc)
		if maxNode == nil || maxNode.Fits(alloc) {
			maxNode = alloc
		}
		u := used[n.Name]
		over := u != nil && !u.Fits(alloc)
		if over && !c.overNodes[n.Name] {
			c.violate(now, NodeOvercommitted, n.Name, "bound pods request %s of allocatable %s", u, alloc)
		}
		c.overNodes[n.Name] = over
		r := held[n.Name]
		committed := resources.List{}
		committed.Add(u)
		committed.Add(r)
		switch since, seen := c.heldOver[n.Name]; {
		case over || r == nil || committed.Fits(alloc):
			delete(c.heldOver, n.Name)
		case !seen:
			c.heldOver[n.Name] = now
		case !since.IsZero() && now.Sub(since) >= c.opts.ReservationGrace:
			c.heldOver[n.Name] = time.Time{} // reported
			c.violate(now, NodeOvercommitted, n.Name, "bound pods request %s and groups hold %s for members to come (%s), for %s, of allocatable %s",
				u, r, strings.Join(holders[n.Name], ", "), now.Sub(since).Round(time.Second), alloc)
		}
	}

	// Admissible groups waiting on an idle cluster.
	if busy || len(nodes) == 0 {
		c.idleSince = time.Time{}
		clear(c.idleNamed)
		return
	}
	if c.idleSince.IsZero() {
		c.idleSince = now
	}
	if now.Sub(c.idleSince) < c.opts.IdleGrace {
		return
	}
	for _, key := range sortedKeys(keys) {
		if c.idleNamed[key] {
			continue
		}
		need := resources.List{}
		waiting := 0
		fits := true
		for _, p := range c.membersOf(key) {
			if p.Spec.NodeName != "" || p.DeletionTimestamp != nil || terminated(p) || len(p.Spec.SchedulingGates) > 0 {
				continue
			}
			waiting++
			r := resources.PodRequests(p)
			fits = fits && r.Fits(maxNode)
			need.Add(r)
		}
		if waiting == 0 || !fits || !need.Fits(total) {
			continue
		}
		c.idleNamed[key] = true
		c.violate(now, IdleGroupNotAdmitted, key.String(), "%d members wait for %s on a cluster with nothing bound, which holds %s",
			waiting, now.Sub(c.idleSince).Round(time.Second), total)
	}
}

// reservedLocked returns the room running groups hold for members to come,
// by node, as their objects record it (AnnotationReservation, written with
// the quorum record and the deadline), and which groups hold it. A record
// counts until its deadline, while every member it names as placed together
// is still bound and running: a group released, preempted or done holds
// nothing. Members bound since took their room from it, on their own node
// first; what they took beyond it is taken off every other node, so the
// room counted is the least the scheduler may hold on each.
func (c *Checker) reservedLocked(pods []*v1.Pod, now time.Time) (map[string]resources.List, map[string][]string) {
	type record struct {
		key         podgroup.Key
		annotations map[string]string
	}
	var records []record
	for _, p := range pods {
		if key, ok := c.member(p); ok && key.Kind == podgroup.KindSparkApp && podgroup.IsSparkDriver(p) {
			records = append(records, record{key, p.Annotations})
		}
	}
	if c.pgs != nil {
		pgs, _ := c.pgs.List(labels.Everything())
		for _, pg := range pgs {
			records = append(records, record{podgroup.Key{Kind: podgroup.KindPodGroup, Namespace: pg.Namespace, Name: pg.Name}, pg.Annotations})
		}
	}
	held, holders := map[string]resources.List{}, map[string][]string{}
	for _, r := range records {
		until, err := time.Parse(time.RFC3339, r.annotations[podgroup.AnnotationReservedUntil])
		if err != nil || !now.Before(until) {
			continue
		}
		room, err := podgroup.ParseReservation(r.annotations[podgroup.AnnotationReservation])
		if err != nil || len(room) == 0 {
			continue
		}
		_, quorum, ok := podgroup.ParseQuorum(r.annotations[podgroup.AnnotationQuorum])
		if !ok {
			continue
		}
		members := map[types.UID]*v1.Pod{}
		for _, p := range c.membersOf(r.key) {
			members[p.UID] = p
		}
		intact := true
		for _, uid := range quorum {
			p := members[uid]
			intact = intact && p != nil && p.Spec.NodeName != "" && p.DeletionTimestamp == nil && !terminated(p)
			delete(members, uid)
		}
		if !intact {
			continue
		}
		overflow := resources.List{}
		for _, p := range members {
			if p.Spec.NodeName == "" || terminated(p) {
				continue
			}
			need := resources.PodRequests(p)
			if own := room[p.Spec.NodeName]; own != nil {
				take := need.Min(own).NonNegative()
				own.Sub(take)
				need.Sub(take)
			}
			overflow.Add(need.NonNegative())
		}
		for node, left := range room {
			rest := left.Clone()
			rest.Sub(overflow)
			rest = rest.NonNegative()
			if rest.IsZero() {
				continue
			}
			if held[node] == nil {
				held[node] = resources.List{}
			}
			held[node].Add(rest)
			holders[node] = append(holders[node], r.key.String())
		}
	}
	return held, holders
}

func sortedKeys(m map[podgroup.Key]bool) []podgroup.Key {
	out := make([]podgroup.Key, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return keyString(out[i]) < keyString(out[j]) })
	return out
}
