package podgroup

import (
	"fmt"

	"k8s.io/klog/v2"

	"github.com/gangsched/gangsched/queue"
	"github.com/gangsched/gangsched/resources"
)

// ownerWaitsLocked says why g may not be admitted now, or "": admitting g
// would take its queue over its fair share (g would borrow), while a group
// of another queue, ahead of g in fair order, waits for room its own
// queue's share covers and would fit once the running groups end. The room
// that frees up then stays free until that group fits, instead of going to
// whichever smaller group fits first: without this, a queue whose groups
// are bigger never gets its share while smaller groups keep arriving.
//
// A group that would not fit even with every group's room given back
// (pods in no group hold the rest, or node constraints rule it out) does
// not hold others back; nor is a starving group that holds a drain
// reservation held back (its reservation could be the room the other
// waits for).
func (m *Manager) ownerWaitsLocked(logger klog.Logger, g *Group, f *fairness, nodes Nodes) string {
	own := f.queueOf(g.key)
	if g.draining || !f.exceeds(own, g.demand()) {
		return ""
	}
	var rooms []NodeRoom
	for _, h := range m.aheadLocked(g, f) {
		q := f.queueOf(h.key)
		if q == own || f.exceeds(q, h.demand()) {
			continue
		}
		if rooms == nil {
			rooms = m.roomWithoutGroupsLocked(nodes.Rooms())
		}
		_, placed := h.counts()
		items, required := m.itemsLocked(h, placed)
		if _, short := Plan(logger, rooms, items, required, nil); short != nil {
			continue
		}
		return fmt.Sprintf("queue %s would go over its fair share (%s), and pod group %s of queue %s, within its share, waits for room first",
			own, f.shares[own], h.key, q)
	}
	return ""
}

// exceeds reports whether queue q would hold more than its fair share of
// some resource with need added.
func (f *fairness) exceeds(q queue.Name, need resources.List) bool {
	return f.standing(q).With(need).OverOn(need)
}

// roomWithoutGroupsLocked is the nodes' room with every group's placed
// members gone: what frees up once the running groups end. (Reservations
// are not taken from NodeRoom.Free, so they need no giving back.)
func (m *Manager) roomWithoutGroupsLocked(nodes []NodeRoom) []NodeRoom {
	e := editRooms(nodes)
	for _, g := range m.groups {
		if g.phase != PhaseAdmitted && g.phase != PhaseRunning {
			continue
		}
		for _, mb := range g.members {
			if !mb.live() || !mb.placed() {
				continue
			}
			node := mb.pod.Spec.NodeName
			if node == "" {
				node = mb.node
			}
			if free := e.free(node); free != nil {
				free.Add(mb.requests)
			}
		}
	}
	return e.rooms
}
