package podgroup

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/gangsched/gangsched/metrics"
)

// ReasonStarving is the Event reason on a group that waited past the
// starvation threshold and now holds nodes as they drain.
const ReasonStarving = "GangStarving"

// drainLocked gives a starving group a drain reservation: nodes chosen to
// hold the whole group once their current pods leave are reserved for it,
// so no new pod takes the room that frees up there. A group starves when
// it has waited for room past the starvation threshold.
//
// The rule for backfill: another pod may still use a drained node only
// within what the reservation leaves free (allocatable minus the
// reservation minus what runs there), which can never delay the starving
// group. One group drains at a time: the starving group that needs most
// (small groups fit into any room that frees up and seldom need it), the
// one that has waited longest among equals, taking over from a smaller
// one; it keeps its reservation until it is admitted or gone. So the
// largest starving group starts at the latest when the pods on its
// reserved nodes have ended.
func (m *Manager) drainLocked(logger klog.Logger, g *Group, nodes Nodes, acts *Actions) {
	now := m.clock.Now()
	if g.draining || !m.starvingLocked(g, now) {
		return
	}
	if first := m.firstStarvingLocked(logger, now, nodes); first != g {
		return // a bigger one, or one that waited longer, goes first
	}
	if d := m.drainer; d != nil {
		if compareSize(g.demand(), d.demand()) <= 0 {
			return
		}
		// A bigger group starves: it takes over from a smaller one, which
		// fits into room as it frees up anyway.
		m.stopDrainingLocked(d)
		m.setReservedLocked(d, nil, metrics.ReservationFreed, acts)
	}
	placement, domain := m.drainPlanLocked(logger, g, nodes)
	if placement == nil {
		return // it would not fit even on drained nodes
	}
	g.draining = true
	m.drainer = g
	m.setReservedLocked(g, placement.PerNode, "", acts)
	names := sortedNodeNames(placement.PerNode)
	if domain != "" {
		domain = " of " + domain
	}
	m.eventLocked(g, acts, v1.EventTypeWarning, ReasonStarving, fmt.Sprintf(
		"pod group %s waited %s for room: reserving nodes %s%s as they drain; no new pod is placed in that room",
		g.key, now.Sub(g.pendingSince).Round(time.Second), strings.Join(names, ", "), domain))
	logger.V(2).Info("Reserving nodes for a starving pod group", "podGroup", g.key, "nodes", names)
}

// starvingLocked reports whether g starves: pending with members to place,
// past the threshold.
func (m *Manager) starvingLocked(g *Group, now time.Time) bool {
	if m.cfg.StarvationThreshold <= 0 || g.phase != PhasePending || now.Sub(g.pendingSince) < m.cfg.StarvationThreshold {
		return false
	}
	live, _ := g.counts()
	return int32(live) >= g.spec.MinMember && len(g.pendingPods()) > 0
}

// firstStarvingLocked returns the starving group that needs most, and
// among equals the one that has waited longest, of those a drain
// reservation can serve: a group that cannot be admitted however long it
// waits (invalid, missing its PodGroup or members, backing off, held by its
// queue, or too big for the whole cluster drained) must not take the drain
// from every other group. With nodes, whether each fits the drained
// cluster is planned (once per node version); without (the timer), a
// group not planned yet counts as fitting.
func (m *Manager) firstStarvingLocked(logger klog.Logger, now time.Time, nodes Nodes) *Group {
	var starving []*Group
	for _, key := range sortedKeys(m.groups) {
		if g := m.groups[key]; m.starvingLocked(g, now) {
			starving = append(starving, g)
		}
	}
	if len(starving) == 0 {
		return nil
	}
	slices.SortStableFunc(starving, func(a, b *Group) int {
		return cmp.Or(-compareSize(a.demand(), b.demand()), a.pendingSince.Compare(b.pendingSince))
	})
	f := m.fairnessLocked()
	for _, g := range starving {
		if !m.eligibleLocked(g, f) {
			continue
		}
		if nodes != nil {
			if placement, _ := m.drainPlanLocked(logger, g, nodes); placement == nil {
				continue
			}
		} else if g.drainFit.known && !g.drainFit.fits {
			continue
		}
		return g
	}
	return nil
}

// drainFit remembers whether a group fits the cluster drained, for one
// node version.
type drainFit struct {
	known, fits bool
	version     uint64
}

