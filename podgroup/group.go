package podgroup

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"

	schedv1beta1 "k8s.io/api/scheduling/v1beta1"

	"github.com/gangsched/gangsched/resources"
)

// Phase is where a group stands in gangsched's state machine.
type Phase string

const (
	// PhasePending: not admitted; no member may hold resources.
	PhasePending Phase = "Pending"
	// PhaseAdmitted: the whole group was planned on actual nodes and its room
	// reserved; members are being placed and wait in Permit until MinMember
	// of them are placed.
	PhaseAdmitted Phase = "Admitted"
	// PhaseRunning: MinMember members are placed; room for members not yet
	// created stays reserved until they bind or the reservation times out.
	PhaseRunning Phase = "Running"
	// PhaseFinished: every member ended and at least MinMember succeeded.
	PhaseFinished Phase = "Finished"
	// PhaseFailed: every member ended and fewer than MinMember succeeded.
	PhaseFailed Phase = "Failed"
)

// memberState is what the scheduler has done with one member pod.
type memberState int

const (
	// memberPending: not placed.
	memberPending memberState = iota
	// memberAssumed: placed by the scheduler (Reserve), not yet bound.
	memberAssumed
	// memberBound: spec.nodeName is set.
	memberBound
	// memberDone: the pod Succeeded or Failed, or is being deleted.
	memberDone
)

// member is one pod of a group.
type member struct {
	pod *v1.Pod
	// requests is the pod's resource requests, computed once per update
	// (read only: the fair share and planning sum it on every cycle).
	requests resources.List
	state    memberState
	// node is where the member was last assumed: its pod shows it only
	// once bound.
	node string
	// taken is the room this member took from the group's reservation, by
	// node, so that Unreserve can give exactly that back.
	taken map[string]resources.List
}

func (mb *member) live() bool { return mb.state != memberDone }

func (mb *member) placed() bool {
	return mb.state == memberAssumed || mb.state == memberBound ||
		(mb.state == memberDone && mb.pod.Status.Phase == v1.PodSucceeded)
}

// Group is the state of one pod group. Only the Manager touches it, under its lock.
type Group struct {
	key Key
	// podGroup is the PodGroup object (KindPodGroup; nil while missing), or
	// the view of upstream (podGroupView) for KindSchedulingPodGroup.
	podGroup *schedv1alpha1.PodGroup
	// upstream is the scheduling.k8s.io PodGroup (KindSchedulingPodGroup
	// only; nil while missing).
	upstream *schedv1beta1.PodGroup
	// driver is the Spark driver pod (KindSparkApp only; nil while unseen).
	driver *v1.Pod
	// declarer is the executor whose annotations gave spec, for a Spark
	// app in client mode (no driver pod; see SpecFromSparkExecutor).
	declarer *v1.Pod
	spec     Spec
	members  map[types.UID]*member
	phase    Phase

	// scheduleStart is when the group was first considered for admission;
	// pendingSince when it last started waiting for it.
	scheduleStart time.Time
	pendingSince  time.Time
	// failure remembers the last failed admission, so that the group's other
	// members need not plan again while nothing has changed.
	failure *admissionFailure

	// The group's sub-states, each with its own fields (promoted, so
	// g.reserved reads the reservation's):
	reservation
	preemption
	drain
	recovery

	// lastEvent is the message of the last Event recorded for the group, to
	// record one Event per change, not per attempt.
	lastEvent string
	// waitMessage is why the group's last admission attempt turned it away
	// ("" once admitted), for the conditions of a scheduling.k8s.io PodGroup.
	waitMessage string
	// published is the queueOrder last published for the group.
	published queueOrder
	// tally is what the group was last counted as in the queues' usage.
	tally tally
}

// reservation is an admitted group's hold on the cluster: its plan and the
// room it keeps for members until they are placed.
type reservation struct {
	// admitted is when the current admission was made.
	admitted time.Time
	// deadline is when an Admitted group without quorum is released, or when
	// a Running group's remaining reservation expires.
	deadline time.Time
	// reserved is the room still held for the group, by node, since
	// reservedSince.
	reserved      map[string]resources.List
	reservedSince time.Time
	// planned is the node the admission plan chose for each pending member.
	planned map[types.UID]string
	// domain is the "label=value" of the topology domain the group was
	// admitted in; empty when it has no topology or was spread.
	domain string
}

