package podgroup

import (
	"fmt"
	"maps"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/gangsched/gangsched/metrics"
	"github.com/gangsched/gangsched/resources"
)

// Assume records that the scheduler placed a member on node (Reserve): the
// member takes its room from the group's reservation, on that node first,
// then on its planned node, then on the others by name. Room it takes from
// the reservation on another node than its own is free again there: the
// pods that wait for room are activated.
func (m *Manager) Assume(pod *v1.Pod, node string) Actions {
	var acts Actions
	key, ok := KeyOf(pod)
	if !ok {
		return acts
	}
	m.mu.Lock()
	defer m.unlock()
	g := m.groups[key]
	if g == nil {
		return acts
	}
	mb := g.members[pod.UID]
	if mb == nil {
		return acts
	}
	defer m.countLocked(g)
	mb.state = memberAssumed
	mb.node = node
	mb.taken = nil
	if len(g.reserved) == 0 {
		return acts
	}
	need := resources.PodRequests(pod)
	order := []string{node}
	if p := g.planned[pod.UID]; p != "" && p != node {
		order = append(order, p)
	}
	for _, n := range sortedNodeNames(g.reserved) {
		if n != node && n != g.planned[pod.UID] {
			order = append(order, n)
		}
	}
	mb.taken = map[string]resources.List{}
	for _, n := range order {
		if need.IsZero() {
			break
		}
		r := g.reserved[n]
		if r == nil {
			continue
		}
		take := need.Min(r).NonNegative()
		if take.IsZero() {
			continue
		}
		r.Sub(take)
		addTo(m.reservedOn, n, take, -1)
		need.Sub(take)
		mb.taken[n] = take
		if r.IsZero() {
			delete(g.reserved, n)
			m.changedLocked(g)
		}
	}
	delete(g.planned, pod.UID)
	if len(g.reserved) == 0 && m.reserving[g.key] != nil {
		delete(m.reserving, g.key)
		metrics.ReservationHold.WithLabelValues(metrics.ReservationUsed).Observe(metrics.Since(m.clock.Now(), g.reservedSince))
	}
	for n := range mb.taken {
		if n != node {
			m.generation++
			m.activateWaitingLocked(&acts)
			break
		}
	}
	return acts
}

// Forget undoes Assume (Unreserve): the member gives back what it took. A
// group that had not reached MinMember is released whole, so no partial
// group keeps resources.
func (m *Manager) Forget(pod *v1.Pod) Actions { return m.forget(pod, false) }

// ForgetDeleted is Forget for a member that was deleted while it waited in
// Permit or was being bound: the release, if any, names the deletion as its
// cause.
func (m *Manager) ForgetDeleted(pod *v1.Pod) Actions { return m.forget(pod, true) }

func (m *Manager) forget(pod *v1.Pod, deleted bool) Actions {
	var acts Actions
	key, ok := KeyOf(pod)
	if !ok {
		return acts
	}
	m.mu.Lock()
	defer m.unlock()
	g := m.groups[key]
	if g == nil {
		return acts
	}
	mb := g.members[pod.UID]
	if mb == nil || mb.state != memberAssumed {
		return acts
	}
	defer m.countLocked(g)
	mb.state = memberPending
	m.giveBackLocked(g, mb)
	if g.phase == PhaseAdmitted {
		_, placed := g.counts()
		switch {
		case deleted:
			m.releaseLocked(g, metrics.ReleaseMemberDeleted, deletedMessage(pod, placed+1, g.spec.MinMember), &acts)
		case !m.clock.Now().Before(g.deadline):
			// The framework's permit timer fired: say so.
			m.releaseLocked(g, metrics.ReleasePermitTimeout, fmt.Sprintf("only %d/%d members placed within %s",
				placed+1, g.spec.MinMember, m.permitTimeoutLocked(g)), &acts)
		default:
			m.releaseLocked(g, metrics.ReleaseUnbound, fmt.Sprintf("member %s was not bound (binding failed) with %d/%d members placed",
				klog.KObj(pod), placed+1, g.spec.MinMember), &acts)
		}
	}
	return acts
}

// giveBackLocked returns the room an assumed member took to its group's
// reservation, while the group still holds one (admitted or running).
func (m *Manager) giveBackLocked(g *Group, mb *member) {
	if len(mb.taken) > 0 && (g.phase == PhaseAdmitted || g.phase == PhaseRunning) {
		if g.reserved == nil {
			g.reserved = map[string]resources.List{}
		}
		for n, r := range mb.taken {
			if g.reserved[n] == nil {
				g.reserved[n] = resources.List{}
			}
			g.reserved[n].Add(r)
			addTo(m.reservedOn, n, r, 1)
		}
		m.reserving[g.key] = g
		m.changedLocked(g)
	}
	mb.taken = nil
}

