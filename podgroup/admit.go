package podgroup

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/gangsched/gangsched/metrics"
	"github.com/gangsched/gangsched/resources"
)

// Admission is the outcome of Admit for one pod.
type Admission struct {
	// Key is the pod's group; InGroup is false for a pod in no group.
	Key     Key
	InGroup bool
	// Admitted: the group is admitted and the pod may be placed.
	Admitted bool
	// Message says why not.
	Message string
	// NoRoom is set when the group was turned away only for lack of room,
	// which preemption may make.
	NoRoom bool
	Actions
}

// Nodes is the scheduler's view of the nodes in one scheduling cycle.
type Nodes interface {
	// Version changes whenever the room or the constraints of any node
	// change (kube-scheduler's NodeInfo generations give it).
	Version() uint64
	// Rooms lists the nodes; it is called only when a plan is needed.
	Rooms() []NodeRoom
	// Pods lists the pods on each node, for preemption.
	Pods() map[string][]*v1.Pod
}

// Admit is the admission check, run for a group member at the start of its
// scheduling cycle. A pending group is admitted only if the whole group
// (existing members and members not yet created) fits on nodes at once,
// after the room reserved by other groups; its room is then reserved.
func (m *Manager) Admit(logger klog.Logger, pod *v1.Pod, nodes Nodes) Admission {
	key, ok := KeyOf(pod)
	if !ok {
		return Admission{}
	}
	m.mu.Lock()
	defer m.unlock()
	adm := Admission{Key: key, InGroup: true}
	if _, gone := m.deletedPods[pod.UID]; gone {
		// The cycle's copy of a pod the informer saw deleted must not
		// bring the member back: room would be held for a pod that does
		// not exist, and the group would never settle.
		adm.Message = fmt.Sprintf("pod %s was deleted", klog.KObj(pod))
		return adm
	}
	g := m.groupLocked(key)
	defer m.noteWaitLocked(g, &adm)
	m.upsertMemberLocked(g, pod, &adm.Actions)
	// The pod may bring news the cycle's Restore has not seen (a member
	// larger than declared): reservations are set right before it is
	// placed.
	m.restoreLocked(logger, nodes, &adm.Actions)
	now := m.clock.Now()
	if g.scheduleStart.IsZero() {
		g.scheduleStart = now
		adm.Statuses = append(adm.Statuses, key)
	}
	live, _ := g.counts()
	if (g.phase == PhaseFinished || g.phase == PhaseFailed) && live > 0 {
		// A new run of a finished group (a PodGroup used again) waits
		// from now: its clocks start again, and the members of the runs
		// before (ended) are not of this one.
		for uid, mb := range g.members {
			if !mb.live() {
				delete(g.members, uid)
			}
		}
		g.phase = PhasePending
		m.changedLocked(g)
		g.pendingSince = now
		g.scheduleStart = now
		g.drainTried = time.Time{}
		g.failure = nil
	}
	if g.phase == PhaseAdmitted && len(g.victims) > 0 {
		adm.Message = fmt.Sprintf("pod group %s waits for %d preempted pods to exit", key, len(g.victims))
		m.waitLocked(g, &adm.Actions, "victims", adm.Message)
		return adm
	}
	if g.phase == PhaseRunning {
		if msg := m.beyondGangLocked(g, pod); msg != "" {
			adm.Message = msg
			m.waitLocked(g, &adm.Actions, "beyond", msg)
			return adm
		}
	}
	if g.phase == PhaseAdmitted || g.phase == PhaseRunning {
		adm.Admitted = true
		return adm
	}

	// 1. Is the group declared, valid and complete?
	switch {
	case key.Kind == KindPodGroup && g.podGroup == nil && !m.podGroupAPI:
		adm.Message = fmt.Sprintf("pod group %s not found: the PodGroup CRD (podgroups.scheduling.x-k8s.io) is not installed", key)
		return adm
	case key.Kind == KindPodGroup && g.podGroup == nil:
		adm.Message = fmt.Sprintf("pod group %s not found: create PodGroup %s or remove label %s", key, key.Name, LabelPodGroup)
		return adm
	case key.Kind == KindSchedulingPodGroup && g.upstream == nil && !m.schedulingAPI:
		adm.Message = fmt.Sprintf("pod group %s not found: the API server does not serve scheduling.k8s.io/v1beta1 PodGroups (feature gate GenericWorkload)", key)
		return adm
	case key.Kind == KindSchedulingPodGroup && g.upstream == nil:
		adm.Message = fmt.Sprintf("pod group %s not found: create scheduling.k8s.io PodGroup %s (or its Workload) or remove the pod's spec.schedulingGroup", key, key.Name)
		return adm
	case !g.spec.Valid():
		adm.Message = g.invalidMessage()
		return adm
	case int32(live) < g.spec.MinMember:
		adm.Message = fmt.Sprintf("pod group %s has %d/%d members", key, live, g.spec.MinMember)
		if r, ok := m.retry[key]; ok {
			// Why it is short of members now is most often why it was
			// released: keep that on the pod, not only in an Event.
			adm.Message += fmt.Sprintf(" (released: %s)", r.reason)
		}
		return adm
	}
	if r, ok := m.retry[key]; ok && now.Before(r.at) {
		adm.Message = fmt.Sprintf("pod group %s was released (%s) and retries in %s", key, r.reason, r.at.Sub(now).Round(time.Second))
		return adm
	}

	// 2. Do its queue and its namespace's quotas let it in?
	f := m.fairnessLocked()
	if msg := m.queueCheckLocked(g, f); msg != "" {
		adm.Message = fmt.Sprintf("pod group %s waits: %s", key, msg)
		m.waitLocked(g, &adm.Actions, "queue", adm.Message)
		return adm
	}
	if msg := m.quotaCheckLocked(g); msg != "" {
		adm.Message = fmt.Sprintf("pod group %s waits: %s", key, msg)
		m.waitLocked(g, &adm.Actions, "quota", adm.Message)
		return adm
	}

	// 3. Fair order: groups ahead of it (their queue further below its fair
	// share, or higher priority or older in the same queue) that fit now go
	// first. They are admitted here, on this pod's cycle: the order of
	// admission must not depend on which pod the scheduling queue pops
	// next, or every cycle of a group behind would only defer to a group
	// whose pods wait somewhere in the queue.
	wentFirst, more := m.admitAheadLocked(logger, g, nodes, &adm.Actions)
	if more {
		adm.Message = fmt.Sprintf("pod group %s waits for the groups ahead of it in fair order: %s went first, more follow",
			key, strings.Join(wentFirst, ", "))
		m.waitLocked(g, &adm.Actions, "order", adm.Message)
		return adm
	}
	if len(wentFirst) > 0 {
		f = m.fairnessLocked()
		if msg := m.queueCheckLocked(g, f); msg != "" {
			adm.Message = fmt.Sprintf("pod group %s waits: %s", key, msg)
			m.waitLocked(g, &adm.Actions, "queue", adm.Message)
			return adm
		}
	}

	// 4. No borrowing while the owner waits: a queue at or over its fair
	// share does not take room that a queue below its share waits for. A
	// group that starves meanwhile still gets nodes drained for it, so no
	// group waits for ever.
	if msg := m.ownerWaitsLocked(logger, g, f, nodes); msg != "" {
		if m.drainLocked(logger, g, nodes, &adm.Actions); !g.draining {
			adm.Message = fmt.Sprintf("pod group %s waits: %s", key, msg)
			m.waitLocked(g, &adm.Actions, "share", adm.Message)
			return adm
		}
	}

	// 5. Does the whole group fit on the nodes, after other groups' reservations?
	plan := m.planLocked(logger, g, nodes)
	if plan.message != "" {
		adm.Message = plan.message
		if len(wentFirst) > 0 {
			adm.Message += fmt.Sprintf("; %s went first in fair order", strings.Join(wentFirst, ", "))
		}
		adm.NoRoom = true
		m.drainLocked(logger, g, nodes, &adm.Actions)
		if g.draining {
			adm.Message += "; nodes are reserved for it as they drain"
		}
		m.waitLocked(g, &adm.Actions, "room", adm.Message)
		return adm
	}

	// 6. Admit: reserve the planned room, hold members in Permit until quorum.
	m.admitLocked(logger, g, plan, pod, &adm.Actions)
	adm.Admitted = true
	return adm
}

