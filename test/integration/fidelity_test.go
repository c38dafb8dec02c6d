package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	configv1 "github.com/gangsched/gangsched/apis/config/v1"
	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/test/cluster"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// The tests in this file are the cases where gangsched's admission plan
// once differed from what the cluster does (a wrong decision each), run
// against the real API server: members to come planned with real
// constraints and sizes, namespace quotas, pods of other schedulers.

// node creates one node with the given CPU, 32Gi of memory, labels and
// taints.
func (e *env) node(n *w.NodeWrapper) {
	e.t.Helper()
	if _, err := e.c.CreateNode(e.ctx, n.Obj()); err != nil {
		e.t.Fatal(err)
	}
}

// podNode returns the node a pod is bound to ("" if none).
func (e *env) podNode(name string) string { return e.get(name).Spec.NodeName }

// A PodGroup whose minResources is more than its members request (members
// that request nothing, minMember met) is admitted once the cluster holds
// minResources in all: the part no member covers, of no known member
// size, is room spread over the nodes, not one pod of that size.
func TestMinResourcesBeyondMembersPlannedAsTotal(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 3, "2")
	e.createPodGroup(w.MakePodGroup("", "ps").MinMember(2).MinResources("cpu", "5").Obj())
	e.create(w.MakePod("", "ps-0").Group("ps").Obj(), w.MakePod("", "ps-1").Group("ps").Obj())
	e.waitBound(20*time.Second, "ps-0", "ps-1")
	e.waitEvent("PodGroup", "ps", podgroup.ReasonAdmitted, "cpu 5 reserved")
}

// Executors to come are planned as the driver's executor template
// declares them (the usual Spark set-up: driver on on-demand nodes,
// executors on a tainted spot pool), not with the driver's constraints:
// the app is admitted with its executors' room reserved on the spot pool,
// and every executor binds there.
func TestExecutorsPlannedInTheirOwnPool(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.node(w.MakeNode("ondemand-0", "cpu", "2", "memory", "32Gi").Label("pool", "ondemand"))
	for i := 0; i < 2; i++ {
		e.node(w.MakeNode(fmt.Sprintf("spot-%d", i), "cpu", "4", "memory", "32Gi").Label("pool", "spot").Taint("pool", "spot", v1.TaintEffectNoSchedule))
	}
	template := `{"spec":{"nodeSelector":{"pool":"spot"},"tolerations":[{"key":"pool","operator":"Equal","value":"spot","effect":"NoSchedule"}]}}`
	driver := w.MakeSparkDriver("", "pool").Req("cpu", "1", "memory", "1Gi").NodeSelector("pool", "ondemand").
		Executors(3, "cpu=2,memory=2Gi").Annotation(podgroup.AnnotationExecutorTemplate, template).Obj()
	var execs []*v1.Pod
	for i := 1; i <= 3; i++ {
		execs = append(execs, w.MakeSparkExecutor("", "pool", i, driver).Req("cpu", "2", "memory", "2Gi").
			NodeSelector("pool", "spot").Toleration("pool", "spot", v1.TaintEffectNoSchedule).Obj())
	}
	created := e.create(driver)
	e.sparkDriver(created[0], execs...)
	e.waitBound(30*time.Second, append([]string{driver.Name}, names(execs...)...)...)
	e.waitEvent("Pod", driver.Name, podgroup.ReasonAdmitted, "reserved on ondemand-0, spot-0, spot-1")
	for _, x := range execs {
		if n := e.podNode(x.Name); !strings.HasPrefix(n, "spot-") {
			t.Errorf("executor %s on %s, want a spot node", x.Name, n)
		}
	}
}