// memberDeletedLocked handles a member deleted while its group is admitted
// and short of MinMember placed: if the member was placed, or the group is
// left with fewer than MinMember members, the group is released whole now,
// not at its permit deadline, and the Event names the member. prev is the
// member's state before the deletion; the member no longer counts in g.
func (m *Manager) memberDeletedLocked(g *Group, pod *v1.Pod, prev memberState, acts *Actions) {
	if g.phase != PhaseAdmitted || (prev != memberAssumed && prev != memberPending) {
		return
	}
	live, placed := g.counts()
	if prev == memberPending && int32(live) >= g.spec.MinMember {
		return // enough members remain to reach quorum
	}
	if prev == memberAssumed {
		// The deleted pod itself is not rejected here: kube-scheduler
		// rejects a waiting pod it sees deleted, and two rejections of one
		// waiting pod at once race inside kube-scheduler (waitingPod's
		// stopWithStatus writes under a read lock).
		placed++
	}
	m.releaseLocked(g, metrics.ReleaseMemberDeleted, deletedMessage(pod, placed, g.spec.MinMember), acts)
}

// deletedMessage says that a member was deleted before its group was bound;
// placed counts it if it was placed.
func deletedMessage(pod *v1.Pod, placed int, minMember int32) string {
	return fmt.Sprintf("member %s was deleted before the group was bound, with %d/%d members placed", klog.KObj(pod), placed, minMember)
}

// PermitDecision is what Permit does with a placed member.
type PermitDecision struct {
	// Allow lets the pod through; otherwise it waits up to Wait, or is
	// rejected with Message when Wait is zero.
	Allow   bool
	Wait    time.Duration
	Message string
	Actions
}

// Permit decides whether a placed member may bind: once MinMember members
// are placed, all of them go; before that they wait, at most until the
// group's permit deadline.
func (m *Manager) Permit(pod *v1.Pod) PermitDecision {
	key, ok := KeyOf(pod)
	if !ok {
		return PermitDecision{Allow: true}
	}
	m.mu.Lock()
	defer m.unlock()
	g := m.groups[key]
	if g == nil {
		return PermitDecision{Allow: true}
	}
	var d PermitDecision
	switch g.phase {
	case PhaseRunning:
		d.Allow = true
		return d
	case PhaseAdmitted:
	default:
		d.Message = fmt.Sprintf("pod group %s was released before its members were placed", key)
		return d
	}
	now := m.clock.Now()
	_, placed := g.counts()
	if int32(placed) >= g.spec.MinMember {
		m.reachQuorumLocked(g, now, &d.Actions)
		for _, uid := range sortedUIDs(g.members) {
			if mb := g.members[uid]; mb.state == memberAssumed && uid != pod.UID {
				d.Actions.Allow = append(d.Actions.Allow, uid)
			}
		}
		d.Allow = true
		return d
	}
	wait := g.deadline.Sub(now)
	if wait <= 0 {
		d.Message = fmt.Sprintf("pod group %s: only %d/%d members placed within %s", key, placed, g.spec.MinMember, m.permitTimeoutLocked(g))
		m.releaseLocked(g, metrics.ReleasePermitTimeout, d.Message, &d.Actions)
		return d
	}
	d.Activate = g.pendingPods()
	d.Wait = wait
	d.Message = fmt.Sprintf("pod group %s has %d/%d members placed", key, placed, g.spec.MinMember)
	return d
}

// reachQuorumLocked moves an admitted group to Running; what is still
// reserved is held for members not yet created until ReservationTimeout.
func (m *Manager) reachQuorumLocked(g *Group, now time.Time, acts *Actions) {
	g.phase = PhaseRunning
	m.changedLocked(g)
	g.deadline = now.Add(m.cfg.ReservationTimeout)
	g.partialDeadline = time.Time{}
	delete(m.retry, g.key)
	acts.Statuses = append(acts.Statuses, g.key)
	// What the group was admitted with must outlive a restart or
	// failover: the quorum record and the deadline of the room still
	// reserved go on the group's object before any member binds
	// (Unpersisted); a new instance finishes a binding it finds
	// interrupted (observeBoundLocked) and reserves the room again
	// (Restore).
	g.unpersisted = nil
	if obj := g.eventObject(); obj != nil {
		p := &Persist{Object: obj, Quorum: formatQuorum(now, g.placedUIDs()), Domain: g.domainRecord()}
		if len(g.reserved) > 0 {
			p.ReservedUntil = g.deadline
			p.Reservation = make(map[string]resources.List, len(g.reserved))
			for node, r := range g.reserved {
				p.Reservation[node] = r.Clone()
			}
		}
		g.unpersisted = p
		g.record = &quorumRecord{at: now.Truncate(time.Second), members: map[types.UID]bool{}}
		for _, uid := range g.placedUIDs() {
			g.record.members[uid] = true
		}
	}
}

