package podgroup_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2/ktesting"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// A scheduling cycle's copy of a member the informer saw deleted does not
// bring the member back: the group does not count it, and holds no room
// for it.
func TestStaleCopyOfDeletedMemberNotReadded(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	m.UpsertPodGroup(w.MakePodGroup("ns", "pair").MinMember(2).Obj())
	a := w.MakePod("ns", "pair-0").Group("pair").Req("cpu", "1").Obj()
	b := w.MakePod("ns", "pair-1").Group("pair").Req("cpu", "1").Obj()
	gone := w.MakePod("ns", "pair-2").Group("pair").Req("cpu", "4").Obj()
	for _, p := range []*v1.Pod{a, b, gone} {
		m.UpsertPod(p)
	}
	m.DeletePod(gone)
	if adm := m.Admit(logger, gone, nodes(1, 2)); adm.Admitted || !strings.Contains(adm.Message, "was deleted") {
		t.Fatalf("Admit of the deleted member = %+v", adm)
	}
	// The group fits without it (2 of 2 CPU): had the copy come back, it
	// would need 6.
	if adm := m.Admit(logger, a, nodes(1, 2)); !adm.Admitted {
		t.Fatalf("Admit = %q, want admitted with the two members left", adm.Message)
	}
}

// starvingManager has a threshold of 10 s.
func starvingManager() (*podgroup.Manager, *testingclock.FakeClock) {
	clk := testingclock.NewFakeClock(start)
	return podgroup.NewManager(podgroup.Config{PermitTimeout: time.Minute, ReservationTimeout: time.Minute, StarvationThreshold: 10 * time.Second}, clk), clk
}

// A group that can never be admitted, however long it waits (too big for
// the whole cluster, its PodGroup missing, held at its queue's max), does
// not take the drain reservation from a starving group that can use it.
func TestUnadmissibleGroupDoesNotTakeTheDrain(t *testing.T) {
	for name, setup := range map[string]func(*podgroup.Manager){
		"too big for the cluster": func(m *podgroup.Manager) {
			m.UpsertPod(w.MakeSparkDriver("ns", "huge").Req("cpu", "1").Executors(20, "cpu=4").Obj())
		},
		"PodGroup missing": func(m *podgroup.Manager) {
			m.UpsertPod(w.MakePod("ns", "typo-0").Group("tpyo").Req("cpu", "16").Obj())
		},
		"held at its queue's max": func(m *podgroup.Manager) {
			m.SetQueues([]*v1alpha1.Queue{makeQueue("default", 1, ""), makeQueue("tiny", 1, "2")})
			m.UpsertPod(w.MakeSparkDriver("ns", "capped").Req("cpu", "1").Executors(6, "cpu=1").Label(v1alpha1.QueueLabel, "tiny").Obj())
		},
	} {
		t.Run(name, func(t *testing.T) {
			logger, _ := ktesting.NewTestContext(t)
			m, clk := starvingManager()
			if !strings.HasPrefix(name, "held") {
				m.SetQueues([]*v1alpha1.Queue{makeQueue("default", 1, "")})
			}
			for _, n := range []string{"a", "b"} {
				m.UpsertNode(w.MakeNode(n, "cpu", "4").Obj())
			}
			setup(m)
			big := w.MakeSparkDriver("ns", "big").Req("cpu", "4").Executors(1, "cpu=4").Obj()
			m.UpsertPod(big)
			busy := roomsWithUse(map[string]int64{"a": 1, "b": 1})
			m.Admit(logger, big, busy)
			clk.Step(11 * time.Second)
			m.Tick(logger)
			if adm := m.Admit(logger, big, busy); !strings.HasSuffix(adm.Message, "nodes are reserved for it as they drain") {
				t.Fatalf("the starving group got no drain: %q", adm.Message)
			}
		})
	}
}

// A drain reservation is given up when its group can no longer be
// admitted for another reason (here its PodGroup was deleted), and the
// nodes serve others again.
func TestDrainFreedWhenGroupBecomesUnadmissible(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := starvingManager()
	pg := w.MakePodGroup("ns", "big").MinMember(2).Obj()
	m.UpsertPodGroup(pg)
	big := w.MakePod("ns", "big-0").Group("big").Req("cpu", "4").Obj()
	m.UpsertPod(big)
	m.UpsertPod(w.MakePod("ns", "big-1").Group("big").Req("cpu", "4").Obj())
	busy := roomsWithUse(map[string]int64{"a": 1, "b": 1})
	m.Admit(logger, big, busy)
	clk.Step(11 * time.Second)
	if adm := m.Admit(logger, big, busy); !strings.HasSuffix(adm.Message, "nodes are reserved for it as they drain") {
		t.Fatalf("no drain: %q", adm.Message)
	}
	m.DeletePodGroup(pg)
	m.Tick(logger)
	if got := m.DrainedNodes(nil); got != nil {
		t.Errorf("nodes still drained for a group whose PodGroup is gone: %v", got)
	}
	if m.HasReservations() {
		t.Error("the drain reservation leaked")
	}
}