// An executor larger than its driver declared (a sidecar, overhead) is
// said in an Event, and the room still reserved is planned again for
// executors of its size before others take the rest: the last executor
// binds despite a flood of pods that arrives after the first.
func TestExecutorLargerThanDeclaredReplanned(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 2, "4")
	driver := w.MakeSparkDriver("", "big").Req("cpu", "1").Executors(2, "cpu=1").Obj()
	x1 := w.MakeSparkExecutor("", "big", 1, driver).Req("cpu", "2").Obj()
	x2 := w.MakeSparkExecutor("", "big", 2, driver).Req("cpu", "2").Obj()
	d := e.create(driver)[0]
	e.waitBound(20*time.Second, driver.Name)
	x1.OwnerReferences[0].UID = d.UID
	x2.OwnerReferences[0].UID = d.UID
	e.create(x1)
	e.waitBound(20*time.Second, x1.Name)
	e.waitEvent("Pod", driver.Name, podgroup.ReasonLargerThanDeclared, "requests more than the group declares for one member: cpu 2 (declared 1)")
	e.waitEvent("Pod", driver.Name, podgroup.ReasonReservationReplanned, "reserved again")
	var flood []*v1.Pod
	for i := 0; i < 8; i++ {
		flood = append(flood, w.MakePod("", fmt.Sprintf("flood-%d", i)).Req("cpu", "1").Obj())
	}
	e.create(flood...)
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return e.bound(names(flood...)...) == 3, nil
	}); err != nil {
		t.Fatalf("%d flood pods bound, want the 3 CPUs not reserved: %s", e.bound(names(flood...)...), e.describe(names(flood...)...))
	}
	e.create(x2)
	e.waitBound(20*time.Second, x2.Name)
}

// quotaEnv is an env whose API server charges ResourceQuotas, with
// kube-controller-manager's resource quota controller running, and a
// quota on the test namespace. The scheduler starts once the quota has its
// status, so that its informers hold it before the first cycle.
func quotaEnv(t *testing.T, hard v1.ResourceList) *env {
	e := newEnvWithOptions(t, nil, cluster.Options{})
	e.config = gangConfig(nil)
	if err := e.c.StartQuotaController(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Client.CoreV1().ResourceQuotas(e.ns).Create(e.ctx, &v1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "team"}, Spec: v1.ResourceQuotaSpec{Hard: hard},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitQuota(func(q *v1.ResourceQuota) bool { return len(q.Status.Hard) > 0 })
	e.sched, e.stop = runScheduler(t, e.c, e.config)
	return e
}

// waitQuota waits until the namespace's quota "team" satisfies ok.
func (e *env) waitQuota(ok func(*v1.ResourceQuota) bool) {
	e.t.Helper()
	if err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		q, err := e.c.Client.CoreV1().ResourceQuotas(e.ns).Get(ctx, "team", metav1.GetOptions{})
		return err == nil && ok(q), nil
	}); err != nil {
		e.t.Fatal("quota team did not reach the state waited for")
	}
}