// preemption is a group making room by evicting others.
type preemption struct {
	// victims are the pods preempted to make room for this group, with
	// their eviction (issued again every evictRetry from evicted); its
	// members are placed once they are gone.
	victims map[types.UID]Deletion
	evicted time.Time
	// evicting is set while the group is being preempted.
	evicting bool
}

// drain is a starving group's claim on nodes as they empty (see
// drainLocked).
type drain struct {
	// draining is set while the group holds a drain reservation.
	draining bool
	// drainTried is when the timer last tried the group for a drain
	// reservation; drainFit whether it fits the cluster drained.
	drainTried time.Time
	drainFit   drainFit
}

// recovery is what the group needs to survive a scheduler restart, lost
// nodes and members that came larger than declared.
type recovery struct {
	// restoreUntil is the reservation deadline a previous scheduler
	// instance left on the group's object, until Restore takes it up;
	// handled is set once this instance admitted the group or restored its
	// reservation, after which the annotation is its own.
	restoreUntil time.Time
	handled      bool
	// restoreRoom is the room by node the previous instance recorded
	// (AnnotationReservation), which Restore takes up again where it is
	// still free.
	restoreRoom map[string]resources.List
	// restoreDomain is the topology domain the previous instance recorded
	// (AnnotationDomain), which Restore keeps the group in.
	restoreDomain string
	// partialDeadline is when a pending group found with members bound
	// but not all of MinMember is released whole, bound members deleted,
	// unless the rest is placed by then (see observeBoundLocked).
	partialDeadline time.Time
	// lostNodes are deleted nodes the group held room on, until Restore
	// plans that room again.
	lostNodes []string
	lost      resources.List
	// resized says which member came larger than declared, until Restore
	// plans the reservation again for members of its size.
	resized string
	// unpersisted is what is not yet written on the group's object (see
	// Manager.Unpersisted); record is the quorum record, this instance's
	// or one found on the object (AnnotationQuorum).
	unpersisted *Persist
	record      *quorumRecord
}

type admissionFailure struct {
	generation uint64
	nodes      uint64
	members    int
	message    string
}

// invalidMessage says which fields of the group's declaration are wrong.
func (g *Group) invalidMessage() string {
	return fmt.Sprintf("pod group %s is invalid: %s", g.key, g.spec.Errs.ToAggregate())
}

// counts returns how many members exist (live), and how many are placed.
func (g *Group) counts() (live, placed int) {
	for _, mb := range g.members {
		if mb.live() {
			live++
		}
		if mb.placed() {
			placed++
		}
	}
	return live, placed
}

// onNodes returns how many live members are bound, and whether the group
// ran whole: MinMember of its members are placed or failed on a node (a
// member that failed and is being replaced leaves such a trace; one being
// deleted does not count), its PodGroup's status says Running (observed
// by an earlier scheduler), or its quorum record is of this run and names
// no member still pending (the members it lacks were lost after binding).
func (g *Group) onNodes() (bound int, ranWhole bool) {
	ran := 0
	for _, mb := range g.members {
		if mb.state == memberBound {
			bound++
		}
		if mb.placed() || (mb.pod.Status.Phase == v1.PodFailed && mb.pod.Spec.NodeName != "") {
			ran++
		}
	}
	current, interrupted := g.recordState()
	ranWhole = int32(ran) >= g.spec.MinMember ||
		(g.podGroup != nil && g.podGroup.Status.Phase == schedv1alpha1.PodGroupRunning) ||
		(current && !interrupted)
	return bound, ranWhole
}

// pendingPods lists the members not placed yet, by UID.
func (g *Group) pendingPods() []*v1.Pod {
	var pods []*v1.Pod
	for _, uid := range sortedUIDs(g.members) {
		if mb := g.members[uid]; mb.state == memberPending {
			pods = append(pods, mb.pod)
		}
	}
	return pods
}

// creationTime orders groups: the PodGroup's creation, or the Spark driver's.
func (g *Group) creationTime() time.Time {
	switch {
	case g.podGroup != nil:
		return g.podGroup.CreationTimestamp.Time
	case g.driver != nil:
		return g.driver.CreationTimestamp.Time
	}
	return time.Time{}
}

// reservedTotal sums the reservation over all nodes.
func (g *Group) reservedTotal() resources.List {
	total := resources.List{}
	for _, r := range g.reserved {
		total.Add(r)
	}
	return total
}