// nodeList names nodes for an Event: the first five, and how many more.
func nodeList(names []string) string {
	const shown = 5
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
}

// noteWaitLocked remembers why the group's admission attempt turned it
// away, for the conditions of a scheduling.k8s.io PodGroup, whose status is
// written again when the reason changes.
func (m *Manager) noteWaitLocked(g *Group, adm *Admission) {
	msg := adm.Message
	if adm.Admitted {
		msg = ""
	}
	if msg != g.waitMessage {
		g.waitMessage = msg
		if g.key.Kind == KindSchedulingPodGroup {
			adm.Statuses = append(adm.Statuses, g.key)
		}
	}
}

// beyondGangLocked says why a pending member of a running group may not be
// placed now, or "": a member the group's reservation does not cover is
// beyond the gang (an executor more than declared, or created after the
// reservation expired), and takes its queue's allocation up by what it
// requests beyond the room still reserved: it must stay within the max of
// its queue and of every queue above it and, while another queue waits
// for room (waitingQueueLocked), within their fair shares (shareCheck).
func (m *Manager) beyondGangLocked(g *Group, pod *v1.Pod) string {
	mb := g.members[pod.UID]
	if mb == nil || mb.state != memberPending {
		return ""
	}
	need := withoutPods(mb.requests)
	need.Sub(g.reservedTotal())
	need = need.NonNegative()
	if need.IsZero() {
		return ""
	}
	if mx := g.spec.MaxExecutors; mx > 0 && !IsSparkDriver(pod) {
		if placed := g.placedExecutors(); int64(placed) >= mx {
			return fmt.Sprintf("pod group %s: member %s waits: %d executors are placed, the most %s allows",
				g.key, klog.KObj(pod), placed, AnnotationMaxExecutors)
		}
	}
	f := m.fairnessLocked()
	n := m.tree.Get(f.queueOf(g.key))
	if n == nil || !n.Valid() {
		return ""
	}
	msg := m.maxCheckLocked(n, need, f)
	if msg == "" {
		msg = shareCheck(n, need, f, m.waitingQueueLocked(n.Name, f))
	}
	if msg != "" {
		m.heldBack[g.key] = struct{}{}
		return fmt.Sprintf("pod group %s: member %s, beyond the room reserved for the group, waits: %s", g.key, klog.KObj(pod), msg)
	}
	return ""
}

