package podgroup

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/queue"
	"github.com/gangsched/gangsched/resources"
)

// SetQueues replaces the queue tree with one built from queues. Invalid
// queues get an Event; every queue's status is to be written again; pending
// groups are activated, since limits and shares may have changed.
func (m *Manager) SetQueues(queues []*v1alpha1.Queue) Actions {
	m.mu.Lock()
	defer m.unlock()
	var acts Actions
	m.tree = queue.Build(queues)
	m.recountLocked()
	old := m.queueObjs
	m.queueObjs = map[queue.Name]*v1alpha1.Queue{}
	for _, q := range queues {
		name := queue.Name(q.Name)
		m.queueObjs[name] = q
		n := m.tree.Get(name)
		if !n.Valid() {
			msg := fmt.Sprintf("queue %s is invalid and admits nothing: %s", name, n.Errs.ToAggregate())
			if m.queueEvents[name] != msg {
				acts.Events = append(acts.Events, Event{Object: q, Type: v1.EventTypeWarning, Reason: ReasonInvalid, Message: msg})
			}
			m.queueEvents[name] = msg
		} else {
			delete(m.queueEvents, name)
		}
		acts.Queues = append(acts.Queues, name)
	}
	for name := range old {
		if _, ok := m.queueObjs[name]; !ok {
			delete(m.queueEvents, name)
		}
	}
	for _, key := range sortedKeys(m.groups) {
		if g := m.groups[key]; g.phase == PhasePending {
			acts.Activate = append(acts.Activate, g.pendingPods()...)
			g.failure = nil
		}
	}
	return acts
}

// UpsertNode records a node's allocatable resources, whose sum over the
// nodes that take pods is the capacity the queues share. A node that is
// cordoned or newly tainted NoSchedule/NoExecute may no longer admit the
// members its reserved room is for: the next scheduling cycle checks
// (checkDisturbedLocked).
func (m *Manager) UpsertNode(node *v1.Node) {
	m.mu.Lock()
	defer m.unlock()
	alloc := resources.FromResourceList(node.Status.Allocatable)
	if old, ok := m.nodeAllocatable[node.Name]; !ok || !old.Equal(alloc) {
		m.nodeAllocatable[node.Name] = alloc
		m.capacity = nil
	}
	if closed := node.Spec.Unschedulable; closed != m.closedNodes[node.Name] {
		if closed {
			m.closedNodes[node.Name] = true
		} else {
			delete(m.closedNodes, node.Name)
		}
		m.capacity = nil
	}
	if taints := blockingTaints(node); taints != m.nodeTaints[node.Name] || node.Spec.Unschedulable {
		if (taints != "" || node.Spec.Unschedulable) && m.reservedOnNodeLocked(node.Name) {
			m.disturbLocked(node.Name, ReservationNodeClosed)
		}
		if taints == "" {
			delete(m.nodeTaints, node.Name)
		} else {
			m.nodeTaints[node.Name] = taints
		}
	}
	delete(m.deletedNodes, node.Name)
}

// blockingTaints renders the node's NoSchedule and NoExecute taints, to
// tell when they change.
func blockingTaints(node *v1.Node) string {
	var b strings.Builder
	for _, t := range node.Spec.Taints {
		if t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute {
			fmt.Fprintf(&b, "%s=%s:%s;", t.Key, t.Value, t.Effect)
		}
	}
	return b.String()
}

// DeleteNode forgets a node, and the room groups reserved on it (see
// nodeGoneLocked).
func (m *Manager) DeleteNode(node *v1.Node) Actions {
	m.mu.Lock()
	defer m.unlock()
	var acts Actions
	delete(m.nodeAllocatable, node.Name)
	delete(m.closedNodes, node.Name)
	delete(m.nodeTaints, node.Name)
	m.capacity = nil
	m.nodeGoneLocked(node.Name, &acts)
	return acts
}

// capacityLocked is what the queues share: the allocatable resources of
// the nodes that take pods (not cordoned), less what pods of other
// schedulers use there.
func (m *Manager) capacityLocked() resources.List {
	if m.capacity == nil {
		m.capacity = resources.List{}
		for name, a := range m.nodeAllocatable {
			if m.closedNodes[name] {
				continue
			}
			left := a.Clone()
			left.Sub(m.foreignUse[name])
			m.capacity.Add(left.NonNegative())
		}
		delete(m.capacity, resources.Pods)
	}
	return m.capacity
}