// A Spark app whose namespace quota cannot hold its executors waits whole,
// saying which quota, instead of binding a driver whose executors the API
// server would refuse; once the quota is raised, the app binds whole.
func TestQuotaHoldsTheWholeApp(t *testing.T) {
	e := quotaEnv(t, v1.ResourceList{v1.ResourcePods: resource.MustParse("3")})
	e.nodes("n", 1, "8")
	driver, execs := sparkApp("q", 3)
	created := e.create(driver)
	e.waitCondition(driver.Name, "namespace quota team cannot hold the 3 members still to be created (pods: 3 more needed, 1 used of 3)")
	e.stayUnbound(2*time.Second, driver.Name)
	e.waitEvent("Pod", driver.Name, podgroup.ReasonWaiting, "namespace quota team")

	q, err := e.c.Client.CoreV1().ResourceQuotas(e.ns).Get(e.ctx, "team", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q.Spec.Hard[v1.ResourcePods] = resource.MustParse("4")
	if _, err := e.c.Client.CoreV1().ResourceQuotas(e.ns).Update(e.ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.sparkDriver(created[0], execs...)
	e.waitBound(30*time.Second, append([]string{driver.Name}, names(execs...)...)...)
}

// A quota counts the executors that groups admitted before still have to
// create: with room on the nodes for both, the second app waits while the
// first one's executors, not created yet, would take the quota's rest.
func TestQuotaCountsExecutorsOfAppsAdmittedBefore(t *testing.T) {
	e := quotaEnv(t, v1.ResourceList{v1.ResourceRequestsCPU: resource.MustParse("5")})
	e.nodes("n", 1, "8")
	d1, _ := sparkApp("first", 2)
	d2, _ := sparkApp("second", 2)
	e.create(d1)
	e.waitBound(20*time.Second, d1.Name)
	e.create(d2)
	e.waitCondition(d2.Name, "namespace quota team cannot hold the 2 members still to be created (requests.cpu: 2 more needed, 2 used of 5, 2 held for groups admitted before)")
	e.stayUnbound(2*time.Second, d2.Name)
}

// A pod that never passes gangsched's Filter (one naming its node, as a
// DaemonSet's or another scheduler's do) takes room reserved for an app's
// executors: the reservation moves to a node with room before a flood
// takes it, and every executor binds.
func TestForeignPodOnReservedRoomReplanned(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 2, "4")
	driver, execs := sparkApp("crowded", 3)
	d := e.create(driver)[0]
	e.waitBound(20*time.Second, driver.Name)
	home := e.podNode(driver.Name)
	e.create(w.MakePod("", "daemon").Scheduler("default-scheduler").Node(home).Req("cpu", "2").Obj())
	time.Sleep(time.Second) // for the scheduler to see it
	// The next scheduling cycle (the flood's first) finds the room taken
	// and plans it again, before any pod of the flood is placed.
	e.floodThenExecutors(d, execs, "pods this scheduler did not place took room reserved on node "+home)
}

// A pod of another scheduler preempted for a group is seen to go (its
// scheduler's pods are not this scheduler's): the group binds as soon as
// it has gone, not after the victims' timeout.
func TestPreemptedForeignPodLetsTheGroupIn(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.kubelet(e.ns)
	e.nodes("n", 1, "4")
	e.priorityClass("high", 100)
	e.create(w.MakePod("", "other").Scheduler("other-scheduler").Node("n-0").Req("cpu", "4").Obj())
	e.createPodGroup(w.MakePodGroup("", "urgent").MinMember(2).Obj())
	e.create(w.MakePod("", "urgent-0").Group("urgent").PriorityClass("high").Req("cpu", "2").Obj(),
		w.MakePod("", "urgent-1").Group("urgent").PriorityClass("high").Req("cpu", "2").Obj())
	e.waitEvent("PodGroup", "urgent", podgroup.ReasonPreempting, "preempts pod "+e.ns+"/other")
	e.waitBound(30*time.Second, "urgent-0", "urgent-1")
}

// A group that ran whole and later lost a member is not taken for one
// bound half way by a scheduler that starts after: its running pods are
// never deleted.
func TestRestartKeepsGroupThatLostMembers(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 1, "4")
	e.createPodGroup(w.MakePodGroup("", "trio").MinMember(3).Timeout(2).Obj())
	for i := 0; i < 3; i++ {
		e.create(w.MakePod("", fmt.Sprintf("trio-%d", i)).Group("trio").Req("cpu", "1").Obj())
	}
	e.waitBound(20*time.Second, "trio-0", "trio-1", "trio-2")
	e.stop()
	if err := e.c.Client.CoreV1().Pods(e.ns).Delete(e.ctx, "trio-2", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	startScheduler(t, e.c, e.config)
	time.Sleep(5 * time.Second) // past the group's 2 s timeout
	for _, name := range []string{"trio-0", "trio-1"} {
		if p := e.get(name); p.DeletionTimestamp != nil {
			t.Errorf("%s was deleted: its group ran whole before it lost trio-2", name)
		}
	}
}

// A group that can never be admitted, however long it waits (bigger than
// the whole cluster), does not take the starvation drain: the starving
// group behind it that fits the drained cluster gets it.
func TestGroupTooBigForTheClusterDoesNotTakeTheDrain(t *testing.T) {
	e := newEnv(t, gangConfig(func(a *configv1.GangArgs) { a.StarvationThresholdSeconds = ptr.To[int64](2) }))
	e.runPods(e.ns, time.Hour)
	e.nodes("n", 2, "4")
	e.gangs(e.ns, "busy", 2, 1, "1", "")
	e.waitBound(20*time.Second, "busy-0-0", "busy-1-0")
	e.gangs(e.ns, "huge", 1, 3, "4", "") // 12 CPU of 8: never
	e.gangs(e.ns, "big", 1, 2, "4", "")  // two whole nodes once drained
	e.waitEvent("PodGroup", "big-0", podgroup.ReasonStarving, "reserving nodes")
}

// A group held at its queue's max (it could run on the cluster, but its
// queue may never hold it) does not take the starvation drain either.
func TestGroupAtItsQueueMaxDoesNotTakeTheDrain(t *testing.T) {
	e := newEnv(t, gangConfig(func(a *configv1.GangArgs) { a.StarvationThresholdSeconds = ptr.To[int64](2) }))
	e.runPods(e.ns, time.Hour)
	e.createQueue("capped", 1, func(q *v1alpha1.Queue) { q.Spec.Max = v1.ResourceList{v1.ResourceCPU: resource.MustParse("4")} })
	e.nodes("n", 2, "4")
	e.gangs(e.ns, "busy", 2, 1, "1", "")
	e.waitBound(20*time.Second, "busy-0-0", "busy-1-0")
	e.createPodGroup(w.MakePodGroup("", "capped").MinMember(2).Label(v1alpha1.QueueLabel, "capped").Obj()) // 8 CPU, queue max 4
	e.create(w.MakePod("", "capped-0").Group("capped").Req("cpu", "4").Obj(), w.MakePod("", "capped-1").Group("capped").Req("cpu", "4").Obj())
	e.waitCondition("capped-0", "queue capped")
	e.gangs(e.ns, "big", 1, 2, "4", "")
	e.waitEvent("PodGroup", "big-0", podgroup.ReasonStarving, "reserving nodes")
}

// A PodGroup used again after its first run finished waits from the new
// run: it does not starve at once on the clock of its first.
func TestReusedGroupWaitsFromItsNewRun(t *testing.T) {
	const threshold = 3 * time.Second
	e := newEnv(t, gangConfig(func(a *configv1.GangArgs) {
		a.StarvationThresholdSeconds = ptr.To[int64](int64(threshold / time.Second))
	}))
	e.runPods(e.ns, time.Hour)
	e.nodes("n", 2, "4")
	e.gangs(e.ns, "busy", 2, 1, "3", "") // one on each node
	e.waitBound(20*time.Second, "busy-0-0", "busy-1-0")
	e.createPodGroup(w.MakePodGroup("", "again").MinMember(1).Obj())
	e.create(w.MakePod("", "again-0").Group("again").Req("cpu", "1").Obj())
	e.waitBound(20*time.Second, "again-0")
	first := e.get("again-0")
	first.Status.Phase = v1.PodSucceeded
	if _, err := e.c.Client.CoreV1().Pods(e.ns).UpdateStatus(e.ctx, first, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(threshold + time.Second) // past the threshold since the first run began

	e.create(w.MakePod("", "again-1").Group("again").Req("cpu", "4").Obj()) // fits no node until one drains
	e.waitCondition("again-1", "")
	time.Sleep(threshold / 2)
	if e.hasEvent("PodGroup", "again", podgroup.ReasonStarving, "") {
		t.Fatalf("the new run starved at once, on the clock of the first")
	}
	e.waitEvent("PodGroup", "again", podgroup.ReasonStarving, "reserving nodes")
}

// Executors beyond what the driver declared stay within the queue's max:
// the third of an app that declared two waits, saying so.
func TestExecutorBeyondTheGangHeldAtQueueMax(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.createQueue("capped", 1, func(q *v1alpha1.Queue) { q.Spec.Max = v1.ResourceList{v1.ResourceCPU: resource.MustParse("3")} })
	e.nodes("n", 1, "8")
	driver := w.MakeSparkDriver("", "extra").Req("cpu", "1").Executors(2, "cpu=1").Label(v1alpha1.QueueLabel, "capped").Obj()
	var execs []*v1.Pod
	for i := 1; i <= 3; i++ {
		execs = append(execs, w.MakeSparkExecutor("", "extra", i, driver).Req("cpu", "1").Obj())
	}
	created := e.create(driver)
	e.sparkDriver(created[0], execs...)
	e.waitBound(20*time.Second, driver.Name)
	if err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return e.bound(names(execs...)...) == 2, nil
	}); err != nil {
		t.Fatalf("%d of 3 executors bound, want the 2 declared: %s", e.bound(names(execs...)...), e.describe(names(execs...)...))
	}
	for _, x := range execs {
		if e.podNode(x.Name) == "" {
			e.waitCondition(x.Name, "beyond the room reserved for the group, waits: queue capped is at its max")
			e.stayUnbound(time.Second, x.Name)
		}
	}
}