// retryHeldBackLocked activates the pending members of the groups whose
// members beyond the gang were held back by their queues (heldBack), once
// one of them would be let in: a queue no longer waits, or holds less. No
// scheduler event says so (a pending pod deleted, a group admitted
// elsewhere), so the timer asks.
func (m *Manager) retryHeldBackLocked(acts *Actions) {
	for _, key := range sortedKeys(m.heldBack) {
		g := m.groups[key]
		if g == nil || g.phase != PhaseRunning {
			delete(m.heldBack, key)
			continue
		}
		pending := g.pendingPods()
		if len(pending) == 0 {
			delete(m.heldBack, key)
			continue
		}
		// Its members beyond the gang are alike (Spark's executors): one
		// asks for all, and keeps the timer cheap.
		if m.beyondGangLocked(g, pending[0]) == "" {
			delete(m.heldBack, key)
			acts.Activate = append(acts.Activate, pending...)
		}
	}
}

// admitAheadLocked admits, in fair order, the eligible groups ahead of g
// that fit, and names them; more is true when it stopped at Config.MaxAdmitAhead.
func (m *Manager) admitAheadLocked(logger klog.Logger, g *Group, nodes Nodes, acts *Actions) (admitted []string, more bool) {
	for {
		f := m.fairnessLocked()
		var next *Group
		var plan planResult
		for _, h := range m.aheadLocked(g, f) {
			if plan = m.planLocked(logger, h, nodes); plan.message == "" && m.ownerWaitsLocked(logger, h, f, nodes) == "" {
				next = h
				break
			}
		}
		if next == nil {
			return admitted, false
		}
		if len(admitted) == m.cfg.MaxAdmitAhead {
			return admitted, true
		}
		logger.V(4).Info("Admitting a pod group ahead in fair order", "podGroup", next.key, "behind", g.key)
		m.admitLocked(logger, next, plan, nil, acts)
		admitted = append(admitted, fmt.Sprintf("pod group %s of queue %s", next.key, f.queueOf(next.key)))
	}
}

