package podgroup

import (
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/gangsched/gangsched/metrics"
	"github.com/gangsched/gangsched/resources"
)

// Assume records that the scheduler placed a member on node (Reserve): the
// member takes its room from the group's reservation, on that node first,
// then on its planned node, then on the others by name.
func (m *Manager) Assume(pod *v1.Pod, node string) {
	key, ok := KeyOf(pod)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[key]
	if g == nil {
		return
	}
	mb := g.members[pod.UID]
	if mb == nil {
		return
	}
	mb.state = memberAssumed
	mb.taken = nil
	if len(g.reserved) == 0 {
		return
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
		need.Sub(take)
		mb.taken[n] = take
		if r.IsZero() {
			delete(g.reserved, n)
		}
	}
	delete(g.planned, pod.UID)
	if len(g.reserved) == 0 && m.reserving[g.key] != nil {
		delete(m.reserving, g.key)
		metrics.ReservationHold.WithLabelValues(metrics.ReservationUsed).Observe(metrics.Since(m.clock.Now(), g.reservedSince))
	}
}

// Forget undoes Assume (Unreserve): the member gives back what it took. A
// group that had not reached MinMember is released whole, so no partial
// group keeps resources.
func (m *Manager) Forget(pod *v1.Pod) Actions {
	var acts Actions
	key, ok := KeyOf(pod)
	if !ok {
		return acts
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[key]
	if g == nil {
		return acts
	}
	mb := g.members[pod.UID]
	if mb == nil || mb.state != memberAssumed {
		return acts
	}
	mb.state = memberPending
	if len(mb.taken) > 0 && (g.phase == PhaseAdmitted || g.phase == PhaseRunning) {
		if g.reserved == nil {
			g.reserved = map[string]resources.List{}
		}
		for n, r := range mb.taken {
			if g.reserved[n] == nil {
				g.reserved[n] = resources.List{}
			}
			g.reserved[n].Add(r)
		}
		m.reserving[g.key] = g
	}
	mb.taken = nil
	if g.phase == PhaseAdmitted {
		_, placed := g.counts()
		if !m.clock.Now().Before(g.deadline) {
			// The framework's permit timer fired: say so.
			m.releaseLocked(g, metrics.ReleasePermitTimeout, fmt.Sprintf("only %d/%d members placed within %s",
				placed+1, g.spec.MinMember, m.permitTimeoutLocked(g)), &acts)
		} else {
			m.releaseLocked(g, metrics.ReleaseUnbound, fmt.Sprintf("member %s was not bound (binding failed) with %d/%d members placed",
				klog.KObj(pod), placed+1, g.spec.MinMember), &acts)
		}
	}
	return acts
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
	defer m.mu.Unlock()
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
	g.deadline = now.Add(m.cfg.ReservationTimeout)
	g.partialDeadline = time.Time{}
	delete(m.retry, g.key)
	acts.Statuses = append(acts.Statuses, g.key)
	// Room for members not created yet must outlive a restart: the
	// deadline goes on the group's object, and a new instance reserves the
	// room again (see Restore).
	if len(g.reserved) > 0 {
		if obj := g.eventObject(); obj != nil {
			acts.Persist = append(acts.Persist, Persist{Object: obj, ReservedUntil: g.deadline})
		}
	}
}

// Bound records that a member's binding succeeded (PostBind).
func (m *Manager) Bound(pod *v1.Pod, node string) {
	key, ok := KeyOf(pod)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if g := m.groups[key]; g != nil {
		if mb := g.members[pod.UID]; mb != nil && mb.state == memberAssumed {
			mb.state = memberBound
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
	defer m.mu.Unlock()
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
	g.pendingSince = m.clock.Now()
	g.planned = nil
	g.failure = nil
	g.victims = nil
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