// A finished group used again starts its wait from the new run: it does
// not starve at once on the clock of its first run.
func TestReusedGroupWaitsFromItsNewRun(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := starvingManager()
	m.UpsertPodGroup(w.MakePodGroup("ns", "again").MinMember(1).Obj())
	first := w.MakePod("ns", "again-0").Group("again").Req("cpu", "1").Obj()
	m.UpsertPod(first)
	if !m.Admit(logger, first, roomsWithUse(nil)).Admitted {
		t.Fatal("first run not admitted")
	}
	m.Assume(first, "a")
	m.Permit(first)
	done := first.DeepCopy()
	done.Spec.NodeName = "a"
	done.Status.Phase = v1.PodSucceeded
	m.UpsertPod(done)
	clk.Step(time.Hour)
	second := w.MakePod("ns", "again-1").Group("again").Req("cpu", "4").Obj()
	m.UpsertPod(second)
	if adm := m.Admit(logger, second, roomsWithUse(map[string]int64{"a": 1, "b": 1})); adm.Admitted || strings.Contains(adm.Message, "drain") {
		t.Fatalf("the new run starved at once: %+v", adm.Message)
	}
}

// A member beyond the gang (an executor more than the driver declared)
// stays within its queue's max.
func TestMemberBeyondGangHeldAtQueueMax(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	m.SetQueues([]*v1alpha1.Queue{makeQueue("small", 1, "3")})
	for _, n := range nodeRooms(2, 8) {
		m.UpsertNode(w.MakeNode(n.Name, "cpu", "8").Obj())
	}
	driver := sparkIn("app", "small", 2, start) // 3 CPU: the queue's max
	m.UpsertPod(driver)
	if adm := m.Admit(logger, driver, nodes(2, 8)); !adm.Admitted {
		t.Fatalf("driver: %s", adm.Message)
	}
	m.Assume(driver, "a")
	m.Permit(driver)
	var execs []*v1.Pod
	for i := 1; i <= 3; i++ {
		x := w.MakeSparkExecutor("ns", "app", i, driver).Req("cpu", "1").Obj()
		execs = append(execs, x)
		m.UpsertPod(x)
	}
	for _, x := range execs[:2] {
		if adm := m.Admit(logger, x, nodes(2, 8)); !adm.Admitted {
			t.Fatalf("declared executor %s: %s", x.Name, adm.Message)
		}
		m.Assume(x, "a")
		m.Permit(x)
	}
	adm := m.Admit(logger, execs[2], nodes(2, 8))
	if want := "beyond the room reserved for the group, waits: queue small is at its max"; adm.Admitted || !strings.Contains(adm.Message, want) {
		t.Errorf("third executor: %q, want %q", adm.Message, want)
	}
}

// A pod of another scheduler on reserved room is found by the next cycle,
// and the reservation is planned again where there is room; the queues'
// capacity leaves out what such pods use and cordoned nodes.
func TestForeignPodOnReservedRoom(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	driver := w.MakeSparkDriver("ns", "app").Req("cpu", "1").Executors(2, "cpu=1").Obj()
	m.UpsertPod(driver)
	rooms := nodeRooms(2, 4)
	if adm := m.Admit(logger, driver, fixed(rooms)); !adm.Admitted {
		t.Fatal(adm.Message)
	}
	m.Assume(driver, "a")
	m.Permit(driver)
	if got := m.OwnReservation(podgroup.Key{Kind: podgroup.KindSparkApp, Namespace: "ns", Name: "spark-app"}); got["a"]["cpu"] != 2000 {
		t.Fatalf("reservation %v, want 2 CPU on a", got)
	}
	other := w.MakePod("ns", "daemon").Scheduler("default-scheduler").Node("a").Req("cpu", "3").Obj()
	m.UpsertForeignPod(other)
	if !m.NeedsRestore() {
		t.Fatal("a foreign pod on reserved room does not make the next cycle check")
	}
	crowded := fixed([]podgroup.NodeRoom{
		{Name: "a", Node: w.MakeNode("a").Obj(), Free: resources.List{"cpu": 0, "pods": 100}},
		{Name: "b", Node: w.MakeNode("b").Obj(), Free: resources.List{"cpu": 4000, "pods": 110}},
	})
	acts := m.Restore(logger, crowded)
	if diff := eventReasons(acts); len(diff) != 1 || diff[0] != podgroup.ReasonReservationReplanned {
		t.Fatalf("events %v, want ReservationReplanned", diff)
	}
	if got := m.OwnReservation(podgroup.Key{Kind: podgroup.KindSparkApp, Namespace: "ns", Name: "spark-app"}); got["b"]["cpu"] != 2000 || got["a"] != nil {
		t.Errorf("reservation %v, want 2 CPU moved to b", got)
	}
}

