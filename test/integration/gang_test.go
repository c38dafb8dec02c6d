package integration

import (
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	w "github.com/gangsched/gangsched/test/wrappers"
)

// A group of 5 on a cluster with room for 4: nothing binds, and the pods
// say why; one more node and all 5 bind.
func TestGroupBindsWholeOrNotAtAll(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("small", 2, "2")
	e.createPodGroup(w.MakePodGroup("", "five").MinMember(5).Obj())
	var pods []*v1.Pod
	for i := 0; i < 5; i++ {
		pods = append(pods, w.MakePod("", fmt.Sprintf("five-%d", i)).Group("five").Req("cpu", "1").Obj())
	}
	e.create(pods...)
	all := names(pods...)
	e.waitCondition("five-0", "pod group "+e.ns+"/five needs cpu 5 for 5 pods, cpu 4 free")
	e.stayUnbound(2*time.Second, all...)
	e.waitEvent("PodGroup", "five", "GangWaiting", "needs cpu 5")

	e.nodes("more", 1, "2")
	e.waitBound(20*time.Second, all...)
	e.waitEvent("PodGroup", "five", "GangAdmitted", "5 pods planned")
}

// Members of a PodGroup wait outside the queue until minMember exist, and
// say so.
func TestGroupWaitsForItsMembers(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 1, "8")
	e.createPodGroup(w.MakePodGroup("", "three").MinMember(3).Obj())
	e.create(w.MakePod("", "three-0").Group("three").Obj(), w.MakePod("", "three-1").Group("three").Obj())
	e.waitCondition("three-0", "has fewer than its 3 members (minMember); none is scheduled before all 3 exist")
	e.stayUnbound(time.Second, "three-0", "three-1")
	e.create(w.MakePod("", "three-2").Group("three").Obj())
	e.waitBound(20*time.Second, "three-0", "three-1", "three-2")
}

// sparkApp builds a Spark app declared by its driver's annotations: a
// 1-CPU driver and n executors of 1 CPU.
func sparkApp(name string, n int) (*v1.Pod, []*v1.Pod) {
	driver := w.MakeSparkDriver("", name).Req("cpu", "1", "memory", "1Gi").Executors(n, "cpu=1,memory=2Gi").Obj()
	var execs []*v1.Pod
	for i := 1; i <= n; i++ {
		execs = append(execs, w.MakeSparkExecutor("", name, i, driver).Req("cpu", "1", "memory", "2Gi").Obj())
	}
	return driver, execs
}

