package gang

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2/ktesting"
	_ "k8s.io/klog/v2/ktesting/init"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/utils/clock"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

func newTestPlugin() *Gang {
	return &Gang{manager: podgroup.NewManager(podgroup.Config{PermitTimeout: time.Minute, ReservationTimeout: time.Minute}, clock.RealClock{})}
}

func queued(p *v1.Pod, queuedAt time.Time) fwk.QueuedEntityInfo {
	pi, _ := framework.NewPodInfo(p)
	return &framework.QueuedPodInfo{PodInfo: pi, QueueingParams: framework.QueueingParams{Timestamp: queuedAt}}
}

func TestLess(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pl := newTestPlugin()
	oldDriver := w.MakeSparkDriver("ns", "old").Executors(10, "cpu=1").Req("cpu", "1").Created(t0).Obj() // never fits one node of 8
	oldExec := w.MakeSparkExecutor("ns", "old", 1, oldDriver).Created(t0.Add(time.Minute)).Obj()
	newDriver := w.MakeSparkDriver("ns", "new").Executors(10, "cpu=1").Req("cpu", "1").Created(t0.Add(time.Second)).Obj()
	pl.manager.UpsertPod(oldDriver)
	pl.manager.UpsertPod(oldExec)
	pl.manager.UpsertPod(newDriver)
	urgent := w.MakePod("ns", "urgent").Priority(100).Obj()
	lone := w.MakePod("ns", "lone").Obj()
	another := w.MakePod("ns", "other").Obj()
	// A group younger than "old" but admitted: its room is reserved.
	admittedDriver := w.MakeSparkDriver("ns", "admitted").Executors(2, "cpu=1").Req("cpu", "1").Created(t0.Add(time.Hour)).Obj()
	pl.manager.UpsertPod(admittedDriver)
	logger, _ := ktesting.NewTestContext(t)
	if adm := pl.manager.Admit(logger, admittedDriver, w.EmptyNodes(1, 8)); !adm.Admitted {
		t.Fatalf("group not admitted: %+v", adm)
	}
	admittedExec := w.MakeSparkExecutor("ns", "admitted", 1, admittedDriver).Req("cpu", "1").Created(t0.Add(2 * time.Hour)).Obj()

	tests := map[string]struct {
		a, b fwk.QueuedEntityInfo
		want bool
	}{
		"higher priority first": {a: queued(urgent, t0.Add(time.Hour)), b: queued(oldDriver, t0), want: true},
		"older group first, even its later executor": {
			a: queued(oldExec, t0.Add(time.Hour)), b: queued(newDriver, t0), want: true,
		},
		"driver before its executors":     {a: queued(oldDriver, t0.Add(time.Hour)), b: queued(oldExec, t0), want: true},
		"executor after its driver":       {a: queued(oldExec, t0), b: queued(oldDriver, t0.Add(time.Hour)), want: false},
		"lone pod before a waiting group": {a: queued(lone, t0.Add(time.Hour)), b: queued(oldDriver, t0), want: true},
		"lone pods by queue time":         {a: queued(lone, t0.Add(time.Second)), b: queued(another, t0), want: false},
		"a group holding room before an older one": {
			a: queued(admittedExec, t0.Add(3*time.Hour)), b: queued(oldDriver, t0), want: true,
		},
		"a group holding room before a lone pod": {
			a: queued(admittedExec, t0.Add(3*time.Hour)), b: queued(lone, t0), want: true,
		},
		"priority before room": {a: queued(admittedExec, t0), b: queued(urgent, t0.Add(time.Hour)), want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := pl.Less(tc.a, tc.b); got != tc.want {
				t.Errorf("Less = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsSchedulableAfterMemberAdded(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	pl := newTestPlugin()
	pl.manager.UpsertPodGroup(w.MakePodGroup("ns", "pg").MinMember(2).Obj())
	first := w.MakePod("ns", "a").Group("pg").Obj()
	pl.manager.UpsertPod(first)
	tests := map[string]struct {
		added interface{}
		want  fwk.QueueingHint
		err   bool
	}{
		"member completing the group": {added: w.MakePod("ns", "b").Group("pg").Obj(), want: fwk.Queue},
		"pod of another group":        {added: w.MakePod("ns", "c").Group("other").Obj(), want: fwk.QueueSkip},
		"pod in no group":             {added: w.MakePod("ns", "d").Obj(), want: fwk.QueueSkip},
		"backoff-wrong-new-object":    {added: w.MakeNode("n").Obj(), want: fwk.Queue, err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := pl.isSchedulableAfterMemberAdded(logger, first, nil, tc.added)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("hint = %v, want %v", got, tc.want)
			}
		})
	}
}

// A replica is active as soon as its scheduler informers synced, without
// waiting for activate; a standby, whose informers never start, is not.
func TestIsActive(t *testing.T) {
	synced := false
	pl := &Gang{schedulerPodsSynced: func() bool { return synced }}
	if pl.isActive() {
		t.Fatal("active before the informers synced")
	}
	synced = true
	if !pl.isActive() {
		t.Fatal("not active once the informers synced")
	}
}

// Filter keeps a pod off room reservations hold, and only that: a resource
// no reservation holds (an extended resource backed by dynamic resource
// allocation, which no node lists in its allocatable) is left to
// NodeResourcesFit.
func TestFilterKeepsOffReservedRoomOnly(t *testing.T) {
	pl := newTestPlugin()
	ni := framework.NewNodeInfo()
	ni.SetNode(w.MakeNode("n", "cpu", "4").Obj())
	for name, tc := range map[string]struct {
		pod  *v1.Pod
		want fwk.Code
	}{
		"room held for another group":           {pod: w.MakePod("ns", "p").Req("cpu", "2").Obj(), want: fwk.Unschedulable},
		"room left free":                        {pod: w.MakePod("ns", "p").Req("cpu", "1").Obj(), want: fwk.Success},
		"a DRA-backed resource no one reserves": {pod: w.MakePod("ns", "p").Req("cpu", "1", "example.com/gpu", "1").Obj(), want: fwk.Success},
	} {
		t.Run(name, func(t *testing.T) {
			state := framework.NewCycleState()
			state.Write(preFilterStateKey, stateWith(resources.PodRequests(tc.pod),
				preFilterState{held: mapRoom(map[string]resources.List{"n": {"cpu": 3000}})}))
			if got := pl.Filter(context.Background(), state, tc.pod, ni).Code(); got != tc.want {
				t.Errorf("Filter = %v, want %v", got, tc.want)
			}
		})
	}
}

// Filter keeps a member of a group confined to a topology domain off the
// nodes outside it, which kube-scheduler may try first without the
// PreFilter result (a nominated node, a batching hint).
func TestFilterKeepsMembersInTheirDomain(t *testing.T) {
	pl := newTestPlugin()
	pod := w.MakePod("ns", "p").Req("cpu", "1").Obj()
	for node, want := range map[string]fwk.Code{"a": fwk.Success, "b": fwk.UnschedulableAndUnresolvable} {
		ni := framework.NewNodeInfo()
		ni.SetNode(w.MakeNode("n-"+node, "cpu", "4").Label("zone", node).Obj())
		state := framework.NewCycleState()
		state.Write(preFilterStateKey, stateWith(resources.PodRequests(pod), preFilterState{domainLabel: "zone", domainValue: "a"}))
		if got := pl.Filter(context.Background(), state, pod, ni).Code(); got != want {
			t.Errorf("Filter on a node of zone %s = %v, want %v", node, got, want)
		}
	}
}

// Pods sign alike when Filter and Score would treat them alike: members of
// one group with equal requests; another group, other requests or no group
// sign otherwise. Every pod is signed, or kube-scheduler batches none.
func TestSignPod(t *testing.T) {
	pl := newTestPlugin()
	sign := func(p *v1.Pod) string {
		frags, status := pl.SignPod(context.Background(), p)
		if !status.IsSuccess() {
			t.Fatalf("SignPod(%s) = %v", p.Name, status)
		}
		b, err := json.Marshal(frags)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a0 := sign(w.MakePod("ns", "a-0").Group("a").Req("cpu", "1").Obj())
	if a1 := sign(w.MakePod("ns", "a-1").Group("a").Req("cpu", "1").Obj()); a1 != a0 {
		t.Errorf("two members of a sign %s and %s", a0, a1)
	}
	for name, p := range map[string]*v1.Pod{
		"another group":  w.MakePod("ns", "b-0").Group("b").Req("cpu", "1").Obj(),
		"other requests": w.MakePod("ns", "a-2").Group("a").Req("cpu", "2").Obj(),
		"no group":       w.MakePod("ns", "plain").Req("cpu", "1").Obj(),
	} {
		if got := sign(p); got == a0 {
			t.Errorf("%s signs as a member of a: %s", name, got)
		}
	}
}
