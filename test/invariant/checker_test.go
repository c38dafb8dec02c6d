package invariant

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	"github.com/gangsched/gangsched/test/cluster"
	w "github.com/gangsched/gangsched/test/wrappers"
)

func TestMain(m *testing.M) { os.Exit(cluster.RunMain(m)) }

// fixture is a real API server with no scheduler: the test plays a
// scheduler that breaks each promise, and the checker must say so.
type fixture struct {
	t   *testing.T
	ctx context.Context
	c   *cluster.Cluster
	ns  string
}

func newFixture(t *testing.T) *fixture {
	c := cluster.Start(t)
	// Cancelled before the API server stops, so that the checker's
	// watches end first.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	if err := c.InstallGangschedCRDs(ctx); err != nil {
		t.Fatal(err)
	}
	ns, err := c.CreateNamespace(ctx, "inv")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, c: c, ns: ns}
}

func (f *fixture) node(name, cpu string) {
	f.t.Helper()
	if _, err := f.c.CreateNodes(f.ctx, name, 1, v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse("64Gi")}, nil); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) group(name string, minMember int32) {
	f.t.Helper()
	if _, err := f.c.PodGroups.SchedulingV1alpha1().PodGroups(f.ns).Create(f.ctx, w.MakePodGroup(f.ns, name).MinMember(minMember).Obj(), metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

// pod creates a pod, bound to node unless node is "".
func (f *fixture) pod(p *w.PodWrapper, node string) *v1.Pod {
	f.t.Helper()
	pod := p.Obj()
	pod.Namespace, pod.UID, pod.Spec.NodeName = f.ns, "", node
	got, err := f.c.Client.CoreV1().Pods(f.ns).Create(f.ctx, pod, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

// disrupt marks p DisruptionTarget with reason, as gangsched does before it
// deletes a pod.
func (f *fixture) disrupt(p *v1.Pod, reason string) {
	f.t.Helper()
	p, err := f.c.Client.CoreV1().Pods(f.ns).Get(f.ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	p.Status.Conditions = append(p.Status.Conditions, v1.PodCondition{Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: reason, Message: "test"})
	if _, err := f.c.Client.CoreV1().Pods(f.ns).UpdateStatus(f.ctx, p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) phase(p *v1.Pod, phase v1.PodPhase) {
	f.t.Helper()
	p, err := f.c.Client.CoreV1().Pods(f.ns).Get(f.ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	p.Status.Phase = phase
	if _, err := f.c.Client.CoreV1().Pods(f.ns).UpdateStatus(f.ctx, p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) delete(p *v1.Pod) {
	f.t.Helper()
	if err := f.c.Client.CoreV1().Pods(f.ns).Delete(f.ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		f.t.Fatal(err)
	}
}

// found waits until the checker reported exactly want (invariant and
// object, in any order), then a second more to see nothing else comes.
func (f *fixture) found(c *Checker, want ...[2]string) {
	f.t.Helper()
	got := func() [][2]string {
		var out [][2]string
		for _, v := range c.Violations() {
			out = append(out, [2]string{v.Invariant, v.Object})
		}
		slices.SortFunc(out, func(a, b [2]string) int { return compare(a, b) })
		return out
	}
	slices.SortFunc(want, func(a, b [2]string) int { return compare(a, b) })
	_ = wait.PollUntilContextTimeout(f.ctx, 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return len(got()) >= len(want), nil
	})
	time.Sleep(time.Second)
	if g := got(); !slices.Equal(g, want) {
		f.t.Errorf("violations = %v, want %v\n%s", g, want, c.Report())
	}
}

func compare(a, b [2]string) int {
	if a[0] != b[0] {
		if a[0] < b[0] {
			return -1
		}
		return 1
	}
	if a[1] < b[1] {
		return -1
	} else if a[1] > b[1] {
		return 1
	}
	return 0
}

// Each broken promise is found, naming its group, node or pod, and what
// keeps them is not: a group that ran whole and lost members, a Spark
// driver whose executors are on their way, a preemption victim marked as
// such, members that ended, executors of a deleted driver.
func TestCheckerFindsBrokenPromises(t *testing.T) {
	f := newFixture(t)
	f.node("big", "64")
	f.node("small", "4")
	c, err := Start(f.ctx, f.c.Client, f.c.PodGroups, Options{SchedulerName: w.SchedulerName, PartialGrace: 2 * time.Second, IdleGrace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ns := f.ns
	cpu := func(p *w.PodWrapper) *w.PodWrapper { return p.Req("cpu", "1") }

	// Bound half-way, and left so: PartialGroup.
	f.group("half", 3)
	f.pod(cpu(w.MakePod(ns, "half-0").Group("half")), "big-0")
	f.pod(cpu(w.MakePod(ns, "half-1").Group("half")), "")
	f.pod(cpu(w.MakePod(ns, "half-2").Group("half")), "")

	// Ran whole; then one member ends, one is preempted (marked), one is
	// deleted unmarked (UnexplainedDeletion) and one is "released as bound
	// half-way" (WholeGroupReleased).
	f.group("whole", 4)
	var whole []*v1.Pod
	for _, n := range []string{"whole-0", "whole-1", "whole-2", "whole-3"} {
		whole = append(whole, f.pod(cpu(w.MakePod(ns, n).Group("whole")), "big-0"))
	}
	f.phase(whole[0], v1.PodSucceeded)
	f.delete(whole[0])
	f.disrupt(whole[1], v1.PodReasonPreemptionByScheduler)
	f.delete(whole[1])
	f.delete(whole[2])
	f.disrupt(whole[3], podgroup.DisruptionReasonReleased)
	f.delete(whole[3])

	// A Spark driver bound, its executors not created yet, then created and
	// bound within the grace: nothing. Its driver deleted as a preemption
	// victim, then its executors by the owner: nothing.
	driver := f.pod(cpu(w.MakeSparkDriver(ns, "etl").Executors(2, "cpu=1")), "big-0")
	time.Sleep(time.Second)
	e1 := f.pod(cpu(w.MakeSparkExecutor(ns, "etl", 1, driver)), "big-0")
	e2 := f.pod(cpu(w.MakeSparkExecutor(ns, "etl", 2, driver)), "big-0")
	f.disrupt(driver, v1.PodReasonPreemptionByScheduler)
	f.delete(driver)
	f.delete(e1)
	f.delete(e2)

	// A node committed beyond its allocatable: NodeOvercommitted.
	f.pod(w.MakePod(ns, "plain-0").Req("cpu", "3"), "small-0")
	f.pod(w.MakePod(ns, "plain-1").Req("cpu", "2"), "small-0")

	f.found(c,
		[2]string{PartialGroup, ns + "/half"},
		[2]string{UnexplainedDeletion, ns + "/whole-2"},
		[2]string{WholeGroupReleased, ns + "/whole-3"},
		[2]string{NodeOvercommitted, "small-0"},
	)
}

// With nothing bound, a group that fits the empty cluster and waits past
// the grace is found; one bigger than the cluster is not.
func TestCheckerFindsAdmissibleGroupWaitingOnIdleCluster(t *testing.T) {
	f := newFixture(t)
	f.node("n", "4")
	c, err := Start(f.ctx, f.c.Client, f.c.PodGroups, Options{SchedulerName: w.SchedulerName, IdleGrace: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.group("fits", 2)
	f.pod(w.MakePod(f.ns, "fits-0").Group("fits").Req("cpu", "2"), "")
	f.pod(w.MakePod(f.ns, "fits-1").Group("fits").Req("cpu", "2"), "")
	f.group("huge", 2)
	f.pod(w.MakePod(f.ns, "huge-0").Group("huge").Req("cpu", "3"), "")
	f.pod(w.MakePod(f.ns, "huge-1").Group("huge").Req("cpu", "3"), "")
	f.found(c, [2]string{IdleGroupNotAdmitted, f.ns + "/fits"})
}

// Room a running group holds for members to come counts against its node,
// as the group's object records it, less what members bound since took
// from it: a pod bound into that room is found once it has stayed past
// ReservationGrace. A record whose quorum members are gone (the group was
// released or preempted) holds nothing.
func TestCheckerCountsReservedRoom(t *testing.T) {
	f := newFixture(t)
	f.node("res", "4")
	f.node("free", "8")
	c, err := Start(f.ctx, f.c.Client, f.c.PodGroups, Options{SchedulerName: w.SchedulerName, PartialGrace: time.Hour, IdleGrace: time.Hour,
		ReservationGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ns := f.ns
	record := func(meta *metav1.ObjectMeta, quorum string, room map[string]resources.List) {
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[podgroup.AnnotationReservedUntil] = time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
		meta.Annotations[podgroup.AnnotationQuorum] = time.Now().UTC().Format(time.RFC3339) + " " + quorum
		meta.Annotations[podgroup.AnnotationReservation] = podgroup.FormatReservation(room)
	}

	// A driver of 1 CPU admitted with 2 CPU held on res-0 for its two
	// executors; one of them binds there: 1 + 1 bound, 1 held.
	driver := f.pod(w.MakeSparkDriver(ns, "etl").Req("cpu", "1").Executors(2, "cpu=1"), "res-0")
	record(&driver.ObjectMeta, string(driver.UID), map[string]resources.List{"res-0": {"cpu": 2000, "pods": 2}})
	if _, err := f.c.Client.CoreV1().Pods(ns).Update(f.ctx, driver, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.pod(w.MakeSparkExecutor(ns, "etl", 1, driver).Req("cpu", "1"), "res-0")
	// A PodGroup whose record names a member that is gone holds nothing:
	// free-0 is full with no violation.
	pg := w.MakePodGroup(ns, "released").MinMember(1).Obj()
	record(&pg.ObjectMeta, "gone-uid", map[string]resources.List{"free-0": {"cpu": 8000, "pods": 8}})
	if _, err := f.c.PodGroups.SchedulingV1alpha1().PodGroups(ns).Create(f.ctx, pg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.pod(w.MakePod(ns, "full").Req("cpu", "8"), "free-0")
	time.Sleep(2 * time.Second)
	if vs := c.Violations(); len(vs) > 0 {
		t.Fatalf("violations before anything took reserved room:\n%s", c.Report())
	}
	// Another pod takes the room still held: 4 bound and 1 held on 4.
	f.pod(w.MakePod(ns, "intruder").Req("cpu", "2"), "res-0")
	f.found(c, [2]string{NodeOvercommitted, "res-0"})
}