// Two Spark apps that each fit alone but not together (6 CPU, 4 each): with
// gang-scheduler one runs whole and the other waits whole; when the first
// ends, the second runs.
func TestSparkAppsDoNotDeadlock(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 2, "3")
	d1, x1 := sparkApp("one", 3)
	d2, x2 := sparkApp("two", 3)
	created := e.create(d1, d2)
	e.sparkDriver(created[0], x1...)
	e.sparkDriver(created[1], x2...)

	// Exactly one app is admitted; its executors all bind.
	var winner, loser *v1.Pod
	var winnerExecs, loserExecs []*v1.Pod
	deadline := time.Now().Add(20 * time.Second)
	for winner == nil && time.Now().Before(deadline) {
		switch {
		case e.bound(d1.Name) == 1:
			winner, loser, winnerExecs, loserExecs = created[0], created[1], x1, x2
		case e.bound(d2.Name) == 1:
			winner, loser, winnerExecs, loserExecs = created[1], created[0], x2, x1
		}
		time.Sleep(100 * time.Millisecond)
	}
	if winner == nil {
		t.Fatalf("no driver bound: %s", e.describe(d1.Name, d2.Name))
	}
	e.waitBound(20*time.Second, names(winnerExecs...)...)
	e.waitCondition(loser.Name, "needs cpu 4, memory 7Gi for 4 pods, cpu 2, memory")
	e.stayUnbound(2*time.Second, loser.Name)

	// The first app ends: its pods go, and the second runs whole.
	for _, p := range append([]*v1.Pod{winner}, winnerExecs...) {
		if err := e.c.Client.CoreV1().Pods(e.ns).Delete(e.ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitBound(30*time.Second, loser.Name)
	e.waitBound(20*time.Second, names(loserExecs...)...)
}

// The same two apps under the stock kube-scheduler: both drivers start,
// their executors split the rest, and both apps are stuck half placed. This
// is the failure gang-scheduler exists to prevent.
func TestDefaultSchedulerDeadlocksSparkApps(t *testing.T) {
	e := newEnv(t, defaultConfig)
	e.nodes("n", 2, "3")
	d1, x1 := sparkApp("one", 3)
	d2, x2 := sparkApp("two", 3)
	created := e.create(d1, d2)
	e.waitBound(20*time.Second, d1.Name, d2.Name)
	// Both drivers ask for their executors at once, as Spark does in
	// batches: the requests interleave.
	for i := range x1 {
		for _, ex := range []*v1.Pod{x1[i], x2[i]} {
			owner := created[0]
			if ex == x2[i] {
				owner = created[1]
			}
			ex = ex.DeepCopy()
			ex.OwnerReferences[0].UID = owner.UID
			e.create(ex)
		}
	}
	time.Sleep(3 * time.Second)
	b1, b2 := e.bound(names(x1...)...), e.bound(names(x2...)...)
	if b1+b2 != 4 || b1 == 3 || b2 == 3 {
		t.Fatalf("executors bound: %d and %d of 3; want 4 in all and neither app whole", b1, b2)
	}
	t.Logf("default scheduler: app one has %d/3 executors, app two %d/3; both wait forever holding %d CPUs", b1, b2, 6)
}

// A driver whose executors do not fit is not bound; once bound, its
// executors land in the room reserved for them even when a flood of other
// pods arrives first.
func TestDriverReservationHoldsAgainstFlood(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("first", 1, "4")
	driver, execs := sparkApp("big", 4) // 1 + 4 CPU
	d := e.create(driver)[0]
	e.waitCondition(driver.Name, "needs cpu 5, memory 9Gi for 5 pods, cpu 4, memory 32Gi free")
	e.stayUnbound(time.Second, driver.Name)

	e.nodes("second", 1, "4")
	e.waitBound(20*time.Second, driver.Name)
	var flood []*v1.Pod
	for i := 0; i < 10; i++ {
		flood = append(flood, w.MakePod("", fmt.Sprintf("flood-%d", i)).Req("cpu", "1").Obj())
	}
	e.create(flood...)
	time.Sleep(2 * time.Second) // the flood gets every chance first
	e.sparkDriver(d, execs...)
	e.waitBound(20*time.Second, names(execs...)...)
	if got := e.bound(names(flood...)...); got != 3 {
		t.Errorf("%d flood pods bound, want 3 (8 CPU - 5 for the app)", got)
	}
	e.waitEvent("Pod", "flood-9", "FailedScheduling", "reserved for other pod groups")
}

// Spark Operator's PodGroup: minMember 1 and minResources for the driver
// and all executors. The driver is bound only when all of minResources fits,
// and the rest is held for the executors.
func TestSparkOperatorPodGroupReservesMinResources(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 1, "4")
	e.createPodGroup(w.MakePodGroup("", "pi-pg").MinMember(1).MinResources("cpu", "6", "memory", "6Gi").Obj())
	driver := w.MakeSparkDriver("", "pi").Group("pi-pg").Req("cpu", "1", "memory", "1Gi").Obj()
	d := e.create(driver)[0]
	e.waitCondition(driver.Name, "needs cpu 6, memory 6Gi")
	e.stayUnbound(time.Second, driver.Name)

	e.nodes("m", 1, "4")
	e.waitBound(20*time.Second, driver.Name)
	e.create(w.MakePod("", "intruder").Req("cpu", "3").Obj())
	var execs []*v1.Pod
	for i := 1; i <= 5; i++ {
		execs = append(execs, w.MakeSparkExecutor("", "pi", i, d).Group("pi-pg").Req("cpu", "1", "memory", "1Gi").Obj())
	}
	e.sparkDriver(d, execs...)
	e.waitBound(20*time.Second, names(execs...)...)
	e.waitEvent("Pod", "intruder", "FailedScheduling", "reserved for other pod groups")
}