// planResult is an admission plan for a group.
type planResult struct {
	items     []Item
	placement *Placement
	// message says why the group does not fit; empty when it does.
	message string
	// domain is the topology domain planned in ("label=value"); spread
	// says why a preferred topology was not kept.
	domain, spread string
}

// planLocked plans the whole group on the nodes, after other groups'
// reservations. A failure is remembered until the nodes, the reservations
// or the group's members change.
func (m *Manager) planLocked(logger klog.Logger, g *Group, nodes Nodes) planResult {
	live, placed := g.counts()
	version := nodes.Version()
	if f := g.failure; f != nil && f.generation == m.generation && f.nodes == version && f.members == live {
		return planResult{message: f.message}
	}
	items, required := m.itemsLocked(g, placed)
	all := nodes.Rooms()
	rooms := m.roomsLocked(all, g.key)
	spread := ""
	if t := g.spec.Topology; t != nil {
		res, why := m.planInDomainLocked(logger, g, rooms, items, required, nodes)
		switch {
		case why == "":
			g.failure = nil
			return res
		case t.Required:
			msg := fmt.Sprintf("pod group %s %s", g.key, why)
			g.failure = &admissionFailure{generation: m.generation, nodes: version, members: live, message: msg}
			logger.V(4).Info("Pod group does not fit", "podGroup", g.key, "message", msg)
			return planResult{message: msg}
		}
		spread = why
	}
	// The resource pass alone first: under contention most plans fail for
	// lack of room, and need not run the profile's filters to find out.
	planner := newPlanner(logger, rooms, items, required, m.planOrder)
	m.planOrder = planner.room.nodeOrder(m.planOrder)
	sim := simulationOf(nodes, nil)
	placement, short := planner.plan(nil, sim == nil)
	if short == nil && sim != nil {
		placement, short = planner.plan(sim, true)
	}
	if short != nil {
		short.ReservedForOthers = m.reservedOnLocked(all, g.key)
		if d := m.drainer; d != nil && d != g {
			short.Draining = &d.key
		}
		msg := fmt.Sprintf("pod group %s %s", g.key, short.Message())
		g.failure = &admissionFailure{generation: m.generation, nodes: version, members: live, message: msg}
		logger.V(4).Info("Pod group does not fit", "podGroup", g.key, "message", msg)
		return planResult{message: msg}
	}
	g.failure = nil
	return planResult{items: items, placement: placement, spread: spread}
}

