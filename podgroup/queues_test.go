package podgroup_test

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2/ktesting"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

func makeQueue(name string, weight int32, maxCPU string) *v1alpha1.Queue {
	q := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.QueueSpec{Weight: &weight}}
	if maxCPU != "" {
		q.Spec.Max = v1.ResourceList{"cpu": resource.MustParse(maxCPU)}
	}
	return q
}

// sparkIn builds a Spark driver of 1 CPU with n executors of 1 CPU in queue q.
func sparkIn(name, q string, n int, created time.Time) *v1.Pod {
	return w.MakeSparkDriver("ns", name).Req("cpu", "1").Executors(n, "cpu=1").
		Label(v1alpha1.QueueLabel, q).Created(created).Obj()
}

func TestQueueMaxHoldsGroupsBack(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	m.SetQueues([]*v1alpha1.Queue{makeQueue("small", 1, "4")})
	for _, n := range nodeRooms(2, 8) {
		m.UpsertNode(w.MakeNode(n.Name, "cpu", "8", "memory", "64Gi").Obj())
	}
	first := sparkIn("first", "small", 2, start) // 3 CPU
	m.UpsertPod(first)
	if adm := m.Admit(logger, first, nodes(2, 8)); !adm.Admitted {
		t.Fatalf("first: %s", adm.Message)
	}
	second := sparkIn("second", "small", 2, start)
	m.UpsertPod(second)
	adm := m.Admit(logger, second, nodes(2, 8))
	if want := "queue small is at its max: holds cpu 3 of max 4, the group needs cpu 3 more"; adm.Admitted || !strings.Contains(adm.Message, want) {
		t.Errorf("second: %q, want %q", adm.Message, want)
	}
	lost := sparkIn("lost", "nowhere", 1, start)
	m.UpsertPod(lost)
	if adm := m.Admit(logger, lost, nodes(2, 8)); adm.Admitted || !strings.Contains(adm.Message, "queue nowhere not found") {
		t.Errorf("unknown queue: %q", adm.Message)
	}
}

func TestInvalidQueueHoldsOnlyItsGroups(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	a, b := makeQueue("a", 1, ""), makeQueue("b", 1, "")
	a.Spec.Parent, b.Spec.Parent = "b", "a"
	acts := m.SetQueues([]*v1alpha1.Queue{a, b, makeQueue("fine", 1, "")})
	if len(acts.Events) != 2 || !strings.Contains(acts.Events[0].Message, "forms a cycle") {
		t.Errorf("events = %+v", acts.Events)
	}
	stuck := sparkIn("stuck", "a", 1, start)
	m.UpsertPod(stuck)
	if adm := m.Admit(logger, stuck, nodes(1, 8)); adm.Admitted || !strings.Contains(adm.Message, "queue a is invalid: spec.parent") {
		t.Errorf("stuck: %q", adm.Message)
	}
	ok := sparkIn("ok", "fine", 1, start)
	m.UpsertPod(ok)
	if adm := m.Admit(logger, ok, nodes(1, 8)); !adm.Admitted {
		t.Errorf("a group of a valid queue waits: %s", adm.Message)
	}
	_, st, _ := m.QueueStatus("a")
	if c := st.Conditions[0]; c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonInvalidSpec {
		t.Errorf("condition = %+v", c)
	}
}

