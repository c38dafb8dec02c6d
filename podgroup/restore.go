package podgroup

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/gangsched/gangsched/metrics"
	"github.com/gangsched/gangsched/resources"
)

// ReasonRestored is the Event reason on a group whose reservation a new
// scheduler instance took up again.
const ReasonRestored = "ReservationRestored"

// noteReservedUntilLocked reads AnnotationReservedUntil and AnnotationQuorum
// from the group's object; a group found running with room reserved, after
// a restart, gets its reservation back at the next scheduling cycle
// (Restore).
func (m *Manager) noteReservedUntilLocked(g *Group, annotations map[string]string) {
	g.noteQuorum(annotations)
	v, ok := annotations[AnnotationReservedUntil]
	if !ok || len(g.reserved) > 0 || g.handled {
		return // this instance admitted it, and knows its reservation
	}
	until, err := time.Parse(time.RFC3339, v)
	if err != nil || !m.clock.Now().Before(until) {
		return
	}
	g.restoreUntil = until
	g.restoreRoom = nil
	g.restoreDomain = annotations[AnnotationDomain]
	if room, err := ParseReservation(annotations[AnnotationReservation]); err == nil {
		if len(room) == 0 {
			g.restoreUntil = time.Time{}
			return // the previous instance had lost all of its room
		}
		g.restoreRoom = room
	}
	m.restorePending = true
}

// NeedsRestore reports whether some group waits for its reservation to be
// taken up again (after a restart, or a node deletion): a cheap check for
// every scheduling cycle.
func (m *Manager) NeedsRestore() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.restorePending
}

// Restore reserves again, on the nodes of this cycle, the room of members
// not placed yet (created or not) of running groups whose reservation a
// previous scheduler instance held (AnnotationReservedUntil), until the same
// deadline. It runs
// at the start of the first scheduling cycles of a new instance, before any
// pod can take that room; what no longer fits is not reserved. It also
// plans again the room running groups held on deleted nodes (replanLocked).
func (m *Manager) Restore(logger klog.Logger, nodes Nodes) Actions {
	m.mu.Lock()
	defer m.unlock()
	var acts Actions
	m.restoreLocked(logger, nodes, &acts)
	return acts
}

func (m *Manager) restoreLocked(logger klog.Logger, nodes Nodes, out *Actions) {
	var acts Actions
	defer func() { out.merge(acts) }()
	if !m.restorePending {
		return
	}
	m.restorePending = false
	now := m.clock.Now()
	for _, key := range sortedKeys(m.groups) {
		g := m.groups[key]
		if len(g.lostNodes) > 0 {
			gone, lost := g.lostNodes, g.lost
			g.lostNodes, g.lost = nil, nil
			if g.phase == PhaseRunning {
				m.replanLocked(logger, g, nodes, m.deletedNodes, ReservationNodeDeleted,
					fmt.Sprintf("node %s was deleted with %s reserved there", strings.Join(gone, ", "), lost), &acts)
			}
		}
		if what := g.resized; what != "" {
			g.resized = ""
			if g.phase == PhaseRunning && len(g.reserved) > 0 {
				m.replanLocked(logger, g, nodes, nil, ReservationResized, what, &acts)
			}
		}
		until := g.restoreUntil
		g.restoreUntil = time.Time{}
		if until.IsZero() || !now.Before(until) || len(g.reserved) > 0 {
			continue
		}
		if g.handled || g.phase == PhaseFinished || g.phase == PhaseFailed {
			continue
		}
		live, placed := g.counts()
		if g.phase != PhaseRunning || int32(placed) < g.spec.MinMember {
			// Not running yet: its members are still being gathered; try later.
			g.restoreUntil = until
			m.restorePending = true
			continue
		}
		if live < len(g.members) {
			continue // members ended: what is missing is not members to come
		}
		// Members created but not placed yet had room in the previous
		// instance's reservation as much as those not created yet: both
		// get it back, or pods arriving first could take it.
		items, required := m.itemsLocked(g, placed)
		items = items[:required]
		if len(items) == 0 {
			continue
		}
		rooms := m.roomsLocked(nodes.Rooms(), key)
		// A gang asked into one domain stays in the one it was admitted
		// in: the one recorded, or for a required one, where its members
		// run (a record older than AnnotationDomain).
		if g.domain == "" {
			g.domain = cmp.Or(g.recordedDomain(), domainOf(g, rooms))
		}
		if g.domain != "" {
			rooms = slices.DeleteFunc(slices.Clone(rooms), g.outsideDomain)
		}
		// The room goes back where the previous instance held it, when
		// all of it is still free there; else it is planned anew, and the
		// record on the group's object is written again.
		placement, short := Plan(logger, heldRooms(rooms, g.restoreRoom), items, len(items), simulationOf(nodes, nil))
		moved := short != nil
		if moved {
			placement, _ = Plan(logger, rooms, items, 0, simulationOf(nodes, nil))
		}
		g.handled = true
		g.deadline = until
		g.planned = map[types.UID]string{}
		for i, it := range items {
			if it.Pod != nil && placement.Nodes[i] != "" {
				g.planned[it.Pod.UID] = placement.Nodes[i]
			}
		}
		m.setReservedLocked(g, placement.PerNode, "", &acts)
		where := "on the nodes it was held on"
		if moved {
			where = "planned anew"
			g.recordMoved()
		}
		g.restoreRoom = nil
		m.eventLocked(g, &acts, v1.EventTypeNormal, ReasonRestored, fmt.Sprintf(
			"pod group %s: %s reserved again for members not placed yet (%s), until %s", key, g.reservedTotal(), where, until.Format(time.RFC3339)))
		logger.V(2).Info("Restored a reservation", "podGroup", key, "nodes", len(placement.PerNode))
	}
	clear(m.deletedNodes)
	m.checkDisturbedLocked(logger, nodes, &acts)
}

