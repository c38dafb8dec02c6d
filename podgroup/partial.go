package podgroup

import (
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/gangsched/gangsched/metrics"
)

// observeBoundLocked looks at a pending group's members on nodes, once its
// spec is known (a PodGroup's members may be seen before the PodGroup, and
// the default MinMember of 1 must not make them look complete):
//
//   - a group that ran whole (see onNodes) is Running, whoever admitted it
//     (this scheduler before a restart, or someone else);
//   - a group with members bound, but not MinMember of them, was bound half
//     way: a scheduler crashed while binding it. Nothing bound half way may
//     stay so. The rest gets the permit timeout to be admitted and placed;
//     if it is not, the group is released whole, bound members deleted
//     (releasePartialLocked, run by Tick).
func (m *Manager) observeBoundLocked(g *Group) {
	if g.phase != PhasePending || !g.spec.Valid() || (g.key.Kind == KindPodGroup && g.podGroup == nil) {
		return
	}
	bound, ranWhole := g.onNodes()
	switch {
	case ranWhole && bound > 0:
		g.phase = PhaseRunning
		g.partialDeadline = time.Time{}
	case bound > 0 && !ranWhole && g.partialDeadline.IsZero():
		g.partialDeadline = m.clock.Now().Add(m.permitTimeoutLocked(g))
	}
}

// releasePartialLocked releases a group still bound half way at its
// partial deadline: it is rolled back whole (releaseLocked) and its bound
// members are deleted, each with an Event saying why. The deadline is set
// again, so deletions that fail are issued again then; it is cleared once
// no member is bound or the group ran whole.
func (m *Manager) releasePartialLocked(g *Group, acts *Actions) {
	bound, ranWhole := g.onNodes()
	if bound == 0 || ranWhole {
		g.partialDeadline = time.Time{}
		return
	}
	timeout := m.permitTimeoutLocked(g)
	g.partialDeadline = m.clock.Now().Add(timeout)
	var pods []*v1.Pod
	var names []string
	for _, uid := range sortedUIDs(g.members) {
		if mb := g.members[uid]; mb.state == memberBound {
			pods = append(pods, mb.pod)
			names = append(names, mb.pod.Name)
		}
	}
	why := fmt.Sprintf("only %d/%d members bound (by an earlier scheduler) and the rest not placed within %s", bound, g.spec.MinMember, timeout)
	m.releaseLocked(g, metrics.ReleasePartial, fmt.Sprintf("%s; deleting bound members %s", why, strings.Join(names, ", ")), acts)
	for _, p := range pods {
		msg := fmt.Sprintf("pod group %s released whole: %s; deleting member %s (UID %s), so that no part of the group stays bound", g.key, why, p.Name, p.UID)
		acts.Delete = append(acts.Delete, Deletion{Pod: p, Message: msg})
		acts.Events = append(acts.Events, Event{Object: p, Type: v1.EventTypeWarning, Reason: ReasonReleased, Message: msg})
	}
}
