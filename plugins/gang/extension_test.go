package gang

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	schedv1beta1 "k8s.io/api/scheduling/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	gangconfig "github.com/gangsched/gangsched/apis/config"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// pluginAt is the plugin as New builds it, on kube-scheduler's default
// filters and a snapshot of nodes and pods, with the pods known to its
// Manager; infos are the snapshot's NodeInfos, for PreFilter.
func pluginAt(t *testing.T, nodes []*v1.Node, pods ...*v1.Pod) (*Gang, []fwk.NodeInfo) {
	t.Helper()
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	fw, infos := filtersFramework(t, nodes, pods)
	args := &gangconfig.GangArgs{PermitTimeoutSeconds: 60, ReservationTimeoutSeconds: 300, RetryBackoffSeconds: 1, MaxRetryBackoffSeconds: 60}
	pl, err := newWithClock(ctx, args, fw, testingclock.NewFakeClock(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		pl.manager.UpsertPod(p)
	}
	return pl, infos
}

func cpuNodes(n int, cpu string) []*v1.Node {
	out := make([]*v1.Node, n)
	for i := range out {
		out[i] = w.MakeNode(string(rune('a'+i)), "cpu", cpu, "memory", "64Gi", "pods", "110").Obj()
	}
	return out
}

// PreFilter admits the pod's group or says why not, and leaves Filter and
// Score the room the group and the others hold.
func TestPreFilterStatus(t *testing.T) {
	admittedDriver := w.MakeSparkDriver("ns", "first").Req("cpu", "1").Executors(2, "cpu=1").Obj()
	tests := map[string]struct {
		nodes   []*v1.Node
		pods    []*v1.Pod // known before; admittedDriver's group is admitted first when listed
		pod     *v1.Pod
		code    fwk.Code
		msg     string
		ownCPU  int64 // millicores the pod's group holds, summed over nodes
		heldCPU int64 // millicores other groups hold
	}{
		"pod in no group, nothing reserved": {
			nodes: cpuNodes(1, "4"), pod: w.MakePod("ns", "lone").Req("cpu", "1").Obj(), code: fwk.Skip,
		},
		"pod in no group beside a reservation": {
			nodes: cpuNodes(1, "4"), pods: []*v1.Pod{admittedDriver},
			pod: w.MakePod("ns", "lone").Req("cpu", "1").Obj(), code: fwk.Success, heldCPU: 3000,
		},
		"driver whose app fits": {
			nodes: cpuNodes(2, "2"), pod: w.MakeSparkDriver("ns", "fits").Req("cpu", "1").Executors(2, "cpu=1").Obj(),
			code: fwk.Success, ownCPU: 3000,
		},
		"driver whose app does not fit": {
			nodes: cpuNodes(1, "2"), pod: w.MakeSparkDriver("ns", "big").Req("cpu", "1").Executors(2, "cpu=1").Obj(),
			code: fwk.Unschedulable, msg: "needs cpu 3",
		},
		"driver of an app beside a reservation it does not fit beside": {
			nodes: cpuNodes(1, "4"), pods: []*v1.Pod{admittedDriver},
			pod:  w.MakeSparkDriver("ns", "second").Req("cpu", "1").Executors(1, "cpu=1").Obj(),
			code: fwk.Unschedulable, msg: "reserved for other groups",
		},
		"member of a PodGroup that does not exist": {
			nodes: cpuNodes(1, "4"), pod: w.MakePod("ns", "typo-0").Group("tpyo").Req("cpu", "1").Obj(),
			code: fwk.UnschedulableAndUnresolvable, msg: "tpyo",
		},
		"driver with an invalid annotation": {
			nodes: cpuNodes(1, "4"), pod: w.MakeSparkDriver("ns", "bad").Req("cpu", "1").Annotation(podgroup.AnnotationExecutors, "two").Obj(),
			code: fwk.UnschedulableAndUnresolvable, msg: "gangsched.io/executors",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pl, infos := pluginAt(t, tc.nodes, append(tc.pods, tc.pod)...)
			_, ctx := ktesting.NewTestContext(t)
			for _, p := range tc.pods {
				if p == admittedDriver {
					if _, st := pl.PreFilter(ctx, framework.NewCycleState(), p, infos); !st.IsSuccess() {
						t.Fatalf("admitting %s first: %v", p.Name, st)
					}
				}
			}
			state := framework.NewCycleState()
			_, st := pl.PreFilter(ctx, state, tc.pod, infos)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Fatalf("PreFilter = %v %q, want %v with %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
			if tc.code != fwk.Success {
				return
			}
			s, err := getPreFilterState(state)
			if err != nil {
				t.Fatal(err)
			}
			if got := sumCPU(s.own, tc.nodes); got != tc.ownCPU {
				t.Errorf("own room: %d millicores, want %d", got, tc.ownCPU)
			}
			if got := sumCPU(s.held, tc.nodes); got != tc.heldCPU {
				t.Errorf("room held by others: %d millicores, want %d", got, tc.heldCPU)
			}
			// Once the pod is placed, its cycle's state (kept while it
			// waits in Permit) lets go of what Filter and Score read.
			pl.Reserve(ctx, state, tc.pod, tc.nodes[0].Name)
			if s.held != nil || s.own != nil || s.drained != nil {
				t.Errorf("after Reserve the cycle's state still holds what Filter and Score read: %+v", s)
			}
		})
	}
}

// sumCPU sums the CPU room reads on the nodes.
func sumCPU(room roomOn, nodes []*v1.Node) int64 {
	var sum int64
	if room == nil {
		return 0
	}
	cpu := []int64{0}
	for _, n := range nodes {
		if room(n.Name, []v1.ResourceName{v1.ResourceCPU}, cpu) {
			sum += cpu[0]
		}
	}
	return sum
}

// mapRoom reads room from a map of it by node; nil for none.
func mapRoom(byNode map[string]resources.List) roomOn {
	if len(byNode) == 0 {
		return nil
	}
	return func(node string, names []v1.ResourceName, out []int64) bool {
		r, ok := byNode[node]
		for i, name := range names {
			out[i] = r[name]
		}
		return ok
	}
}

// stateWith is the state PreFilter starts for a pod of requests, with
// what else rest sets.
func stateWith(requests resources.List, rest preFilterState) *preFilterState {
	s := newPreFilterState(requests)
	s.held, s.own, s.drained = rest.held, rest.own, rest.drained
	s.domainLabel, s.domainValue = rest.domainLabel, rest.domainValue
	return s
}

// Filter keeps the pod off the room other groups hold on the node, and
// nothing else.
func TestFilterStatus(t *testing.T) {
	node := w.MakeNode("a", "cpu", "4", "memory", "8Gi", "pods", "110").Obj()
	busy := w.MakePod("other", "busy").Node("a").Req("cpu", "1").Obj()
	tests := map[string]struct {
		state *preFilterState
		code  fwk.Code
		msg   string
	}{
		"nothing held": {state: stateWith(resources.List{"cpu": 2000}, preFilterState{})},
		"held room leaves enough": {state: stateWith(resources.List{"cpu": 1000},
			preFilterState{held: mapRoom(map[string]resources.List{"a": {"cpu": 2000}})})},
		"held room leaves too little": {state: stateWith(resources.List{"cpu": 2000},
			preFilterState{held: mapRoom(map[string]resources.List{"a": {"cpu": 2000}})}), code: fwk.Unschedulable, msg: ErrReasonReserved},
		"held for a starving group": {state: stateWith(resources.List{"cpu": 2000},
			preFilterState{held: mapRoom(map[string]resources.List{"a": {"cpu": 2000}}), drained: map[string]bool{"a": true}}), code: fwk.Unschedulable, msg: ErrReasonDraining},
		"held elsewhere": {state: stateWith(resources.List{"cpu": 4000},
			preFilterState{held: mapRoom(map[string]resources.List{"b": {"cpu": 4000}})})},
		"a resource no hold covers is the fit plugin's": {state: stateWith(resources.List{"cpu": 1000, "example.com/gpu": 1},
			preFilterState{held: mapRoom(map[string]resources.List{"a": {"cpu": 1000}})})},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pl, _ := pluginAt(t, []*v1.Node{node}, busy)
			state := framework.NewCycleState()
			state.Write(preFilterStateKey, tc.state)
			info := framework.NewNodeInfo(busy)
			info.SetNode(node)
			st := pl.Filter(context.Background(), state, w.MakePod("ns", "p").Obj(), info)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Errorf("Filter = %v %q, want %v with %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
}

// Score prefers the nodes where the pod's group holds room, in proportion
// to how much of the pod it covers; PreScore skips pods whose group holds
// none.
func TestScore(t *testing.T) {
	node := w.MakeNode("a", "cpu", "4").Obj()
	tests := map[string]struct {
		own       map[string]resources.List
		want      int64
		preSkip   bool
		requested resources.List
	}{
		"no room held":             {preSkip: true, requested: resources.List{"cpu": 2000}},
		"room elsewhere":           {own: map[string]resources.List{"b": {"cpu": 2000}}, requested: resources.List{"cpu": 2000}},
		"room for the whole pod":   {own: map[string]resources.List{"a": {"cpu": 4000, "memory": 1 << 30}}, requested: resources.List{"cpu": 2000, "memory": 1 << 30}, want: fwk.MaxScore},
		"room for half its memory": {own: map[string]resources.List{"a": {"cpu": 2000, "memory": 1 << 29}}, requested: resources.List{"cpu": 2000, "memory": 1 << 30}, want: fwk.MaxScore / 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pl, _ := pluginAt(t, []*v1.Node{node})
			state := framework.NewCycleState()
			state.Write(preFilterStateKey, stateWith(tc.requested, preFilterState{own: mapRoom(tc.own)}))
			pod := w.MakePod("ns", "p").Obj()
			if st := pl.PreScore(context.Background(), state, pod, nil); st.IsSkip() != tc.preSkip {
				t.Fatalf("PreScore = %v, want skip %v", st, tc.preSkip)
			}
			info := framework.NewNodeInfo()
			info.SetNode(node)
			got, st := pl.Score(context.Background(), state, pod, info)
			if !st.IsSuccess() || got != tc.want {
				t.Errorf("Score = %d %v, want %d", got, st, tc.want)
			}
		})
	}
}

// Permit holds a PodGroup's members until minMember are placed, then lets
// them all go; a pod in no group passes.
func TestPermitStatus(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	nodes := cpuNodes(1, "8")
	a := w.MakePod("ns", "pair-0").Group("pair").Req("cpu", "1").Obj()
	b := w.MakePod("ns", "pair-1").Group("pair").Req("cpu", "1").Obj()
	lone := w.MakePod("ns", "lone").Req("cpu", "1").Obj()
	pl, infos := pluginAt(t, nodes, a, b, lone)
	pl.manager.UpsertPodGroup(w.MakePodGroup("ns", "pair").MinMember(2).Obj())
	steps := []struct {
		pod  *v1.Pod
		code fwk.Code
	}{
		{a, fwk.Wait},
		{b, fwk.Success},
		{lone, fwk.Success},
	}
	for _, s := range steps {
		state := framework.NewCycleState()
		if _, st := pl.PreFilter(ctx, state, s.pod, infos); !st.IsSuccess() && !st.IsSkip() {
			t.Fatalf("PreFilter %s: %v", s.pod.Name, st)
		}
		if st := pl.Reserve(ctx, state, s.pod, "a"); !st.IsSuccess() {
			t.Fatalf("Reserve %s: %v", s.pod.Name, st)
		}
		st, wait := pl.Permit(ctx, state, s.pod, "a")
		if st.Code() != s.code {
			t.Errorf("Permit %s = %v %q, want %v", s.pod.Name, st.Code(), st.Message(), s.code)
		}
		if s.code == fwk.Wait && (wait <= 0 || wait > time.Minute) {
			t.Errorf("Permit %s waits %s, want up to the permit timeout", s.pod.Name, wait)
		}
	}
}

// PostFilter preempts whole groups for a group turned away for lack of
// room, and says what it found; other refusals are not preempted for.
func TestPostFilterStatus(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	tests := map[string]struct {
		pod  *v1.Pod
		msg  string
		code fwk.Code
	}{
		"group too big for the cluster": {
			pod:  w.MakeSparkDriver("ns", "big").Req("cpu", "1").Executors(8, "cpu=1").Obj(),
			code: fwk.Unschedulable, msg: "preemption:",
		},
		"group whose PodGroup is missing": {
			pod:  w.MakePod("ns", "typo-0").Group("tpyo").Req("cpu", "1").Obj(),
			code: fwk.Unschedulable,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pl, infos := pluginAt(t, cpuNodes(1, "4"), tc.pod)
			state := framework.NewCycleState()
			if _, st := pl.PreFilter(ctx, state, tc.pod, infos); st.IsSuccess() {
				t.Fatalf("PreFilter admitted %s", tc.pod.Name)
			}
			_, st := pl.PostFilter(ctx, state, tc.pod, framework.NewDefaultNodeToStatus())
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Errorf("PostFilter = %v %q, want %v with %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
}

// PreEnqueue holds a PodGroup's members until minMember of them exist,
// saying so; pods in no group, and members once enough exist, go on.
func TestPreEnqueueStatus(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	a := w.MakePod("ns", "trio-0").Group("trio").Obj()
	b := w.MakePod("ns", "trio-1").Group("trio").Obj()
	c := w.MakePod("ns", "trio-2").Group("trio").Obj()
	pl, _ := pluginAt(t, cpuNodes(1, "4"), a, b)
	pl.manager.UpsertPodGroup(w.MakePodGroup("ns", "trio").MinMember(3).Obj())
	if st := pl.PreEnqueue(ctx, a); st.Code() != fwk.UnschedulableAndUnresolvable || !strings.Contains(st.Message(), "fewer than its 3 members") {
		t.Errorf("PreEnqueue with 2 of 3 members = %v %q, want held saying why", st.Code(), st.Message())
	}
	if st := pl.PreEnqueue(ctx, w.MakePod("ns", "lone").Obj()); !st.IsSuccess() {
		t.Errorf("PreEnqueue of a pod in no group = %v", st)
	}
	pl.manager.UpsertPod(c)
	if st := pl.PreEnqueue(ctx, a); !st.IsSuccess() {
		t.Errorf("PreEnqueue with 3 of 3 members = %v %q", st.Code(), st.Message())
	}
}

// Unreserve before the group reached minMember releases the whole group:
// the member that waited in Permit is rejected.
func TestUnreserveReleasesTheGroup(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	a := w.MakePod("ns", "pair-0").Group("pair").Req("cpu", "1").Obj()
	b := w.MakePod("ns", "pair-1").Group("pair").Req("cpu", "1").Obj()
	pl, infos := pluginAt(t, cpuNodes(1, "8"), a, b)
	pl.manager.UpsertPodGroup(w.MakePodGroup("ns", "pair").MinMember(2).Obj())
	reserve := func(p *v1.Pod) {
		t.Helper()
		state := framework.NewCycleState()
		if _, st := pl.PreFilter(ctx, state, p, infos); !st.IsSuccess() {
			t.Fatalf("PreFilter %s: %v", p.Name, st)
		}
		if st := pl.Reserve(ctx, state, p, "a"); !st.IsSuccess() {
			t.Fatalf("Reserve %s: %v", p.Name, st)
		}
	}
	reserve(a)
	if st, _ := pl.Permit(ctx, framework.NewCycleState(), a, "a"); st.Code() != fwk.Wait {
		t.Fatalf("Permit of the first = %v, want Wait", st)
	}
	// The second is reserved, then a later plugin fails its cycle.
	reserve(b)
	pl.Unreserve(ctx, framework.NewCycleState(), b, "a")
	if d := pl.manager.Permit(a); d.Allow || d.Wait > 0 {
		t.Errorf("after the second member's Unreserve the first may still bind: %+v", d)
	}
}

// PreBind writes the quorum record and the reservation deadline of a
// group that reached its quorum on its object (here the Spark driver,
// through its status subresource) before the first member binds;
// PreBindPreFlight skips PreBind once it is written, and for pods in no
// group.
func TestPreBindWritesTheQuorumRecord(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(1, "cpu=1").Obj()
	pl, infos := pluginAt(t, cpuNodes(1, "4"), driver)
	if _, err := pl.handle.ClientSet().CoreV1().Pods("ns").Create(ctx, driver, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lone := w.MakePod("ns", "lone").Obj()
	if _, st := pl.PreBindPreFlight(ctx, framework.NewCycleState(), lone, "a"); !st.IsSkip() {
		t.Errorf("PreBindPreFlight of a pod in no group = %v, want Skip", st)
	}
	state := framework.NewCycleState()
	if _, st := pl.PreFilter(ctx, state, driver, infos); !st.IsSuccess() {
		t.Fatalf("PreFilter: %v", st)
	}
	pl.Reserve(ctx, state, driver, "a")
	if st, _ := pl.Permit(ctx, state, driver, "a"); !st.IsSuccess() {
		t.Fatalf("Permit of the driver (minMember 1) = %v", st)
	}
	if _, st := pl.PreBindPreFlight(ctx, state, driver, "a"); !st.IsSuccess() {
		t.Fatalf("PreBindPreFlight with the record unwritten = %v, want Success", st)
	}
	if st := pl.PreBind(ctx, state, driver, "a"); !st.IsSuccess() {
		t.Fatalf("PreBind = %v", st)
	}
	got, err := pl.handle.ClientSet().CoreV1().Pods("ns").Get(ctx, driver.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Annotations[podgroup.AnnotationQuorum] == "" || got.Annotations[podgroup.AnnotationReservedUntil] == "" {
		t.Errorf("driver's annotations after PreBind: %v, want the quorum record and the reservation deadline", got.Annotations)
	}
	if r := got.Annotations[podgroup.AnnotationReservation]; r != `{"a":{"cpu":"1","pods":"1"}}` {
		t.Errorf("%s = %q, want the executor's cpu 1 and pod slot reserved on node a", podgroup.AnnotationReservation, r)
	}
	if _, st := pl.PreBindPreFlight(ctx, state, driver, "a"); !st.IsSkip() {
		t.Errorf("PreBindPreFlight once written = %v, want Skip", st)
	}
}

// The planner's view of a node is kept across cycles while the node does
// not change, and built again when it does (a pod added bumps its
// generation); nodes that are gone are forgotten, and the view is sorted
// by name.
func TestRoomCacheFollowsNodeChanges(t *testing.T) {
	var c roomCache
	a, b := framework.NewNodeInfo(), framework.NewNodeInfo()
	a.SetNode(w.MakeNode("a", "cpu", "4", "pods", "110").Obj())
	b.SetNode(w.MakeNode("b", "cpu", "4", "pods", "110").Obj())
	first := c.nodeRooms([]fwk.NodeInfo{a, b})
	if got := first[0].Free[v1.ResourceCPU]; got != 4000 {
		t.Fatalf("free CPU on a: %d", got)
	}
	again := c.nodeRooms([]fwk.NodeInfo{a, b})
	if fmt.Sprintf("%p", again[0].Free) != fmt.Sprintf("%p", first[0].Free) {
		t.Error("an unchanged node's view was built again")
	}
	a.AddPod(w.MakePod("ns", "p").Node("a").Req("cpu", "1").Obj())
	changed := c.nodeRooms([]fwk.NodeInfo{a})
	if got := changed[0].Free[v1.ResourceCPU]; got != 3000 {
		t.Errorf("free CPU on a after a pod was added: %d, want 3000", got)
	}
	if len(c.rooms) != 1 {
		t.Errorf("%d nodes cached after b was removed, want 1", len(c.rooms))
	}
	// The view comes sorted by name, whatever the snapshot's order.
	sorted := c.nodeRooms([]fwk.NodeInfo{b, a})
	if sorted[0].Name != "a" || sorted[1].Name != "b" {
		t.Errorf("nodes in the order %s, %s, want a, b", sorted[0].Name, sorted[1].Name)
	}
	if got := sorted[0].Free[v1.ResourceCPU]; got != 3000 {
		t.Errorf("free CPU on a after relisting: %d, want 3000", got)
	}
}

// A member that waits in Permit for the rest of its gang does not skip
// PreBind: it binds as soon as the last member lets it through, and must
// wait for the group's quorum record like the last member. The members
// binding at once write the record once.
func TestMembersLetThroughPermitWaitForTheRecord(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	member := func(name string) *v1.Pod {
		p := w.MakePod("ns", name).Req("cpu", "1").Obj()
		p.Spec.SchedulingGroup = &v1.PodSchedulingGroup{PodGroupName: ptr.To("job")}
		return p
	}
	a, b := member("job-0"), member("job-1")
	pl, infos := pluginAt(t, cpuNodes(1, "4"), a, b)
	pg := &schedv1beta1.PodGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "job", Generation: 1},
		Spec: schedv1beta1.PodGroupSpec{SchedulingPolicy: schedv1beta1.PodGroupSchedulingPolicy{
			Gang: &schedv1beta1.GangSchedulingPolicy{MinCount: 2}}},
	}
	client := pl.handle.ClientSet()
	if _, err := client.SchedulingV1beta1().PodGroups("ns").Create(ctx, pg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pl.manager.UpsertSchedulingPodGroup(pg)
	states := map[*v1.Pod]fwk.CycleState{}
	for _, p := range []*v1.Pod{a, b} {
		state := framework.NewCycleState()
		states[p] = state
		if _, st := pl.PreFilter(ctx, state, p, infos); !st.IsSuccess() {
			t.Fatalf("PreFilter %s: %v", p.Name, st)
		}
		pl.Reserve(ctx, state, p, "a")
		st, _ := pl.Permit(ctx, state, p, "a")
		if p == a {
			if st.Code() != fwk.Wait {
				t.Fatalf("Permit of the first member = %v, want Wait", st)
			}
			// Its binding cycle starts now, before the gang is whole.
			if _, st := pl.PreBindPreFlight(ctx, state, a, "a"); !st.IsSuccess() {
				t.Fatalf("PreBindPreFlight of a member waiting in Permit = %v, want Success", st)
			}
		}
	}
	fake := client.(*clientfake.Clientset)
	fake.ClearActions()
	var wg sync.WaitGroup
	for _, p := range []*v1.Pod{a, b} {
		wg.Go(func() {
			if st := pl.PreBind(ctx, states[p], p, "a"); !st.IsSuccess() {
				t.Errorf("PreBind %s = %v", p.Name, st)
			}
		})
	}
	wg.Wait()
	patches := 0
	for _, act := range fake.Actions() {
		if act.GetVerb() == "patch" && act.GetResource().Resource == "podgroups" {
			patches++
		}
	}
	if patches != 1 {
		t.Errorf("%d patches of the PodGroup, want the one record", patches)
	}
	got, err := client.SchedulingV1beta1().PodGroups("ns").Get(ctx, "job", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Annotations[podgroup.AnnotationQuorum] == "" {
		t.Errorf("PodGroup annotations after PreBind: %v, want the quorum record", got.Annotations)
	}
	if _, st := pl.PreBindPreFlight(ctx, states[a], a, "a"); !st.IsSkip() {
		t.Errorf("PreBindPreFlight once the record is written = %v, want Skip", st)
	}
}