// admitLocked admits g on plan: its room is reserved, and its members are
// held in Permit until MinMember are placed. pod is the member whose cycle
// admits it (nil when another group's cycle does); the others are activated.
func (m *Manager) admitLocked(logger klog.Logger, g *Group, plan planResult, pod *v1.Pod, acts *Actions) {
	now := m.clock.Now()
	g.handled = true
	m.stopDrainingLocked(g)
	g.phase = PhaseAdmitted
	m.changedLocked(g)
	g.admitted = now
	g.deadline = now.Add(m.permitTimeoutLocked(g))
	g.planned = map[types.UID]string{}
	g.domain = plan.domain
	virtual := 0
	for i, it := range plan.items {
		if plan.placement.Nodes[i] == "" {
			continue
		}
		if it.Pod != nil {
			g.planned[it.Pod.UID] = plan.placement.Nodes[i]
		} else {
			virtual++
		}
	}
	m.setReservedLocked(g, plan.placement.PerNode, metrics.ReservationFreed, acts)
	metrics.AdmissionLatency.WithLabelValues(string(m.queueOfLocked(g))).Observe(metrics.Since(now, g.pendingSince))
	msg := fmt.Sprintf("pod group %s admitted: %d pods planned on %d nodes (%d not created yet), %s reserved on %s",
		g.key, len(g.planned)+virtual, len(plan.placement.PerNode), virtual, g.reservedTotal(), nodeList(sortedNodeNames(plan.placement.PerNode)))
	switch {
	case plan.domain != "":
		msg += ", all in " + plan.domain
	case plan.spread != "":
		msg += "; spread over the nodes: it " + plan.spread
	}
	m.eventLocked(g, acts, v1.EventTypeNormal, ReasonAdmitted, msg)
	logger.V(2).Info("Admitted pod group", "podGroup", g.key, "pods", len(g.planned)+virtual, "nodes", len(plan.placement.PerNode), "virtual", virtual)
	for _, uid := range sortedUIDs(g.members) {
		if _, ok := g.planned[uid]; ok && (pod == nil || uid != pod.UID) {
			acts.Activate = append(acts.Activate, g.members[uid].pod)
		}
	}
	acts.Statuses = append(acts.Statuses, g.key)
}

// virtualItems cuts rem, the part of MinResources no live member covers,
// into the members still to come (see splitRemainder):
//
//   - for a Spark app declared by its driver, into the executors it
//     declares and has not created yet;
//   - with a declared member size (MemberRequests, or the Spark driver's
//     executor-requests), into as many members of that size as rem holds
//     (rounded up, in its largest dimension); once a real member exists
//     (not a driver), each of its size, so that executors larger than
//     declared (sidecars, overhead) are planned as they are;
//   - with no declared size, into members of a real member's size;
//   - with no size known at all, or a size that would cut rem into more
//     than maxVirtualMembers, as one Total: room spread over the nodes, as
//     scheduler-plugins' users expect of minResources.
//
// Members of one size share one planned pod (Group.virtualMember).
func (g *Group) virtualItems(rem resources.List) []Item {
	template := g.memberTemplate()
	declared, real := g.declaredShape(), g.realShape()
	var pieces []resources.List
	ok := false
	switch {
	case g.key.Kind == KindSparkApp && declared != nil:
		// A Spark app declares how many executors it needs: those not
		// created yet are to come, of the real executors' size once one
		// exists.
		shape := declared
		if real != nil {
			shape = real
		}
		for n := g.spec.Executors - int64(g.liveExecutors()); n > 0; n-- {
			pieces = append(pieces, shape)
		}
		ok = true
	case declared != nil:
		// As many members as rem holds, each of the declared size (or
		// the real one's): rem's own proportions say nothing of a member,
		// and Spark Operator's minResources counts Spark's "512m" of
		// memory as 0.512 bytes.
		if pieces, ok = splitRemainder(rem, declared); ok {
			shape := declared.Clone()
			shape[resources.Pods] = 1
			if real != nil {
				shape = real
			}
			for i := range pieces {
				pieces[i] = shape
			}
		}
	case real != nil:
		pieces, ok = splitRemainder(rem, real)
	}
	if !ok {
		total := withoutPods(rem.NonNegative())
		if total.IsZero() {
			return nil
		}
		return []Item{{Template: g.virtualMember(template, resources.List{}, 0), Requests: total, Total: true}}
	}
	items := make([]Item, 0, len(pieces))
	shared := map[string]*v1.Pod{}
	for _, piece := range pieces {
		id := piece.String()
		pod := shared[id]
		if pod == nil {
			pod = g.virtualMember(template, piece, len(shared))
			shared[id] = pod
		}
		items = append(items, Item{Template: pod, Requests: resources.PodRequests(pod)})
	}
	return items
}