// A node cordoned under a running group's reservation: the room moves to
// a node that takes the members, and the queues' capacity leaves the node
// out.
func TestCordonedNodeReservationReplanned(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	key := podgroup.Key{Kind: podgroup.KindSparkApp, Namespace: "ns", Name: "spark-app"}
	driver := w.MakeSparkDriver("ns", "app").Req("cpu", "1").Executors(2, "cpu=1").Obj()
	m.UpsertPod(driver)
	if adm := m.Admit(logger, driver, fixed(nodeRooms(2, 4))); !adm.Admitted {
		t.Fatal(adm.Message)
	}
	m.Assume(driver, "a")
	m.Permit(driver)
	cordoned := w.MakeNode("a", "cpu", "4").Unschedulable().Obj()
	m.UpsertNode(cordoned)
	if !m.NeedsRestore() {
		t.Fatal("a node cordoned under reserved room does not make the next cycle check")
	}
	rooms := nodeRooms(2, 4)
	rooms[0].Node = cordoned
	acts := m.Restore(logger, fixed(rooms))
	if got := eventReasons(acts); len(got) != 1 || got[0] != podgroup.ReasonReservationReplanned {
		t.Fatalf("events %v, want ReservationReplanned", got)
	}
	if got := m.OwnReservation(key); got["a"] != nil || got["b"]["cpu"] != 2000 {
		t.Errorf("reservation %v, want 2 CPU on b", got)
	}
}

// PodDisruptionBudgets are checked for the victims chosen together: two
// groups that the budget allows one at a time are not both evicted.
func TestPreemptionBudgetsTheVictimsTogether(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	c := &cluster{cpu: 4}
	c.runGroup(m, "ns", "low-a", 1, "2", 1)
	c.runGroup(m, "ns", "low-b", 1, "2", 1)
	m.UpsertPodGroup(w.MakePodGroup("ns", "urgent").MinMember(1).Obj())
	urgent := w.MakePod("ns", "urgent-0").Group("urgent").Req("cpu", "4").Priority(10).Obj()
	m.UpsertPod(urgent)
	m.Admit(logger, urgent, c)
	oneAtATime := func(pods []*v1.Pod) bool { return len(pods) <= 1 }
	plan, _ := m.Preempt(logger, urgent, c, oneAtATime)
	if len(plan.Victims) != 0 {
		t.Errorf("victims %v, want none: the budget allows one disruption, the group needs two", victimNames(plan.Victims))
	}
}

// A preemption's evictions are issued with the decision and again every
// ten seconds while a victim has not left (an eviction may fail); a victim
// of another scheduler counts as gone when its pod is.
func TestEvictionsReissuedUntilVictimsGone(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := newManager()
	c := &cluster{cpu: 4}
	other := w.MakePod("ns", "other").Scheduler("other-scheduler").Req("cpu", "4").Node("n").Obj()
	c.pods = append(c.pods, other)
	m.UpsertForeignPod(other)
	m.UpsertPodGroup(w.MakePodGroup("ns", "urgent").MinMember(1).Obj())
	urgent := w.MakePod("ns", "urgent-0").Group("urgent").Req("cpu", "4").Priority(10).Obj()
	m.UpsertPod(urgent)
	m.Admit(logger, urgent, c)
	_, acts := m.Preempt(logger, urgent, c, allow)
	if got := deletedNames(acts.Delete); len(got) != 1 || got[0] != "other" {
		t.Fatalf("deleted %v, want the other scheduler's pod", got)
	}
	clk.Step(5 * time.Second)
	if got := deletedNames(m.Tick(logger).Delete); len(got) != 0 {
		t.Errorf("deleted again after 5s: %v", got)
	}
	clk.Step(6 * time.Second)
	if got := deletedNames(m.Tick(logger).Delete); len(got) != 1 {
		t.Errorf("deleted %v after 11s, want the eviction issued again", got)
	}
	acts = m.DeleteForeignPod(other)
	if len(acts.Activate) == 0 {
		t.Error("the group's members were not activated when its victim left")
	}
	clk.Step(20 * time.Second)
	if got := deletedNames(m.Tick(logger).Delete); len(got) != 0 {
		t.Errorf("deleted %v after the victim left", got)
	}
}

