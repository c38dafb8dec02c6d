package podgroup

import (
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/gangsched/gangsched/metrics"
)

// Tick runs the group timers: admitted groups past their permit deadline
// are released, groups bound half way past theirs are released with their
// bound members deleted, reservations past ReservationTimeout are freed,
// released groups whose backoff ended are activated, and so are members
// beyond a gang that their queue now lets in.
func (m *Manager) Tick(logger klog.Logger) Actions {
	m.mu.Lock()
	defer m.unlock()
	var acts Actions
	now := m.clock.Now()
	for _, key := range sortedKeys(m.groups) {
		g := m.groups[key]
		switch {
		case g.phase == PhaseAdmitted && len(g.victims) > 0 && now.Before(g.deadline):
			m.retryEvictionsLocked(g, now, &acts)
		case g.phase == PhaseAdmitted && len(g.victims) > 0 && !now.Before(g.deadline):
			m.releaseLocked(g, metrics.ReleaseVictims, fmt.Sprintf("%d preempted pods did not exit within %s", len(g.victims), m.cfg.VictimsTimeout), &acts)
		case g.phase == PhaseAdmitted && !now.Before(g.deadline):
			_, placed := g.counts()
			m.releaseLocked(g, metrics.ReleasePermitTimeout, fmt.Sprintf("only %d/%d members placed within %s", placed, g.spec.MinMember, m.permitTimeoutLocked(g)), &acts)
		case g.phase == PhasePending && !g.partialDeadline.IsZero() && !now.Before(g.partialDeadline):
			m.releasePartialLocked(g, &acts)
		case g.phase == PhaseRunning && len(g.reserved) > 0 && !now.Before(g.deadline):
			msg := fmt.Sprintf("pod group %s: freed %s reserved for members not created within %s", key, g.reservedTotal(), m.cfg.ReservationTimeout)
			m.setReservedLocked(g, nil, metrics.ReservationExpired, &acts)
			m.eventLocked(g, &acts, v1.EventTypeNormal, ReasonReservationExpired, msg)
		}
	}
	// The draining group tries again every tick, to start as soon as its
	// nodes have drained; with none draining, the first starving group is
	// tried, to get its drain reservation on time, not after the
	// scheduler's backoff.
	m.stopUselessDrainLocked(&acts)
	if d := m.drainer; d != nil {
		acts.Activate = append(acts.Activate, d.pendingPods()...)
	} else if g := m.firstStarvingLocked(logger, now, nil); g != nil && now.Sub(g.drainTried) >= m.cfg.DrainRetry {
		g.drainTried = now
		acts.Activate = append(acts.Activate, g.pendingPods()...)
	}
	m.forgetDeletedPodsLocked(now)
	for key, r := range m.retry {
		g := m.groups[key]
		if g == nil {
			delete(m.retry, key)
			continue
		}
		if !now.Before(r.at) && g.phase == PhasePending && !r.activated() {
			acts.Activate = append(acts.Activate, g.pendingPods()...)
			r.at = time.Time{}
			m.retry[key] = r
		}
	}
	m.retryHeldBackLocked(&acts)
	return acts
}

// ForgetDeletedPods forgets members deleted longer than deletedPodsMemory
// ago, as Tick does; for a standby replica, which runs no timers.
func (m *Manager) ForgetDeletedPods() {
	m.mu.Lock()
	defer m.unlock()
	m.forgetDeletedPodsLocked(m.clock.Now())
}

func (m *Manager) forgetDeletedPodsLocked(now time.Time) {
	for uid, at := range m.deletedPods {
		if now.Sub(at) > deletedPodsMemory {
			delete(m.deletedPods, uid)
		}
	}
}

func (r retryState) activated() bool { return r.at.IsZero() }
