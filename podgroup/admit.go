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
	defer m.mu.Unlock()
	adm := Admission{Key: key, InGroup: true}
	g := m.groupLocked(key)
	m.upsertMemberLocked(g, pod, &adm.Actions)
	now := m.clock.Now()
	if g.scheduleStart.IsZero() {
		g.scheduleStart = now
		adm.Statuses = append(adm.Statuses, key)
	}
	live, _ := g.counts()
	if (g.phase == PhaseFinished || g.phase == PhaseFailed) && live > 0 {
		g.phase = PhasePending
	}
	if g.phase == PhaseAdmitted && len(g.victims) > 0 {
		adm.Message = fmt.Sprintf("pod group %s waits for %d preempted pods to exit", key, len(g.victims))
		m.waitLocked(g, &adm.Actions, "victims", adm.Message)
		return adm
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
	case !g.spec.Valid():
		adm.Message = g.invalidMessage()
		return adm
	case int32(live) < g.spec.MinMember:
		adm.Message = fmt.Sprintf("pod group %s has %d/%d members", key, live, g.spec.MinMember)
		return adm
	}
	if r, ok := m.retry[key]; ok && now.Before(r.at) {
		adm.Message = fmt.Sprintf("pod group %s was released (%s) and retries in %s", key, r.reason, r.at.Sub(now).Round(time.Second))
		return adm
	}

	// 2. Does its queue let it in?
	f := m.fairnessLocked()
	if msg := m.queueCheckLocked(g, f); msg != "" {
		adm.Message = fmt.Sprintf("pod group %s waits: %s", key, msg)
		m.waitLocked(g, &adm.Actions, "queue", adm.Message)
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

// maxAdmitAhead bounds how many groups ahead of it one group's cycle
// admits, to keep a cycle short.
const maxAdmitAhead = 8

// admitAheadLocked admits, in fair order, the eligible groups ahead of g
// that fit, and names them; more is true when it stopped at maxAdmitAhead.
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
		if len(admitted) == maxAdmitAhead {
			return admitted, true
		}
		logger.V(4).Info("Admitting a pod group ahead in fair order", "podGroup", next.key, "behind", g.key)
		m.admitLocked(logger, next, plan, nil, acts)
		admitted = append(admitted, fmt.Sprintf("pod group %s of queue %s", next.key, f.queueOf[next.key]))
	}
}

// planResult is an admission plan for a group.
type planResult struct {
	items     []Item
	placement *Placement
	// message says why the group does not fit; empty when it does.
	message string
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
	placement, short := Plan(logger, m.roomsLocked(all, g.key), items, required)
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
	return planResult{items: items, placement: placement}
}

// admitLocked admits g on plan: its room is reserved, and its members are
// held in Permit until MinMember are placed. pod is the member whose cycle
// admits it (nil when another group's cycle does); the others are activated.
func (m *Manager) admitLocked(logger klog.Logger, g *Group, plan planResult, pod *v1.Pod, acts *Actions) {
	now := m.clock.Now()
	g.handled = true
	m.stopDrainingLocked(g)
	g.phase = PhaseAdmitted
	g.admitted = now
	g.deadline = now.Add(m.permitTimeoutLocked(g))
	g.planned = map[types.UID]string{}
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
	msg := fmt.Sprintf("pod group %s admitted: %d pods planned on %d nodes (%d not created yet), %s reserved",
		g.key, len(g.planned)+virtual, len(plan.placement.PerNode), virtual, g.reservedTotal())
	m.eventLocked(g, acts, v1.EventTypeNormal, ReasonAdmitted, msg)
	logger.V(2).Info("Admitted pod group", "podGroup", g.key, "pods", len(g.planned)+virtual, "nodes", len(plan.placement.PerNode), "virtual", virtual)
	for _, uid := range sortedUIDs(g.members) {
		if _, ok := g.planned[uid]; ok && (pod == nil || uid != pod.UID) {
			acts.Activate = append(acts.Activate, g.members[uid].pod)
		}
	}
	acts.Statuses = append(acts.Statuses, g.key)
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
		template := g.driver
		if template == nil && len(pending) > 0 {
			template = pending[0]
		}
		virtual := make([]Item, 0)
		shape, exact := g.memberShape()
		if !exact {
			shape = evenShape(rem, shape)
		}
		for _, piece := range splitRemainder(rem, shape) {
			virtual = append(virtual, Item{Template: template, Requests: piece})
		}
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
	if len(m.reserving) == 0 {
		return nodes
	}
	e := editRooms(nodes)
	for k, g := range m.reserving {
		if k == key {
			continue
		}
		for node, r := range g.reserved {
			if free := e.free(node); free != nil {
				free.Sub(r)
			}
		}
	}
	return e.rooms
}

// roomEditor changes the free room of some nodes in a copy of a node list,
// copying a node's Free the first time it changes.
type roomEditor struct {
	rooms  []NodeRoom
	index  map[string]int
	cloned []bool
}

func editRooms(nodes []NodeRoom) *roomEditor {
	e := &roomEditor{rooms: slices.Clone(nodes), index: make(map[string]int, len(nodes)), cloned: make([]bool, len(nodes))}
	for i := range e.rooms {
		e.index[e.rooms[i].Name] = i
	}
	return e
}

// free returns the node's Free to change, or nil for a node not listed.
func (e *roomEditor) free(node string) resources.List {
	i, ok := e.index[node]
	if !ok {
		return nil
	}
	if !e.cloned[i] {
		e.rooms[i].Free = e.rooms[i].Free.Clone()
		e.cloned[i] = true
	}
	return e.rooms[i].Free
}

// reservedOnLocked sums what groups other than key reserve on the nodes.
func (m *Manager) reservedOnLocked(nodes []NodeRoom, key Key) resources.List {
	total := resources.List{}
	for k, g := range m.reserving {
		if k == key || g.draining {
			continue
		}
		for i := range nodes {
			if r := g.reserved[nodes[i].Name]; r != nil {
				total.Add(r)
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