// declaredShape is what the group declares one member not yet created
// requests: the spec's MemberRequests, else its Spark driver's
// executor-requests annotation; nil when neither is declared.
func (g *Group) declaredShape() resources.List {
	if g.spec.MemberRequests != nil {
		return g.spec.MemberRequests
	}
	if g.driver != nil {
		if s := SpecFromSparkDriver(g.driver); s.Valid() && s.MemberRequests != nil {
			return s.MemberRequests
		}
	}
	return nil
}

// realShape is what the newest live member that is not a Spark driver
// requests, when it requests anything (memberTemplate's member); nil
// otherwise. Once such a member exists, members to come are taken to be
// its size: the real pod wins over the declaration.
func (g *Group) realShape() resources.List {
	t := g.memberTemplate()
	if t.UID == "" || g.members[t.UID] == nil {
		return nil
	}
	req := g.members[t.UID].requests
	if withoutPods(req).IsZero() {
		return nil
	}
	return req.Clone()
}

// withoutPods returns a copy of l without the pod count.
func withoutPods(l resources.List) resources.List {
	out := l.Clone()
	delete(out, resources.Pods)
	return out
}

// placedExecutors counts the live placed members that are not the Spark
// driver.
func (g *Group) placedExecutors() int {
	n := 0
	for _, mb := range g.members {
		if mb.live() && mb.placed() && !IsSparkDriver(mb.pod) {
			n++
		}
	}
	return n
}

// liveExecutors counts the live members that are not the Spark driver.
func (g *Group) liveExecutors() int {
	n := 0
	for _, mb := range g.members {
		if mb.live() && !IsSparkDriver(mb.pod) {
			n++
		}
	}
	return n
}

// beyondReservation is what the pending members of an admitted group
// request beyond the room still reserved for it: members the gang did not
// count (executors dynamic allocation adds), which hold nothing until
// placed.
func (g *Group) beyondReservation() resources.List {
	pending := resources.List{}
	for _, mb := range g.members {
		if mb.state == memberPending {
			pending.Add(mb.requests)
		}
	}
	if pending.IsZero() {
		return nil
	}
	pending.Sub(g.reservedTotal())
	pending = pending.NonNegative()
	delete(pending, resources.Pods)
	if pending.IsZero() {
		return nil
	}
	return pending
}

// gangCount is how many members make the group whole: MinMember, and for
// a Spark app its driver and the executors it declares.
func (g *Group) gangCount() int {
	n := int(g.spec.MinMember)
	if g.key.Kind == KindSparkApp {
		spark := int(g.spec.Executors)
		if g.driver != nil {
			spark++
		}
		n = max(n, spark)
	}
	return n
}

// extras lists the placed members of a running group beyond its gang,
// newest first: those it can lose and still hold gangCount members and its
// MinResources, its Spark driver kept. They are what grew the group past
// its minimum (Spark's dynamic allocation), and preemption takes them
// before whole groups.
func (g *Group) extras() []*member {
	if g.phase != PhaseRunning || len(g.reserved) > 0 {
		return nil
	}
	var placed []*member
	kept := resources.List{}
	for _, mb := range g.members {
		if mb.live() && mb.placed() {
			placed = append(placed, mb)
			kept.Add(mb.requests)
		}
	}
	count := len(placed)
	if count <= g.gangCount() {
		return nil
	}
	// Newest first: creation times have seconds, and Spark numbers its
	// executors in the order it asks for them.
	slices.SortFunc(placed, func(a, b *member) int {
		return cmp.Or(b.pod.CreationTimestamp.Compare(a.pod.CreationTimestamp.Time),
			cmp.Compare(execID(b.pod), execID(a.pod)), cmp.Compare(b.pod.Name, a.pod.Name))
	})
	var out []*member
	for _, mb := range placed {
		if count <= g.gangCount() {
			break
		}
		if IsSparkDriver(mb.pod) {
			continue
		}
		left := kept.Clone()
		left.Sub(mb.requests)
		if !withoutPods(g.spec.MinResources).Fits(left) {
			continue
		}
		out = append(out, mb)
		kept, count = left, count-1
	}
	return out
}

// execID is a Spark executor's number (LabelSparkExecID), or -1.
func execID(pod *v1.Pod) int64 {
	if n, err := strconv.ParseInt(pod.Labels[LabelSparkExecID], 10, 64); err == nil {
		return n
	}
	return -1
}