// drainPlanLocked plans g on every node as if drained (drainRoomsLocked),
// inside one domain (named as label=value) when g asks for one and one
// holds it, and only there when it requires one; nil when it would not
// fit even so. Whether it fits is remembered in g.drainFit for the nodes'
// version.
func (m *Manager) drainPlanLocked(logger klog.Logger, g *Group, nodes Nodes) (*Placement, string) {
	version := nodes.Version()
	if g.drainFit.known && g.drainFit.version == version && !g.drainFit.fits {
		return nil, ""
	}
	_, placed := g.counts()
	items, required := m.itemsLocked(g, placed)
	now := nodes.Rooms()
	drained := m.drainRoomsLocked(now, g.key)
	var placement *Placement
	domain := ""
	if t := g.spec.Topology; t != nil {
		placement, domain = drainInDomain(logger, t.Key, now, drained, items, required)
	}
	if placement == nil && (g.spec.Topology == nil || !g.spec.Topology.Required) {
		placement, _ = Plan(logger, drained, items, required, nil)
	}
	g.drainFit = drainFit{known: true, fits: placement != nil, version: version}
	return placement, domain
}

// drainInDomain plans a group that asks for one domain of node label key
// inside one domain as if drained: of the domains that hold it drained,
// the one with the most CPU free now, to start the soonest. It returns the
// plan and the domain as key=value, or nil when no domain holds it. now
// lists the nodes as they are, drained as drainRoomsLocked sees them.
func drainInDomain(logger klog.Logger, key string, now, drained []NodeRoom, items []Item, required int) (*Placement, string) {
	freeNow := map[string]int64{}
	for _, r := range now {
		if r.Node != nil {
			if v, ok := r.Node.Labels[key]; ok {
				freeNow[v] += r.Free[v1.ResourceCPU]
			}
		}
	}
	domains := byDomain(drained, key)
	values := slices.Collect(maps.Keys(domains))
	slices.SortFunc(values, func(a, b string) int { return cmp.Or(-cmp.Compare(freeNow[a], freeNow[b]), cmp.Compare(a, b)) })
	for _, v := range values {
		if placement, _ := Plan(logger, domains[v], items, required, nil); placement != nil {
			return placement, key + "=" + v
		}
	}
	return nil, ""
}

// stopUselessDrainLocked ends the drain reservation of a group that can
// no longer be admitted for another reason than room (its spec became
// invalid, its queue holds it back, its PodGroup or members left), so the
// drained nodes serve others again.
func (m *Manager) stopUselessDrainLocked(acts *Actions) {
	d := m.drainer
	if d == nil || m.eligibleLocked(d, m.fairnessLocked()) {
		return
	}
	m.stopDrainingLocked(d)
	m.setReservedLocked(d, nil, metrics.ReservationFreed, acts)
}

// DrainedNodes returns the nodes reserved for a starving group other than
// exclude (which may be nil), or nil.
func (m *Manager) DrainedNodes(exclude *Key) map[string]bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d := m.drainer
	if d == nil || (exclude != nil && d.key == *exclude) {
		return nil
	}
	out := make(map[string]bool, len(d.reserved))
	for node := range d.reserved {
		out[node] = true
	}
	return out
}

// drainRoomsLocked is the planner's view for a drain reservation: every
// node as if its pods were gone (allocatable, less other groups'
// reservations), the nodes with the most room free now first, so that the
// group starts as soon as possible.
func (m *Manager) drainRoomsLocked(nodes []NodeRoom, key Key) []NodeRoom {
	rooms := slices.Clone(nodes)
	slices.SortStableFunc(rooms, func(a, b NodeRoom) int {
		return cmp.Or(-cmp.Compare(a.Free[v1.ResourceCPU], b.Free[v1.ResourceCPU]), cmp.Compare(a.Name, b.Name))
	})
	for i := range rooms {
		if rooms[i].Allocatable != nil {
			rooms[i].setFree(rooms[i].Allocatable.Clone())
		}
	}
	rooms = m.roomsLocked(rooms, key)
	// Plan breaks ties by rank: on equal empty nodes, it fills the ones
	// with the most room free now first.
	for i := range rooms {
		rooms[i].Rank = i
	}
	return rooms
}

// stopDrainingLocked ends g's drain reservation (it was admitted, or left).
func (m *Manager) stopDrainingLocked(g *Group) {
	g.draining = false
	if m.drainer == g {
		m.drainer = nil
	}
}