// The queue furthest below its fair share goes first: with queue "rich"
// holding everything it is due, a group of "poor" that fits is admitted
// before an older group of "rich" — on the older group's own cycle, since
// the order of admission must not hang on which pod the scheduling queue
// pops next.
func TestFairOrderAcrossQueues(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	m.SetQueues([]*v1alpha1.Queue{makeQueue("rich", 1, ""), makeQueue("poor", 1, "")})
	for _, n := range nodeRooms(1, 8) {
		m.UpsertNode(w.MakeNode(n.Name, "cpu", "8").Obj())
	}
	held := sparkIn("held", "rich", 3, start) // 4 CPU admitted
	m.UpsertPod(held)
	if !m.Admit(logger, held, nodes(1, 8)).Admitted {
		t.Fatal("held not admitted")
	}
	// 3 CPU each, 4 free: one of them fits.
	older := sparkIn("older", "rich", 2, start.Add(time.Second))
	newer := sparkIn("newer", "poor", 2, start.Add(time.Minute))
	m.UpsertPod(older)
	m.UpsertPod(newer)
	adm := m.Admit(logger, older, nodes(1, 8))
	if adm.Admitted || !strings.Contains(adm.Message, "pod group ns/spark-newer of queue poor went first in fair order") {
		t.Fatalf("older: %+v", adm.Message)
	}
	if len(adm.Activate) != 1 || adm.Activate[0].Name != "newer-driver" {
		t.Errorf("activated %v, want the driver of the group admitted first", adm.Activate)
	}
	if !m.Admit(logger, newer, nodes(1, 8)).Admitted {
		t.Fatal("newer, admitted on older's cycle, is not admitted on its own")
	}

	// With room for both, the group ahead goes first and the older one
	// follows in the same cycle.
	m2, _ := newManager()
	m2.SetQueues([]*v1alpha1.Queue{makeQueue("rich", 1, ""), makeQueue("poor", 1, "")})
	m2.UpsertPod(held)
	m2.Admit(logger, held, nodes(1, 12))
	m2.UpsertPod(older)
	m2.UpsertPod(newer)
	if adm := m2.Admit(logger, older, nodes(1, 12)); !adm.Admitted || len(adm.Activate) != 1 {
		t.Errorf("older: admitted %v, activated %v; want admitted after newer", adm.Admitted, adm.Activate)
	}
	if !m2.Admit(logger, newer, nodes(1, 12)).Admitted {
		t.Error("newer not admitted")
	}
}

func resourceMust(s string) resource.Quantity { return resource.MustParse(s) }

func TestBorrowerWaitsForAQueueWithinItsShare(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	m.SetQueues([]*v1alpha1.Queue{makeQueue("a", 1, ""), makeQueue("b", 1, "")})
	for _, n := range nodeRooms(2, 4) {
		m.UpsertNode(w.MakeNode(n.Name, "cpu", "4", "memory", "64Gi").Obj())
	}
	big := sparkIn("big", "b", 5, start) // 6 of 8 CPU: b borrows while a asks for nothing
	m.UpsertPod(big)
	if adm := m.Admit(logger, big, nodes(2, 4)); !adm.Admitted {
		t.Fatalf("big: %s", adm.Message)
	}
	owner := sparkIn("owner", "a", 3, start.Add(time.Second)) // 4 CPU: a's half, 2 free
	m.UpsertPod(owner)
	if adm := m.Admit(logger, owner, nodes(2, 4)); adm.Admitted {
		t.Fatal("owner admitted into 2 free CPU")
	}
	borrower := sparkIn("borrower", "b", 1, start.Add(2*time.Second)) // 2 CPU: fits the 2 free
	m.UpsertPod(borrower)
	adm := m.Admit(logger, borrower, nodes(2, 4))
	if want := "queue b would go over its fair share (cpu 4"; adm.Admitted || !strings.Contains(adm.Message, want) ||
		!strings.Contains(adm.Message, "pod group ns/spark-owner of queue a, within its share, waits for room first") {
		t.Errorf("borrower: admitted %v, %q, want it to wait: %q", adm.Admitted, adm.Message, want)
	}

	// With the owner gone, b borrows idle room again.
	m.DeletePod(owner)
	if adm := m.Admit(logger, borrower, nodes(2, 4)); !adm.Admitted {
		t.Errorf("borrower with no owner waiting: %s", adm.Message)
	}
}