// queueOfLocked returns the queue a group is admitted through: the
// gangsched.io/queue label of its PodGroup, else of its Spark driver, else
// the queue that owns its namespace, else the default queue.
func (m *Manager) queueOfLocked(g *Group) queue.Name {
	if g.podGroup != nil {
		if q := g.podGroup.Labels[v1alpha1.QueueLabel]; q != "" {
			return queue.Name(q)
		}
	}
	if g.driver != nil {
		if q := g.driver.Labels[v1alpha1.QueueLabel]; q != "" {
			return queue.Name(q)
		}
	}
	if q, ok := m.tree.NamespaceQueue(g.key.Namespace); ok {
		return q
	}
	return v1alpha1.DefaultQueue
}

// priority is the highest priority among the group's live members.
func (g *Group) priority() int32 {
	p, any := int32(0), false
	for _, mb := range g.members {
		if mb.live() {
			if pp := podPriority(mb.pod); !any || pp > p {
				p, any = pp, true
			}
		}
	}
	return p
}

func podPriority(pod *v1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// demand is what the whole group needs once admitted: its live members and
// the part of MinResources they do not cover.
func (g *Group) demand() resources.List {
	covered := resources.List{}
	for _, mb := range g.members {
		if mb.live() {
			covered.Add(mb.requests)
		}
	}
	if g.spec.MinResources != nil {
		rem := g.spec.MinResources.Clone()
		rem.Sub(covered)
		covered.Add(rem.NonNegative())
	}
	delete(covered, resources.Pods)
	return covered
}

// holding is what an admitted group holds: its placed live members and its
// reserved room.
func (g *Group) holding() resources.List {
	h := g.reservedTotal()
	for _, mb := range g.members {
		if mb.live() && mb.placed() {
			h.Add(mb.requests)
		}
	}
	delete(h, resources.Pods)
	return h
}

// fairness is the queues' state at one moment: what each holds and waits
// for, its fair share, and how far below it it is.
type fairness struct {
	tree      *queue.Tree
	allocated map[queue.Name]resources.List // subtree sums
	pending   map[queue.Name]resources.List
	admitted  map[queue.Name]int32
	waiting   map[queue.Name]int32
	shares    map[queue.Name]resources.List
	// queueOf names the queue a group is admitted through.
	queueOf func(Key) queue.Name
	// dominant memoizes each queue's DominantShare, read by every
	// comparison of groups.
	dominant map[queue.Name]float64
}

// fairnessLocked takes stock of the queues, from the sums kept over the
// groups' tallies (countLocked), and computes fair shares.
func (m *Manager) fairnessLocked() *fairness {
	u := m.usage
	return &fairness{
		tree:      m.tree,
		allocated: cloneSums(u.allocated),
		pending:   cloneSums(u.pending),
		admitted:  maps.Clone(u.admitted),
		waiting:   maps.Clone(u.waiting),
		shares:    m.tree.FairShares(m.capacityLocked(), u.demand),
		queueOf: func(key Key) queue.Name {
			if g := m.groups[key]; g != nil {
				return m.queueOfLocked(g)
			}
			return ""
		},
	}
}

// cloneSums copies per-queue sums, so a fairness stays as taken while the
// groups change.
func cloneSums(sums map[queue.Name]resources.List) map[queue.Name]resources.List {
	out := make(map[queue.Name]resources.List, len(sums))
	for q, l := range sums {
		out[q] = l.Clone()
	}
	return out
}

// dominantShare is q's standing's DominantShare (queue.Compare's order),
// computed once.
func (f *fairness) dominantShare(q queue.Name) float64 {
	if d, ok := f.dominant[q]; ok {
		return d
	}
	if f.dominant == nil {
		f.dominant = map[queue.Name]float64{}
	}
	d := f.standing(q).DominantShare()
	f.dominant[q] = d
	return d
}

// standing is where queue q stands against its fair share.
func (f *fairness) standing(q queue.Name) queue.Standing {
	return queue.Standing{Allocated: f.allocated[q], Share: f.shares[q]}
}

// compare orders pending groups for admission: the queue furthest below its
// fair share first, then higher priority, then the older group, then by key.
func (f *fairness) compare(a, b *Group) int {
	if c := cmp.Compare(f.dominantShare(f.queueOf(a.key)), f.dominantShare(f.queueOf(b.key))); c != 0 {
		return c
	}
	if c := cmp.Compare(b.priority(), a.priority()); c != 0 {
		return c
	}
	if c := a.creationTime().Compare(b.creationTime()); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.key.Namespace, b.key.Namespace), cmp.Compare(a.key.Name, b.key.Name), cmp.Compare(a.key.Kind, b.key.Kind))
}

