package podgroup

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/gangsched/gangsched/metrics"
	"github.com/gangsched/gangsched/resources"
)

// Causes of a conflict over reserved room, the values of the cause label of
// metrics.ReservationConflicts.
const (
	// ReservationNodeDeleted: a node holding reserved room was deleted.
	ReservationNodeDeleted = "node_deleted"
	// ReservationNodeClosed: a node holding reserved room was cordoned, or
	// tainted against the members.
	ReservationNodeClosed = "node_closed"
	// ReservationResized: a member came larger than the group declared,
	// and the room still reserved was planned for members of its size.
	ReservationResized = "member_larger"
	// ReservationTaken: a pod that never passed gangsched's Filter (another
	// scheduler's, a DaemonSet's, one naming its node itself) took reserved
	// room.
	ReservationTaken = "taken"
)

// foreignPod is a pod of another scheduler (or one that named its node
// itself) on a node.
type foreignPod struct {
	node     string
	requests resources.List
}

// UpsertForeignPod records a pod that this scheduler does not place: its
// room is not the queues' to share, and, bound to a node where groups
// reserved room (its pod never passed gangsched's Filter), it may take
// that room, which the next scheduling cycle checks (checkDisturbedLocked).
func (m *Manager) UpsertForeignPod(pod *v1.Pod) Actions {
	m.mu.Lock()
	defer m.unlock()
	var acts Actions
	if pod.DeletionTimestamp != nil || pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
		m.foreignGoneLocked(pod.UID, &acts)
		return acts
	}
	if pod.Spec.NodeName == "" {
		return acts
	}
	if old, ok := m.foreign[pod.UID]; ok && old.node == pod.Spec.NodeName {
		return acts
	}
	m.foreignGoneLocked(pod.UID, &acts)
	fp := foreignPod{node: pod.Spec.NodeName, requests: withoutPods(resources.PodRequests(pod))}
	m.foreign[pod.UID] = fp
	m.addForeignLocked(fp.node, fp.requests, 1)
	if m.reservedOnNodeLocked(fp.node) {
		m.disturbLocked(fp.node, ReservationTaken)
	}
	return acts
}

// DeleteForeignPod forgets a pod UpsertForeignPod recorded; a preemption
// victim among them counts as gone.
func (m *Manager) DeleteForeignPod(pod *v1.Pod) Actions {
	m.mu.Lock()
	defer m.unlock()
	var acts Actions
	m.foreignGoneLocked(pod.UID, &acts)
	return acts
}

func (m *Manager) foreignGoneLocked(uid types.UID, acts *Actions) {
	m.victimGoneLocked(uid, acts)
	fp, ok := m.foreign[uid]
	if !ok {
		return
	}
	delete(m.foreign, uid)
	m.addForeignLocked(fp.node, fp.requests, -1)
	m.generation++
}

// addForeignLocked adds sign times r to what foreign pods use on node.
func (m *Manager) addForeignLocked(node string, r resources.List, sign int64) {
	u := m.foreignUse[node]
	if u == nil {
		u = resources.List{}
		m.foreignUse[node] = u
	}
	u.Add(r.Scaled(sign))
	if u.IsZero() {
		delete(m.foreignUse, node)
	}
	m.capacity = nil
}

// reservedOnNodeLocked reports whether any group holds room on node.
func (m *Manager) reservedOnNodeLocked(node string) bool {
	for _, g := range m.reserving {
		if g.reserved[node] != nil {
			return true
		}
	}
	return false
}

// disturbLocked notes that reserved room on node may no longer be there,
// for the next scheduling cycle to check.
func (m *Manager) disturbLocked(node, cause string) {
	if m.disturbed[node] == "" || cause == ReservationNodeClosed {
		m.disturbed[node] = cause
	}
	m.restorePending = true
}

// checkDisturbedLocked checks, on the cycle's nodes, the reservations on
// nodes disturbed since the last cycle:
//
//   - room taken: where what groups reserve on a node is more than the node
//     has free (other pods took it), the groups holding room there are
//     planned again, one at a time, until the node holds what is reserved;
//   - node closed: a group whose members the node no longer admits has its
//     room there planned again on other nodes.
//
// What cannot be planned again is said in a ReservationLost Event: a
// running group keeps the room left on the node; an admitted group still
// gathering its members is released whole, to be admitted again.
func (m *Manager) checkDisturbedLocked(logger klog.Logger, nodes Nodes, acts *Actions) {
	if len(m.disturbed) == 0 {
		return
	}
	rooms := map[string]*NodeRoom{}
	all := nodes.Rooms()
	for i := range all {
		rooms[all[i].Name] = &all[i]
	}
	for _, node := range slices.Sorted(maps.Keys(m.disturbed)) {
		cause := m.disturbed[node]
		room := rooms[node]
		if room == nil {
			continue // deleted: nodeGoneLocked handles it
		}
		for _, key := range sortedKeys(m.reserving) {
			g := m.reserving[key]
			r := g.reserved[node]
			if r == nil || g.draining || len(g.victims) > 0 {
				continue
			}
			switch cause {
			case ReservationTaken:
				over := m.reservedOnLocked([]NodeRoom{*room}, Key{})
				if over.Fits(room.Free) {
					continue
				}
				m.replanLocked(logger, g, nodes, nil, cause, fmt.Sprintf(
					"pods this scheduler did not place took room reserved on node %s (%s reserved there, %s free)", node, over, room.Free.NonNegative()), acts)
			case ReservationNodeClosed:
				if NodeAdmits(logger, g.memberTemplate(), room.Node) {
					continue
				}
				m.replanLocked(logger, g, nodes, map[string]struct{}{node: {}}, cause, fmt.Sprintf(
					"node %s, with %s reserved there, was cordoned or tainted against the group's members", node, r), acts)
			}
		}
	}
	clear(m.disturbed)
}