// recordedDomain is the domain the previous instance recorded
// (AnnotationDomain), when it is one of the label g asks for now; else "".
func (g *Group) recordedDomain() string {
	label, _, ok := strings.Cut(g.restoreDomain, "=")
	if t := g.spec.Topology; !ok || t == nil || label != t.Key {
		return ""
	}
	return g.restoreDomain
}

// domainOf returns the domain ("label=value") of g's required topology
// that all of its placed members run in, or "" when it requires none, or
// they are not all in one: the domain a previous instance admitted it in.
// (A preferred topology may have been spread; it is not guessed.)
func domainOf(g *Group, rooms []NodeRoom) string {
	t := g.spec.Topology
	if t == nil || !t.Required {
		return ""
	}
	on := map[string]bool{}
	for _, mb := range g.members {
		if mb.live() && mb.placed() && mb.pod.Spec.NodeName != "" {
			on[mb.pod.Spec.NodeName] = true
		}
	}
	value := ""
	for _, r := range rooms {
		if !on[r.Name] {
			continue
		}
		v, ok := "", false
		if r.Node != nil {
			v, ok = r.Node.Labels[t.Key]
		}
		if !ok || (value != "" && v != value) {
			return ""
		}
		value = v
		delete(on, r.Name)
	}
	if value == "" || len(on) > 0 {
		return ""
	}
	return t.Key + "=" + value
}

// heldRooms returns the nodes of rooms that held names, each with its free
// room cut to what held gives it (a resource held does not name keeps the
// node's free amount): where a previous instance's reservation can be taken
// up again. A nil held gives no nodes.
func heldRooms(rooms []NodeRoom, held map[string]resources.List) []NodeRoom {
	var out []NodeRoom
	for _, r := range rooms {
		h, ok := held[r.Name]
		if !ok {
			continue
		}
		free := r.Free.Clone()
		for name, v := range h {
			if f, listed := free[name]; listed && v < f {
				free[name] = v
			}
		}
		r.setFree(free)
		out = append(out, r)
	}
	return out
}

// recordMoved has the next member of a running group to bind write its
// quorum record again with where its room is now (AnnotationReservation),
// after the room was planned anew or cut: a later instance takes it up
// there, and whoever reads the record is told the truth.
func (g *Group) recordMoved() {
	obj := g.eventObject()
	if obj == nil || g.record == nil || g.phase != PhaseRunning {
		return
	}
	g.unpersisted = &Persist{Object: obj, Quorum: formatQuorum(g.record.at, slices.Sorted(maps.Keys(g.record.members))),
		ReservedUntil: g.deadline, Reservation: cloneRoom(g.reserved), Domain: g.domainRecord()}
}

// domainRecord is what AnnotationDomain records of g: its domain, "" when
// spread, or nil when it asks for no topology.
func (g *Group) domainRecord() *string {
	if g.spec.Topology == nil {
		return nil
	}
	return ptr.To(g.domain)
}

// cloneRoom copies room by node.
func cloneRoom(byNode map[string]resources.List) map[string]resources.List {
	out := make(map[string]resources.List, len(byNode))
	for node, r := range byNode {
		out[node] = r.Clone()
	}
	return out
}

// nodeGoneLocked handles the room groups held on a deleted node:
//
//   - an admitted group whose plan used the node (room reserved there, a
//     member planned or placed there) is released whole, and admitted again
//     on the nodes that are left;
//   - a running group's room there, for members not created yet, is planned
//     again on other nodes at the next scheduling cycle (Restore, which has
//     the nodes), so its members never wait for room on a node that is gone;
//   - a drain reservation is given up, to be made again on the nodes left.
func (m *Manager) nodeGoneLocked(node string, acts *Actions) {
	for _, key := range sortedKeys(m.groups) {
		g := m.groups[key]
		r, held := g.reserved[node]
		switch {
		case g.draining && held:
			m.stopDrainingLocked(g)
			m.setReservedLocked(g, nil, metrics.ReservationFreed, acts)
		case g.phase == PhaseAdmitted && (held || g.usesNode(node)):
			m.releaseLocked(g, metrics.ReleaseNodeDeleted, fmt.Sprintf("node %s of its plan was deleted", node), acts)
		case g.phase == PhaseRunning && held:
			addTo(m.reservedOn, node, r, -1)
			delete(g.reserved, node)
			m.changedLocked(g)
			if len(g.reserved) == 0 {
				delete(m.reserving, key)
			}
			if g.lost == nil {
				g.lost = resources.List{}
			}
			g.lost.Add(r)
			g.lostNodes = append(g.lostNodes, node)
			m.generation++
			m.deletedNodes[node] = struct{}{}
			m.restorePending = true
		}
	}
}

// usesNode reports whether a member of g is planned on node, or took
// room there.
func (g *Group) usesNode(node string) bool {
	for uid, n := range g.planned {
		if n == node && g.members[uid] != nil {
			return true
		}
	}
	for _, mb := range g.members {
		if mb.state == memberAssumed && mb.taken[node] != nil {
			return true
		}
	}
	return false
}