// queueCheckLocked says why the queue does not let g in, or "": the queue
// must exist, be valid and be a leaf, and g must fit under the max of the
// queue and of every queue above it.
func (m *Manager) queueCheckLocked(g *Group, f *fairness) string {
	name := f.queueOf(g.key)
	n := m.tree.Get(name)
	switch {
	case n == nil:
		return fmt.Sprintf("queue %s not found: create it or set label %s to an existing queue", name, v1alpha1.QueueLabel)
	case !n.Valid():
		return fmt.Sprintf("queue %s is invalid: %s", name, n.Errs.ToAggregate())
	case !n.IsLeaf():
		return fmt.Sprintf("queue %s has child queues: groups go to leaf queues", name)
	}
	return m.maxCheckLocked(n, g.demand(), f)
}

// maxCheckLocked says which queue, of n and those above it, need would
// take over its max, or "".
func (m *Manager) maxCheckLocked(n *queue.Node, need resources.List, f *fairness) string {
	for _, a := range n.Ancestry() {
		if a.Max == nil {
			continue
		}
		after := f.allocated[a.Name].Clone()
		after.Add(need)
		for _, res := range need.Names() {
			if mx, capped := a.Max[res]; capped && after[res] > mx {
				return fmt.Sprintf("queue %s is at its max: holds %s %s of max %s, the group needs %s %s more",
					a.Name, res, resources.Format(res, f.allocated[a.Name][res]), resources.Format(res, mx), res, resources.Format(res, need[res]))
			}
		}
	}
	return ""
}

// shareCheck says which queue, of n and those above it, need would take
// beyond its fair share while queue waiting waits for room, or "". It
// holds back what grows a running group past its gang (executors of
// Spark's dynamic allocation): they hold no reservation, and take only
// room no other queue is entitled to. With no other queue waiting
// (waiting ""), a queue's fair share is all it asks for, up to its max.
func shareCheck(n *queue.Node, need resources.List, f *fairness, waiting queue.Name) string {
	if waiting == "" {
		return ""
	}
	for _, a := range n.Ancestry() {
		st := f.standing(a.Name)
		if !st.With(need).OverOn(need) {
			continue
		}
		for _, res := range need.Names() {
			if after := st.Allocated[res] + need[res]; need[res] > 0 && after > st.Share[res] {
				return fmt.Sprintf("queue %s is at its fair share while queue %s waits: holds %s %s of its share of %s, the member needs %s %s more",
					a.Name, waiting, res, resources.Format(res, st.Allocated[res]), resources.Format(res, st.Share[res]), res, resources.Format(res, need[res]))
			}
		}
	}
	return ""
}

// waitingQueueLocked names the first queue other than own, by name, that
// waits for room, or "": one with members beyond a gang waiting, or with a
// waiting group that only room holds back (roomWouldAdmitLocked). A queue
// whose groups wait for their members, their PodGroup, their queue's max
// or their namespace's quota holds no other queue's apps back from
// growing: the room they would leave would serve nobody.
func (m *Manager) waitingQueueLocked(own queue.Name, f *fairness) queue.Name {
	var waiting queue.Name
	for q, l := range m.usage.beyond {
		if q != own && !l.IsZero() && (waiting == "" || q < waiting) {
			waiting = q
		}
	}
	for _, g := range m.waitingGroups {
		if q := f.queueOf(g.key); q != own && (waiting == "" || q < waiting) && m.roomWouldAdmitLocked(g, f) {
			waiting = q
		}
	}
	return waiting
}