// replanLocked plans again, on the cycle's nodes but the excluded ones,
// what an admitted or running group still needs: the pending members
// and members not created yet. On success the reservation (and the
// pending members' planned nodes) move; otherwise a running group keeps
// what it holds on the nodes left, cut to what they have free, and an
// admitted one is released whole. what says what happened, for Events;
// cause labels metrics.ReservationConflicts.
func (m *Manager) replanLocked(logger klog.Logger, g *Group, nodes Nodes, exclude map[string]struct{}, cause, what string, acts *Actions) bool {
	_, placed := g.counts()
	items, required := m.itemsLocked(g, placed)
	rooms := slices.DeleteFunc(slices.Clone(m.roomsLocked(nodes.Rooms(), g.key)), func(r NodeRoom) bool {
		_, excluded := exclude[r.Name]
		return excluded || g.outsideDomain(r)
	})
	placement, short := Plan(logger, rooms, items, required, simulationOf(nodes, nil))
	if short != nil {
		metrics.ReservationConflicts.WithLabelValues(cause, metrics.ConflictLost).Inc()
		if g.phase == PhaseAdmitted {
			m.releaseLocked(g, metrics.ReleaseRoomLost, fmt.Sprintf("%s, and the group fits nowhere else (%s)", what, short.Message()), acts)
			return false
		}
		m.trimReservationLocked(g, rooms, exclude, acts)
		g.recordMoved()
		m.eventLocked(g, acts, v1.EventTypeWarning, ReasonReservationLost, fmt.Sprintf(
			"pod group %s: %s; no other node has room for it (%s), so it is no longer reserved", g.key, what, short.Message()))
		logger.V(2).Info("Reserved room lost", "podGroup", g.key, "cause", cause)
		return false
	}
	metrics.ReservationConflicts.WithLabelValues(cause, metrics.ConflictReplanned).Inc()
	g.planned = map[types.UID]string{}
	for i, it := range items {
		if it.Pod != nil && placement.Nodes[i] != "" {
			g.planned[it.Pod.UID] = placement.Nodes[i]
		}
	}
	m.setReservedLocked(g, placement.PerNode, "", acts)
	g.recordMoved()
	m.generation++
	m.eventLocked(g, acts, v1.EventTypeNormal, ReasonReservationReplanned, fmt.Sprintf(
		"pod group %s: %s; %s reserved again on %s for members not placed yet",
		g.key, what, g.reservedTotal(), strings.Join(sortedNodeNames(placement.PerNode), ", ")))
	logger.V(2).Info("Planned reserved room again", "podGroup", g.key, "cause", cause, "nodes", sortedNodeNames(placement.PerNode))
	return true
}

// outsideDomain reports whether node r is outside the topology domain g was
// admitted in: a group admitted in a domain stays in it.
func (g *Group) outsideDomain(r NodeRoom) bool {
	label, value, confined := strings.Cut(g.domain, "=")
	return confined && (r.Node == nil || r.Node.Labels[label] != value)
}

// trimReservationLocked cuts g's reservation to what the nodes hold: none
// on excluded nodes, and on the others at most what they have free after
// other groups' reservations (rooms).
func (m *Manager) trimReservationLocked(g *Group, rooms []NodeRoom, exclude map[string]struct{}, acts *Actions) {
	free := map[string]resources.List{}
	for _, r := range rooms {
		free[r.Name] = r.Free.NonNegative()
	}
	kept := map[string]resources.List{}
	for node, r := range g.reserved {
		if _, excluded := exclude[node]; excluded {
			continue
		}
		if f, ok := free[node]; ok {
			if k := r.Min(f).NonNegative(); !withoutPods(k).IsZero() {
				kept[node] = k
			}
		}
	}
	m.setReservedLocked(g, kept, "", acts)
	m.generation++
}

// ReasonLargerThanDeclared is the Event reason on a group whose member came
// larger than its declared member size.
const ReasonLargerThanDeclared = "MemberLargerThanDeclared"

// checkMemberSizeLocked compares a new member (not a Spark driver) with
// the size the group declared for its members: one that requests more
// (sidecars, overhead, a template that adds containers) is said in an
// Event, and the room still reserved for members to come is planned again
// for members of the real size at the next scheduling cycle, rather than
// left short (see Group.virtualItems).
func (m *Manager) checkMemberSizeLocked(g *Group, mb *member, acts *Actions) {
	declared := g.declaredShape()
	if declared == nil || IsSparkDriver(mb.pod) {
		return
	}
	var over []string
	for name, v := range withoutPods(mb.requests) {
		if d := declared[name]; v > d {
			over = append(over, fmt.Sprintf("%s %s (declared %s)", name, resources.Format(name, v), resources.Format(name, d)))
		}
	}
	if len(over) == 0 {
		return
	}
	slices.Sort(over)
	what := fmt.Sprintf("member %s requests more than the group declares for one member: %s", klog.KObj(mb.pod), strings.Join(over, ", "))
	if g.phase == PhaseRunning && len(g.reserved) > 0 {
		g.resized = what
		m.restorePending = true
		what += "; the room still reserved is planned again for members of its size"
	}
	m.eventLocked(g, acts, v1.EventTypeWarning, ReasonLargerThanDeclared, fmt.Sprintf("pod group %s: %s", g.key, what))
}