// itemsLocked lists what an admission must place: pending members, and the
// part of MinResources that no member covers, cut into member-sized pieces.
// Items before the returned index are required; after it, pods beyond
// MinMember that are placed if they fit.
func (m *Manager) itemsLocked(g *Group, placed int) ([]Item, int) {
	var pending []*v1.Pod
	covered := resources.List{}
	for _, uid := range sortedUIDs(g.members) {
		mb := g.members[uid]
		if !mb.live() {
			continue
		}
		covered.Add(mb.requests)
		if mb.state == memberPending {
			pending = append(pending, mb.pod)
		}
	}
	slices.SortStableFunc(pending, CompareMembers)
	items := make([]Item, 0, len(pending))
	for _, p := range pending {
		items = append(items, Item{Pod: p, Requests: resources.PodRequests(p)})
	}
	required := len(items)
	if g.spec.MinResources == nil {
		required = min(len(items), max(0, int(g.spec.MinMember)-placed))
	}
	if g.spec.MinResources != nil {
		rem := g.spec.MinResources.Clone()
		rem.Sub(covered)
		virtual := g.virtualItems(rem)
		// Virtual members are required: insert them before optional pods.
		items = append(items[:required], append(virtual, items[required:]...)...)
		required += len(virtual)
	}
	return items, required
}

// CompareMembers orders a group's members: the Spark driver first, then by
// creation, then by name.
func CompareMembers(a, b *v1.Pod) int {
	if da, db := IsSparkDriver(a), IsSparkDriver(b); da != db {
		if da {
			return -1
		}
		return 1
	}
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// roomsLocked subtracts the room reserved by groups other than key.
func (m *Manager) roomsLocked(nodes []NodeRoom, key Key) []NodeRoom {
	if len(m.reservedOn) == 0 {
		return nodes
	}
	var own map[string]resources.List
	if g := m.reserving[key]; g != nil {
		own = g.reserved
	}
	e := editRooms(nodes)
	for node, r := range m.reservedOn {
		if free := e.free(node); free != nil {
			free.Sub(r)
			if o := own[node]; o != nil {
				free.Add(o)
			}
		}
	}
	return e.rooms
}

// roomEditor changes the free room of some nodes in a copy of a node list,
// copying a node's Free the first time it changes. Nodes are found by
// binary search when the list is sorted by name (as the plugin's is), by a
// map built once otherwise.
type roomEditor struct {
	rooms  []NodeRoom
	byName bool
	index  map[string]int
	cloned []bool
}

func editRooms(nodes []NodeRoom) *roomEditor {
	e := &roomEditor{rooms: slices.Clone(nodes), cloned: make([]bool, len(nodes))}
	e.byName = slices.IsSortedFunc(nodes, func(a, b NodeRoom) int { return cmp.Compare(a.Name, b.Name) })
	if !e.byName {
		e.index = make(map[string]int, len(nodes))
		for i := range e.rooms {
			e.index[e.rooms[i].Name] = i
		}
	}
	return e
}

// free returns the node's Free to change, or nil for a node not listed.
func (e *roomEditor) free(node string) resources.List {
	var i int
	var ok bool
	if e.byName {
		i, ok = slices.BinarySearchFunc(e.rooms, node, func(r NodeRoom, name string) int { return cmp.Compare(r.Name, name) })
	} else {
		i, ok = e.index[node]
	}
	if !ok {
		return nil
	}
	if !e.cloned[i] {
		e.rooms[i].setFree(e.rooms[i].Free.Clone())
		e.cloned[i] = true
	}
	return e.rooms[i].Free
}

// reservedOnLocked sums what groups other than key reserve on the nodes.
func (m *Manager) reservedOnLocked(nodes []NodeRoom, key Key) resources.List {
	total := resources.List{}
	if len(m.reservedOn) == 0 {
		return total
	}
	var left []map[string]resources.List
	for k, g := range m.reserving {
		if k == key || g.draining {
			left = append(left, g.reserved)
		}
	}
	for i := range nodes {
		r := m.reservedOn[nodes[i].Name]
		if r == nil {
			continue
		}
		total.Add(r)
		for _, l := range left {
			if o := l[nodes[i].Name]; o != nil {
				total.Sub(o)
			}
		}
	}
	return total
}

func (m *Manager) permitTimeoutLocked(g *Group) time.Duration {
	if g.spec.ScheduleTimeout > 0 {
		return g.spec.ScheduleTimeout
	}
	return m.cfg.PermitTimeout
}