// A borrower held back for an owner still gets nodes drained for it once
// it starves: fairness never makes a group wait for ever.
func TestHeldBackBorrowerStillDrainsWhenStarving(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	clk := testingclock.NewFakeClock(start)
	m := podgroup.NewManager(podgroup.Config{PermitTimeout: time.Minute, ReservationTimeout: time.Minute, StarvationThreshold: 10 * time.Second}, clk)
	m.SetQueues([]*v1alpha1.Queue{makeQueue("a", 1, ""), makeQueue("b", 1, "")})
	var rooms []podgroup.NodeRoom
	for _, name := range []string{"a", "b", "c"} { // 12 CPU: fair shares 6 and 6
		m.UpsertNode(w.MakeNode(name, "cpu", "4", "memory", "64Gi").Obj())
		rooms = append(rooms, podgroup.NodeRoom{Name: name, Node: w.MakeNode(name).Obj(),
			Allocatable: resources.List{"cpu": 4000, "pods": 110}, Free: resources.List{"cpu": 4000, "pods": 110}})
	}
	// Queue b runs a group of 8 CPU on nodes a and b, borrowing 2.
	pg := w.MakePodGroup("ns", "big").MinMember(2).Label(v1alpha1.QueueLabel, "b").Obj()
	m.UpsertPodGroup(pg)
	big := []*v1.Pod{w.MakePod("ns", "big-0").Group("big").Req("cpu", "4").Obj(), w.MakePod("ns", "big-1").Group("big").Req("cpu", "4").Obj()}
	for _, p := range big {
		m.UpsertPod(p)
	}
	if adm := m.Admit(logger, big[0], fixed(rooms)); !adm.Admitted {
		t.Fatalf("big: %s", adm.Message)
	}
	m.Assume(big[0], "a")
	m.Assume(big[1], "b")
	m.Permit(big[1])
	rooms[0].Free = resources.List{"cpu": 0, "pods": 109}
	rooms[1].Free = resources.List{"cpu": 0, "pods": 109}

	owner := sparkIn("owner", "a", 4, start.Add(time.Second)) // 5 CPU of a's 6; 4 free
	m.UpsertPod(owner)
	borrower := sparkIn("borrower", "b", 5, start.Add(2*time.Second)) // 6 CPU: b over its share
	m.UpsertPod(borrower)
	if adm := m.Admit(logger, owner, fixed(rooms)); adm.Admitted {
		t.Fatal("owner admitted into 4 free CPU")
	}
	if adm := m.Admit(logger, borrower, fixed(rooms)); !strings.Contains(adm.Message, "queue b would go over its fair share") {
		t.Fatalf("borrower before the threshold: %q", adm.Message)
	}
	// Both starve; the borrower is the bigger, so nodes drain for it.
	clk.Step(11 * time.Second)
	adm := m.Admit(logger, borrower, fixed(rooms))
	if adm.Admitted || !strings.HasSuffix(adm.Message, "nodes are reserved for it as they drain") {
		t.Fatalf("starving borrower: %q", adm.Message)
	}
}

// A Spark driver's update that changes its declared gang, and nothing else
// of the pod, counts the group again: what its queue waits for follows the
// new spec (the Manager checks every tally at each unlock in tests).
func TestDriverRedeclaringItsGangIsCountedAgain(t *testing.T) {
	m, _ := newManager()
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(2, "cpu=1").Obj()
	m.UpsertPod(driver)
	bigger := driver.DeepCopy()
	bigger.Annotations[podgroup.AnnotationExecutors] = "5"
	m.UpsertPod(bigger)
	// A client-mode executor that declares the gang, redeclaring it.
	exec := w.MakeSparkExecutor("ns", "client", 1, nil).Req("cpu", "1").
		Annotation(podgroup.AnnotationExecutors, "2").Annotation(podgroup.AnnotationExecutorRequests, "cpu=1").Obj()
	m.UpsertPod(exec)
	again := exec.DeepCopy()
	again.Annotations[podgroup.AnnotationExecutors] = "4"
	m.UpsertPod(again)
}
