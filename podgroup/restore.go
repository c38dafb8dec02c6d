package podgroup

import (
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// ReasonRestored is the Event reason on a group whose reservation a new
// scheduler instance took up again.
const ReasonRestored = "ReservationRestored"

// noteReservedUntilLocked reads AnnotationReservedUntil from the group's
// object; a group found running with it, after a restart, gets its
// reservation back at the next scheduling cycle (Restore).
func (m *Manager) noteReservedUntilLocked(g *Group, annotations map[string]string) {
	v, ok := annotations[AnnotationReservedUntil]
	if !ok || len(g.reserved) > 0 || g.handled {
		return // this instance admitted it, and knows its reservation
	}
	until, err := time.Parse(time.RFC3339, v)
	if err != nil || !m.clock.Now().Before(until) {
		return
	}
	g.restoreUntil = until
	m.restorePending = true
}

// NeedsRestore reports whether some group waits for its reservation to be
// taken up again: a cheap check for every scheduling cycle.
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
// pod can take that room; what no longer fits is not reserved.
func (m *Manager) Restore(logger klog.Logger, nodes Nodes) Actions {
	m.mu.Lock()
	defer m.mu.Unlock()
	var acts Actions
	if !m.restorePending {
		return acts
	}
	m.restorePending = false
	now := m.clock.Now()
	for _, key := range sortedKeys(m.groups) {
		g := m.groups[key]
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
		placement, _ := Plan(logger, m.roomsLocked(nodes.Rooms(), key), items, 0)
		g.handled = true
		g.deadline = until
		g.planned = map[types.UID]string{}
		for i, it := range items {
			if it.Pod != nil && placement.Nodes[i] != "" {
				g.planned[it.Pod.UID] = placement.Nodes[i]
			}
		}
		m.setReservedLocked(g, placement.PerNode, "", &acts)
		m.eventLocked(g, &acts, v1.EventTypeNormal, ReasonRestored, fmt.Sprintf(
			"pod group %s: %s reserved again for members not placed yet, until %s", key, g.reservedTotal(), until.Format(time.RFC3339)))
		logger.V(2).Info("Restored a reservation", "podGroup", key, "nodes", len(placement.PerNode))
	}
	return acts
}