// Pods naming a PodGroup that does not exist (a typo) wait with their
// reason and do not take the starvation drain; and a draining group whose
// PodGroup is deleted gives the drained room back at once.
func TestMissingPodGroupDoesNotHoldTheDrain(t *testing.T) {
	e := newEnv(t, gangConfig(func(a *configv1.GangArgs) { a.StarvationThresholdSeconds = ptr.To[int64](2) }))
	e.runPods(e.ns, time.Hour)
	e.nodes("n", 2, "4")
	e.gangs(e.ns, "busy", 2, 1, "1", "")
	e.waitBound(20*time.Second, "busy-0-0", "busy-1-0")
	e.create(w.MakePod("", "typo-0").Group("tpyo").Req("cpu", "4").Obj(), w.MakePod("", "typo-1").Group("tpyo").Req("cpu", "4").Obj())
	e.gangs(e.ns, "big", 1, 2, "4", "")
	e.waitEvent("PodGroup", "big-0", podgroup.ReasonStarving, "reserving nodes")

	// The drain holds the nodes' free room against a plain pod, until
	// the draining group's PodGroup goes.
	e.create(w.MakePod("", "late").Req("cpu", "1").Obj())
	e.stayUnbound(2*time.Second, "late")
	if err := e.c.PodGroups.SchedulingV1alpha1().PodGroups(e.ns).Delete(e.ctx, "big-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitBound(20*time.Second, "late")
}

// A node cordoned under room reserved for an app's executors has its
// reservation moved to a node that takes them before a flood takes the
// rest, and every executor binds.
func TestCordonedNodeUnderReservationReplanned(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 2, "4")
	driver, execs := sparkApp("moved", 3)
	d := e.create(driver)[0]
	e.waitBound(20*time.Second, driver.Name)
	home := e.podNode(driver.Name)
	n, err := e.c.Client.CoreV1().Nodes().Get(e.ctx, home, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Unschedulable = true
	if _, err := e.c.Client.CoreV1().Nodes().Update(e.ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // for the scheduler to see it
	e.floodThenExecutors(d, execs, "node "+home+", with")
}

// A PodDisruptionBudget that allows one disruption keeps both of two
// victims a group would need: preemption checks the victims together,
// and the group waits instead of breaking the budget.
func TestDisruptionBudgetCoversVictimsTogether(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.kubelet(e.ns)
	e.nodes("n", 1, "4")
	e.priorityClass("high", 100)
	e.create(w.MakePod("", "web-0").Label("app", "web").Req("cpu", "2").Obj(), w.MakePod("", "web-1").Label("app", "web").Req("cpu", "2").Obj())
	e.waitBound(20*time.Second, "web-0", "web-1")
	pdb, err := e.c.Client.PolicyV1().PodDisruptionBudgets(e.ns).Create(e.ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// No disruption controller runs here: write the status it would.
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: 1, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2}
	if _, err := e.c.Client.PolicyV1().PodDisruptionBudgets(e.ns).UpdateStatus(e.ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // for the scheduler to see it
	e.createPodGroup(w.MakePodGroup("", "urgent").MinMember(2).Obj())
	e.create(w.MakePod("", "urgent-0").Group("urgent").PriorityClass("high").Req("cpu", "2").Obj(),
		w.MakePod("", "urgent-1").Group("urgent").PriorityClass("high").Req("cpu", "2").Obj())
	e.stayUnbound(5*time.Second, "urgent-0", "urgent-1")
	for _, name := range []string{"web-0", "web-1"} {
		if p := e.get(name); p.DeletionTimestamp != nil {
			t.Errorf("%s was preempted: the budget allows one disruption and the group needs both", name)
		}
	}
}

// floodThenExecutors fills the cluster's free room with 1-CPU pods of no
// group, waits for the driver's reservation to be replanned with an Event
// containing replanned, then creates the driver's executors and waits for
// all of them to bind in the room kept for them.
func (e *env) floodThenExecutors(driver *v1.Pod, execs []*v1.Pod, replanned string) {
	e.t.Helper()
	var flood []*v1.Pod
	for i := 0; i < 8; i++ {
		flood = append(flood, w.MakePod("", fmt.Sprintf("flood-%d", i)).Req("cpu", "1").Obj())
	}
	e.create(flood...)
	e.waitEvent("Pod", driver.Name, podgroup.ReasonReservationReplanned, replanned)
	time.Sleep(2 * time.Second)
	for _, x := range execs {
		x.OwnerReferences[0].UID = driver.UID
	}
	e.create(execs...)
	e.waitBound(20*time.Second, names(execs...)...)
}
