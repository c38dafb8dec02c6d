package podgroup

import (
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gangsched/gangsched/metrics"
)

// quorumRecord is a group's AnnotationQuorum: when it reached quorum, and
// the members placed then.
type quorumRecord struct {
	at      time.Time
	members map[types.UID]bool
}

// formatQuorum renders AnnotationQuorum.
func formatQuorum(at time.Time, members []types.UID) string {
	uids := make([]string, len(members))
	for i, uid := range members {
		uids[i] = string(uid)
	}
	return at.UTC().Format(time.RFC3339) + " " + strings.Join(uids, ",")
}

// parseQuorum reads AnnotationQuorum; nil when it is malformed.
func parseQuorum(v string) *quorumRecord {
	at, members, ok := ParseQuorum(v)
	if !ok {
		return nil
	}
	r := &quorumRecord{at: at, members: map[types.UID]bool{}}
	for _, uid := range members {
		r.members[uid] = true
	}
	return r
}

// ParseQuorum reads AnnotationQuorum: when the group was admitted whole,
// and the members placed together then; ok is false when v is malformed.
func ParseQuorum(v string) (at time.Time, members []types.UID, ok bool) {
	when, list, found := strings.Cut(v, " ")
	at, err := time.Parse(time.RFC3339, when)
	if !found || err != nil {
		return time.Time{}, nil, false
	}
	for _, uid := range strings.Split(list, ",") {
		if uid != "" {
			members = append(members, types.UID(uid))
		}
	}
	return at, members, true
}

// noteQuorum takes up the quorum record on the group's object,
// unless the group holds a newer one.
func (g *Group) noteQuorum(annotations map[string]string) {
	v, ok := annotations[AnnotationQuorum]
	if !ok {
		return
	}
	if r := parseQuorum(v); r != nil && (g.record == nil || r.at.After(g.record.at)) {
		g.record = r
	}
}

// placedUIDs lists the placed live members, by UID.
func (g *Group) placedUIDs() []types.UID {
	var out []types.UID
	for _, uid := range sortedUIDs(g.members) {
		if mb := g.members[uid]; mb.live() && mb.placed() {
			out = append(out, uid)
		}
	}
	return out
}

// recordState tells what the quorum record says of the group's members:
// current when it names a member the group has (a record of an earlier run
// of a reused PodGroup names none), and interrupted when a member it names
// is live and not placed: a scheduler admitted the group whole and crashed
// before binding all of it.
func (g *Group) recordState() (current, interrupted bool) {
	if g.record == nil {
		return false, false
	}
	for uid := range g.record.members {
		mb := g.members[uid]
		if mb == nil {
			continue
		}
		current = true
		if mb.state == memberPending {
			interrupted = true
		}
	}
	return current, interrupted
}

// observeBoundLocked looks at a pending group's members on nodes, once its
// spec is known (a PodGroup's members may be seen before the PodGroup, and
// the default MinMember of 1 must not make them look complete). What it
// decides rests on what was recorded, never on a guess from the members
// alone:
//
//   - a group that ran whole (see onNodes) is Running, whoever admitted it
//     (this scheduler before a restart, or someone else);
//   - a group whose quorum record names members still pending was bound
//     half way: a scheduler crashed while binding it. Nothing bound half
//     way may stay so. The rest gets the permit timeout to be admitted and
//     placed; if it is not, the group is released whole, bound members
//     deleted (releasePartialLocked, run by Tick);
//   - a group with fewer than MinMember bound and no such record (bound by
//     someone else, or by a version that kept no record) waits for the rest
//     to be admitted, and nothing of it is deleted.
func (m *Manager) observeBoundLocked(g *Group) {
	if g.phase != PhasePending || !g.spec.Valid() || (g.key.Kind != KindSparkApp && g.podGroup == nil) {
		return
	}
	bound, ranWhole := g.onNodes()
	if bound == 0 {
		return
	}
	_, interrupted := g.recordState()
	switch {
	case ranWhole:
		g.phase = PhaseRunning
		m.changedLocked(g)
		g.partialDeadline = time.Time{}
	case interrupted && g.partialDeadline.IsZero():
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
	if _, interrupted := g.recordState(); bound == 0 || ranWhole || !interrupted {
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
