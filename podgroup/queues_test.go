package podgroup_test

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2/ktesting"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
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
// before an older group of "rich".
func TestFairOrderAcrossQueues(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := newManager()
	m.SetQueues([]*v1alpha1.Queue{makeQueue("rich", 1, ""), makeQueue("poor", 1, "")})
	for _, n := range nodeRooms(1, 8) {
		m.UpsertNode(w.MakeNode(n.Name, "cpu", "8").Obj())
	}
	held := sparkIn("held", "rich", 3, start) // 4 CPU admitted
	m.UpsertPod(held)
	if !m.Admit(logger, held, nodes(1, 8)).Admitted {
		t.Fatal("held not admitted")
	}
	older := sparkIn("older", "rich", 1, start.Add(time.Second))
	newer := sparkIn("newer", "poor", 1, start.Add(time.Minute))
	m.UpsertPod(older)
	m.UpsertPod(newer)
	adm := m.Admit(logger, older, nodes(1, 8))
	if adm.Admitted || !strings.Contains(adm.Message, "waits for pod group ns/spark-newer of queue poor to go first") {
		t.Fatalf("older: %+v", adm.Message)
	}
	if len(adm.Activate) != 1 || adm.Activate[0].Name != "newer-driver" {
		t.Errorf("activated %v, want the group that goes first", adm.Activate)
	}
	if !m.Admit(logger, newer, nodes(1, 8)).Admitted {
		t.Fatal("newer not admitted")
	}
	// A group ahead that never comes is passed over after a while.
	blocker := sparkIn("blocker", "poor", 1, start.Add(2*time.Minute))
	m.UpsertPod(blocker)
	if adm := m.Admit(logger, older, nodes(1, 8)); adm.Admitted {
		t.Fatal("older admitted while poor is still below its share")
	}
	clk.Step(11 * time.Second)
	if adm := m.Admit(logger, older, nodes(1, 8)); !adm.Admitted {
		t.Errorf("older still deferred to a group that never came: %s", adm.Message)
	}
}

func resourceMust(s string) resource.Quantity { return resource.MustParse(s) }