// The capacity queues share leaves out cordoned nodes and what pods of
// other schedulers use.
func TestQueueCapacityLeavesOutOthersAndCordoned(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	m.SetQueues([]*v1alpha1.Queue{makeQueue("default", 1, "")})
	m.UpsertNode(w.MakeNode("a", "cpu", "4").Unschedulable().Obj())
	m.UpsertNode(w.MakeNode("b", "cpu", "4").Obj())
	m.UpsertForeignPod(w.MakePod("ns", "daemon").Scheduler("default-scheduler").Node("b").Req("cpu", "1").Obj())
	hungry := w.MakeSparkDriver("ns", "hungry").Req("cpu", "1").Executors(99, "cpu=1").Obj()
	m.UpsertPod(hungry)
	m.Admit(logger, hungry, nodes(1, 1))
	_, st, ok := m.QueueStatus("default")
	if !ok {
		t.Fatal("no status for queue default")
	}
	if got := st.FairShare.Cpu().String(); got != "3" {
		t.Errorf("fair share cpu %s, want 3 (b's 4 less the other scheduler's 1; a is cordoned)", got)
	}
}

// Room a member takes from its group's reservation on another node than
// its own is free again there: the pods reservations kept off wake up.
func TestRoomFreedByAssumeWakesBlockedPods(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	driver := w.MakeSparkDriver("ns", "app").Req("cpu", "1").Executors(1, "cpu=1").Obj()
	m.UpsertPod(driver)
	if adm := m.Admit(logger, driver, fixed(nodeRooms(2, 1))); !adm.Admitted {
		t.Fatal(adm.Message)
	}
	blocked := w.MakePod("ns", "waiting").Req("cpu", "1").Obj()
	m.NoteBlocked(blocked)
	// The driver lands on a node the plan did not choose: the room planned
	// for it is free again.
	acts := m.Assume(driver, "c")
	if got := uids(acts.Activate...); !slices.Contains(got, blocked.UID) {
		t.Errorf("activated %v, want the blocked pod woken", got)
	}
}

// Spark Operator's PodGroup counts Spark's memory ("512m") as Kubernetes
// quantities (0.512 bytes): its minResources says nothing of memory. The
// executors still to come are then planned at the size their driver
// declares, memory included, not cut from minResources' proportions.
func TestOperatorMinResourcesPlannedAtDeclaredSize(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	m.UpsertPodGroup(w.MakePodGroup("ns", "pi-pg").MinMember(1).MinResources("cpu", "3", "memory", "2688m").Obj())
	driver := w.MakeSparkDriver("ns", "pi").Group("pi-pg").Req("cpu", "1", "memory", "896Mi").
		Annotation(podgroup.AnnotationExecutorRequests, "cpu=1,memory=896Mi").Obj()
	m.UpsertPod(driver)
	rooms := func(n int) podgroup.Nodes {
		out := make([]podgroup.NodeRoom, n)
		for i := range out {
			name := string(rune('a' + i))
			out[i] = podgroup.NodeRoom{Name: name, Node: w.MakeNode(name).Obj(), Free: resources.List{"cpu": 4000, "memory": 1 << 30, "pods": 110}}
		}
		return fixed(out)
	}
	// One executor of 896Mi per node of 1Gi: two nodes hold the driver
	// and one executor.
	if adm := m.Admit(logger, driver, rooms(2)); adm.Admitted {
		t.Fatalf("admitted on 2 nodes of 1Gi (%s): the executors' memory was not planned", adm.Message)
	}
	if adm := m.Admit(logger, driver, rooms(3)); !adm.Admitted {
		t.Fatalf("not admitted on 3 nodes of 1Gi: %s", adm.Message)
	}
}

// A Spark app in client mode has no driver pod: its executors carry the
// gang's annotations (spark.kubernetes.executor.annotation.*), and the
// first of them is placed only when all the app declares fit, with room
// held for the rest; executors without the annotations are placed one by
// one, as before.
func TestClientModeExecutorsDeclareTheGang(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	first := w.MakeSparkExecutor("ns", "shell", 1, nil).Req("cpu", "2", "memory", "1Gi").
		Annotation(podgroup.AnnotationExecutors, "3").Obj()
	m.UpsertPod(first)
	if adm := m.Admit(logger, first, nodes(2, 2)); adm.Admitted || !strings.Contains(adm.Message, "cpu 6") {
		t.Fatalf("first of 3 executors of 2 CPU admitted on 4 CPU: %+v", adm)
	}
	if adm := m.Admit(logger, first, nodes(3, 2)); !adm.Admitted {
		t.Fatalf("not admitted on 6 CPU: %s", adm.Message)
	}

	lone := w.MakeSparkExecutor("ns", "plain", 1, nil).Req("cpu", "2").Obj()
	m.UpsertPod(lone)
	// Beside the room held for the shell's 3 executors.
	if adm := m.Admit(logger, lone, nodes(4, 2)); !adm.Admitted {
		t.Fatalf("an executor without annotations waits: %s", adm.Message)
	}
}
