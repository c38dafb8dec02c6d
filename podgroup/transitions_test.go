package podgroup_test

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2/ktesting"

	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// step is one operation on a PodGroup "pair" of minMember 2 (members a, b,
// c) and what must follow from it: the group's phase, whether it holds
// reserved room, and how many pods the actions allow, reject and delete.
type step struct {
	op       string // "admit a", "assume a", "permit a", "bound a", "forget a", "delete a", "tick 61s", "pgdelete", "upsert c"
	phase    podgroup.Phase
	reserved bool
	allow    int
	reject   int
	delete   int
	wait     bool // permit: the pod waits
}

// The group's state machine, as the plugins drive it: each row is a story
// of operations, each step checked. A group runs once minMember members
// are permitted (its quorum), before they bind.
func TestGroupTransitions(t *testing.T) {
	const (
		pending  = podgroup.PhasePending
		admitted = podgroup.PhaseAdmitted
		running  = podgroup.PhaseRunning
	)
	tests := map[string][]step{
		"admitted, placed, bound whole": {
			{op: "admit a", phase: admitted, reserved: true},
			{op: "assume a", phase: admitted, reserved: true},
			{op: "permit a", phase: admitted, reserved: true, wait: true},
			{op: "assume b", phase: admitted},
			{op: "permit b", phase: running, allow: 1},
			{op: "bound a", phase: running},
			{op: "bound b", phase: running},
		},
		"permit timeout releases the placed member": {
			{op: "admit a", phase: admitted, reserved: true},
			{op: "assume a", phase: admitted, reserved: true},
			{op: "permit a", phase: admitted, reserved: true, wait: true},
			{op: "tick 61s", phase: pending, reject: 1},
		},
		"a member deleted while the other waits releases the group": {
			{op: "admit a", phase: admitted, reserved: true},
			{op: "assume a", phase: admitted, reserved: true},
			{op: "permit a", phase: admitted, reserved: true, wait: true},
			{op: "delete b", phase: pending, reject: 1},
		},
		"a failed cycle before minMember releases the group": {
			{op: "admit a", phase: admitted, reserved: true},
			{op: "assume a", phase: admitted, reserved: true},
			{op: "permit a", phase: admitted, reserved: true, wait: true},
			{op: "assume b", phase: admitted},
			{op: "forget b", phase: pending, reject: 1},
		},
		"the PodGroup deleted while a member waits releases it": {
			{op: "admit a", phase: admitted, reserved: true},
			{op: "assume a", phase: admitted, reserved: true},
			{op: "permit a", phase: admitted, reserved: true, wait: true},
			{op: "pgdelete", phase: pending, reject: 1},
		},
		"a group that ran whole keeps its pods when one ends": {
			{op: "admit a", phase: admitted, reserved: true},
			{op: "assume a", phase: admitted, reserved: true},
			{op: "assume b", phase: admitted},
			{op: "permit b", phase: running, allow: 1},
			{op: "bound a", phase: running},
			{op: "bound b", phase: running},
			{op: "delete b", phase: running},
			{op: "tick 61s", phase: running},
		},
		"a member beyond minMember binds on its own once the group runs": {
			{op: "admit a", phase: admitted, reserved: true},
			{op: "assume a", phase: admitted, reserved: true},
			{op: "assume b", phase: admitted},
			{op: "permit b", phase: running, allow: 1},
			{op: "bound a", phase: running},
			{op: "bound b", phase: running},
			{op: "upsert c", phase: running},
			{op: "admit c", phase: running},
			{op: "assume c", phase: running},
			{op: "permit c", phase: running},
		},
	}
	for name, steps := range tests {
		t.Run(name, func(t *testing.T) {
			logger, _ := ktesting.NewTestContext(t)
			m, clk := newManager()
			pg := w.MakePodGroup("ns", "pair").MinMember(2).Obj()
			m.UpsertPodGroup(pg)
			pods := map[string]*v1.Pod{}
			for _, n := range []string{"a", "b", "c"} {
				pods[n] = w.MakePod("ns", "pair-"+n).Group("pair").Req("cpu", "1").Obj()
			}
			m.UpsertPod(pods["a"])
			m.UpsertPod(pods["b"])
			key, _ := podgroup.KeyOf(pods["a"])
			for i, s := range steps {
				op, arg, _ := strings.Cut(s.op, " ")
				pod := pods[arg]
				var acts podgroup.Actions
				waited := false
				switch op {
				case "admit":
					adm := m.Admit(logger, pod, nodes(2, 4))
					if !adm.Admitted {
						t.Fatalf("step %d %q: not admitted: %s", i, s.op, adm.Message)
					}
					acts = adm.Actions
				case "assume":
					acts = m.Assume(pod, "a")
				case "permit":
					d := m.Permit(pod)
					acts, waited = d.Actions, d.Wait > 0
					if !d.Allow && !waited {
						t.Fatalf("step %d %q: rejected: %s", i, s.op, d.Message)
					}
				case "bound":
					bound := pod.DeepCopy()
					bound.Spec.NodeName = "a"
					pods[arg] = bound
					m.Bound(bound, "a")
					acts = m.UpsertPod(bound)
				case "forget":
					acts = m.Forget(pod)
				case "delete":
					acts = m.DeletePod(pod)
				case "upsert":
					acts = m.UpsertPod(pod)
				case "tick":
					d, err := time.ParseDuration(arg)
					if err != nil {
						t.Fatal(err)
					}
					clk.Step(d)
					acts = m.Tick(logger)
				case "pgdelete":
					acts = m.DeletePodGroup(pg)
				default:
					t.Fatalf("unknown op %q", s.op)
				}
				if got := phaseOf(m); got != s.phase {
					t.Errorf("step %d %q: phase %s, want %s", i, s.op, got, s.phase)
				}
				if got := len(m.OwnReservation(key)) > 0; got != s.reserved {
					t.Errorf("step %d %q: holds room %v, want %v (%v)", i, s.op, got, s.reserved, m.OwnReservation(key))
				}
				if waited != s.wait {
					t.Errorf("step %d %q: waits %v, want %v", i, s.op, waited, s.wait)
				}
				if len(acts.Allow) != s.allow || len(acts.Reject) != s.reject || len(acts.Delete) != s.delete {
					t.Errorf("step %d %q: allows %d, rejects %d, deletes %d; want %d, %d, %d",
						i, s.op, len(acts.Allow), len(acts.Reject), len(acts.Delete), s.allow, s.reject, s.delete)
				}
			}
		})
	}
}

// phaseOf is the phase of the Manager's only group.
func phaseOf(m *podgroup.Manager) podgroup.Phase {
	for phase, n := range m.GroupsByPhase() {
		if n > 0 {
			return phase
		}
	}
	return ""
}