// Unpersisted returns what pod's group must write on its object before
// its members bind (see Persist): members of a group that reached
// MinMember write it in PreBind. Were it written after a binding, a
// scheduler that crashed in between would leave its successor with a
// group bound half way and no trace of the quorum or the room it held.
func (m *Manager) Unpersisted(pod *v1.Pod) (Persist, bool) {
	key, ok := KeyOf(pod)
	if !ok {
		return Persist{}, false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[key]
	if g == nil || g.unpersisted == nil || g.phase != PhaseRunning {
		return Persist{}, false
	}
	return *g.unpersisted, true
}

// RecordDue reports whether pod's binding may have to wait for its group's
// quorum record (see Unpersisted): the group is admitted and short of its
// quorum, so the pod may complete it or wait in Permit for the member
// that does, or the group reached quorum and its record is still to write.
func (m *Manager) RecordDue(pod *v1.Pod) bool {
	key, ok := KeyOf(pod)
	if !ok {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[key]
	return g != nil && (g.phase == PhaseAdmitted || (g.phase == PhaseRunning && g.unpersisted != nil))
}

// Persisted records that p, from Unpersisted, was written.
func (m *Manager) Persisted(pod *v1.Pod, p Persist) {
	key, ok := KeyOf(pod)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.unlock()
	// A record made again meanwhile (the room planned anew) is still to
	// write.
	if g := m.groups[key]; g != nil && g.unpersisted != nil && maps.Equal(g.unpersisted.Annotations(), p.Annotations()) {
		g.unpersisted = nil
	}
}

// Bound records that a member's binding succeeded (PostBind).
func (m *Manager) Bound(pod *v1.Pod, node string) {
	key, ok := KeyOf(pod)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.unlock()
	if g := m.groups[key]; g != nil {
		if mb := g.members[pod.UID]; mb != nil && mb.state == memberAssumed {
			mb.state = memberBound
			m.countLocked(g)
		}
	}
}

// Unplaceable handles a member of an admitted group that fits on no node
// (PostFilter): before quorum, the whole group is released.
func (m *Manager) Unplaceable(pod *v1.Pod, why string) Actions {
	var acts Actions
	key, ok := KeyOf(pod)
	if !ok {
		return acts
	}
	m.mu.Lock()
	defer m.unlock()
	if g := m.groups[key]; g != nil && g.phase == PhaseAdmitted && len(g.victims) == 0 {
		m.releaseLocked(g, metrics.ReleaseUnplaceable, fmt.Sprintf("member %s fits on no node: %s", klog.KObj(pod), why), &acts)
	}
	return acts
}

// releaseLocked rolls an admitted group back whole: waiting members are
// rejected, the reservation freed, and the group waits a backoff before it
// is admitted again.
func (m *Manager) releaseLocked(g *Group, code, reason string, acts *Actions) {
	metrics.GroupReleases.WithLabelValues(code).Inc()
	for _, uid := range sortedUIDs(g.members) {
		mb := g.members[uid]
		if mb.state == memberAssumed {
			acts.Reject = append(acts.Reject, Rejection{UID: uid, Message: fmt.Sprintf("pod group %s released: %s", g.key, reason)})
			mb.state = memberPending
		}
		mb.taken = nil
	}
	g.phase = PhasePending
	m.changedLocked(g)
	g.pendingSince = m.clock.Now()
	g.unpersisted = nil
	g.planned = nil
	g.failure = nil
	m.forgetVictimsLocked(g)
	r := m.retry[g.key]
	backoff := m.cfg.RetryBackoff << min(r.releases, 10)
	if m.cfg.MaxRetryBackoff > 0 {
		backoff = min(backoff, m.cfg.MaxRetryBackoff)
	}
	m.retry[g.key] = retryState{at: m.clock.Now().Add(backoff), releases: r.releases + 1, reason: reason}
	m.setReservedLocked(g, nil, metrics.ReservationFreed, acts)
	m.eventLocked(g, acts, v1.EventTypeWarning, ReasonReleased, fmt.Sprintf("pod group %s released: %s; retry in %s", g.key, reason, backoff))
	acts.Statuses = append(acts.Statuses, g.key)
}