// roomWouldAdmitLocked reports whether room alone keeps a waiting group
// out: it is declared, valid and complete, and its queue and its
// namespace's quotas let it in. A group backing off after a release
// counts: it is tried again soon.
func (m *Manager) roomWouldAdmitLocked(g *Group, f *fairness) bool {
	if g.phase != PhasePending || !g.spec.Valid() || (g.key.Kind != KindSparkApp && g.podGroup == nil) {
		return false
	}
	if live, _ := g.counts(); int32(live) < g.spec.MinMember || len(g.pendingPods()) == 0 {
		return false
	}
	return m.queueCheckLocked(g, f) == "" && m.quotaCheckLocked(g) == ""
}

// eligibleLocked reports whether a pending group could be admitted if it
// fit: declared, valid, complete, not backing off, and let in by its queue
// and its namespace's quotas.
func (m *Manager) eligibleLocked(g *Group, f *fairness) bool {
	if r, ok := m.retry[g.key]; ok && m.clock.Now().Before(r.at) {
		return false
	}
	return m.roomWouldAdmitLocked(g, f)
}

// maxAhead bounds how many groups ahead of a group Admit plans, to keep an
// admission attempt cheap.
const maxAhead = 4

// aheadLocked lists the eligible pending groups that come before g in fair
// order and should get the room first: the head of every queue, and the
// groups of g's own queue, that compare before g; at most maxAhead, in
// order.
func (m *Manager) aheadLocked(g *Group, f *fairness) []*Group {
	own := f.queueOf(g.key)
	heads := map[queue.Name]*Group{}
	var ahead []*Group
	// f.compare is a total order (it ends with the key), so the map's
	// order does not show in the result. It is cheaper than eligibility,
	// and most waiting groups come after g (the scheduling queue pops the
	// older group first), so it goes first.
	for key, h := range m.waitingGroups {
		if h == g || f.compare(h, g) >= 0 || !m.eligibleLocked(h, f) {
			continue
		}
		q := f.queueOf(key)
		if q == own {
			ahead = append(ahead, h)
			continue
		}
		if cur := heads[q]; cur == nil || f.compare(h, cur) < 0 {
			heads[q] = h
		}
	}
	for _, h := range heads {
		ahead = append(ahead, h)
	}
	slices.SortFunc(ahead, f.compare)
	if len(ahead) > maxAhead {
		ahead = ahead[:maxAhead]
	}
	return ahead
}

// QueueStatus returns the status a Queue should show and the Queue it
// belongs on; ok is false for a queue the Manager does not know.
func (m *Manager) QueueStatus(name queue.Name) (*v1alpha1.Queue, v1alpha1.QueueStatus, bool) {
	m.mu.Lock()
	defer m.unlock()
	q := m.queueObjs[name]
	if q == nil {
		return nil, v1alpha1.QueueStatus{}, false
	}
	f := m.fairnessLocked()
	st := *q.Status.DeepCopy()
	st.Allocated = f.allocated[name].ToResourceList()
	st.Pending = f.pending[name].ToResourceList()
	st.FairShare = f.shares[name].ToResourceList()
	borrowed := f.allocated[name].Clone()
	borrowed.Sub(f.shares[name])
	st.Borrowed = borrowed.NonNegative().ToResourceList()
	st.AdmittedGroups, st.PendingGroups = f.admitted[name], f.waiting[name]
	cond := metav1.Condition{Type: v1alpha1.ConditionValid, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonValid,
		Message: "queue admits groups", ObservedGeneration: q.Generation}
	if n := m.tree.Get(name); n != nil && !n.Valid() {
		cond.Status, cond.Reason = metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec
		cond.Message = strings.TrimSpace(n.Errs.ToAggregate().Error())
	}
	meta.SetStatusCondition(&st.Conditions, cond)
	return q, st, true
}

// QueueNames lists the queues the Manager knows.
func (m *Manager) QueueNames() []queue.Name {
	m.mu.RLock()
	defer m.mu.RUnlock()
	names := make([]queue.Name, 0, len(m.queueObjs))
	for n := range m.queueObjs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
