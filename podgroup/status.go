package podgroup

import (
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
)

// PodGroupStatus returns the status a PodGroup should show, observed from
// its pods (not from intent), and the PodGroup it belongs on; ok is false
// when the group has no PodGroup object.
//
// Phases, in scheduler-plugins' terms: Pending (not admitted), Scheduling
// (admitted, fewer than minMember running), Running (minMember running or
// done, some running; it stays Running while a member that ended is
// replaced), Finished (all ended, minMember succeeded), Failed
// (all ended, fewer succeeded).
func (m *Manager) PodGroupStatus(key Key) (*schedv1alpha1.PodGroup, schedv1alpha1.PodGroupStatus, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[key]
	if g == nil || g.podGroup == nil || g.key.Kind != KindPodGroup {
		return nil, schedv1alpha1.PodGroupStatus{}, false
	}
	st := *g.podGroup.Status.DeepCopy()
	st.Running, st.Succeeded, st.Failed = 0, 0, 0
	live := 0
	for _, mb := range g.members {
		switch mb.pod.Status.Phase {
		case v1.PodRunning:
			if mb.live() {
				st.Running++
			}
		case v1.PodSucceeded:
			st.Succeeded++
		case v1.PodFailed:
			st.Failed++
		}
		if mb.live() {
			live++
		}
	}
	min := g.spec.MinMember
	switch {
	case live == 0 && len(g.members) > 0 && st.Succeeded >= min:
		st.Phase = schedv1alpha1.PodGroupFinished
	case live == 0 && st.Failed > 0:
		st.Phase = schedv1alpha1.PodGroupFailed
	case st.Running > 0 && st.Running+st.Succeeded >= min:
		st.Phase = schedv1alpha1.PodGroupRunning
	case st.Running > 0 && g.phase == PhaseRunning && g.podGroup.Status.Phase == schedv1alpha1.PodGroupRunning:
		// A failed member being replaced does not undo Running: a new
		// scheduler instance reads it as "ran whole" (see Group.onNodes).
		st.Phase = schedv1alpha1.PodGroupRunning
	case g.phase == PhaseAdmitted || g.phase == PhaseRunning:
		st.Phase = schedv1alpha1.PodGroupScheduling
	default:
		st.Phase = schedv1alpha1.PodGroupPending
	}
	if !g.scheduleStart.IsZero() && st.ScheduleStartTime.IsZero() {
		st.ScheduleStartTime = metav1.NewTime(g.scheduleStart.Truncate(time.Second))
	}
	return g.podGroup, st, true
}

// StatusEqual reports whether two PodGroup statuses show the same thing, at
// the second precision the API keeps.
func StatusEqual(a, b schedv1alpha1.PodGroupStatus) bool {
	return a.Phase == b.Phase && a.Running == b.Running && a.Succeeded == b.Succeeded && a.Failed == b.Failed &&
		a.OccupiedBy == b.OccupiedBy && a.ScheduleStartTime.Unix() == b.ScheduleStartTime.Unix()
}
