package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// elasticApp is a Spark app in ns whose gang is its driver and one
// executor of 1 CPU each, and whose driver asks for n executors in all, as
// dynamic allocation grows it: the n-1 beyond the first hold no
// reservation.
func elasticApp(ns, name string, n int, priorityClass string) (*v1.Pod, []*v1.Pod) {
	driver := w.MakeSparkDriver(ns, name).Req("cpu", "1").PriorityClass(priorityClass).
		Annotation(podgroup.AnnotationExecutorRequests, "cpu=1").
		Annotation(podgroup.AnnotationMinExecutors, "1").Annotation(podgroup.AnnotationMaxExecutors, fmt.Sprint(n)).Obj()
	var execs []*v1.Pod
	for i := 1; i <= n; i++ {
		execs = append(execs, w.MakeSparkExecutor(ns, name, i, driver).Req("cpu", "1").PriorityClass(priorityClass).Obj())
	}
	return driver, execs
}

// createIn creates the pods in namespace ns.
func (e *env) createIn(ns string, pods ...*v1.Pod) []*v1.Pod {
	e.t.Helper()
	var out []*v1.Pod
	for _, p := range pods {
		p = p.DeepCopy()
		p.Namespace, p.UID = ns, ""
		created, err := e.c.Client.CoreV1().Pods(ns).Create(e.ctx, p, metav1.CreateOptions{})
		if err != nil {
			e.t.Fatalf("creating pod %s/%s: %v", ns, p.Name, err)
		}
		out = append(out, created)
	}
	return out
}

// boundIn lists the pods among names in ns that are bound and not being
// deleted.
func (e *env) boundIn(ns string, names ...string) []string {
	var out []string
	for _, name := range names {
		if p, err := e.c.Client.CoreV1().Pods(ns).Get(e.ctx, name, metav1.GetOptions{}); err == nil && p.Spec.NodeName != "" && p.DeletionTimestamp == nil {
			out = append(out, name)
		}
	}
	return out
}

// waitBoundIn waits until exactly want of names in ns are bound.
func (e *env) waitBoundIn(ns string, timeout time.Duration, want []string, names ...string) {
	e.t.Helper()
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return slices.Equal(e.boundIn(ns, names...), want), nil
	}); err != nil {
		e.t.Fatalf("bound %v, want %v: %s", e.boundIn(ns, names...), want, e.describeIn(ns, names...))
	}
}

// A higher-priority group takes the room of the executors an app grew
// beyond its gang, newest first, before it takes any whole app: the grown
// app keeps its driver and its declared executor, the other app all of it.
func TestExtraExecutorsPreemptedBeforeWholeApps(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.kubelet(e.ns)
	e.nodes("n", 1, "8")
	e.priorityClass("low", 1)
	e.priorityClass("high", 100)
	grown, growth := elasticApp(e.ns, "grown", 5, "low")
	steady, steadyExecs := elasticApp(e.ns, "steady", 1, "low")
	for _, app := range []struct {
		driver *v1.Pod
		execs  []*v1.Pod
	}{{grown, growth}, {steady, steadyExecs}} {
		e.sparkDriver(e.create(app.driver)[0], app.execs...)
		e.waitBound(20*time.Second, names(app.execs...)...)
	}

	e.createPodGroup(w.MakePodGroup("", "urgent").MinMember(1).Obj())
	e.create(w.MakePod("", "urgent-0").Group("urgent").Req("cpu", "3").PriorityClass("high").Obj())
	e.waitBound(30*time.Second, "urgent-0")
	all := append([]string{grown.Name, steady.Name}, names(append(slices.Clone(growth), steadyExecs...)...)...)
	e.waitBoundIn(e.ns, 20*time.Second, []string{grown.Name, steady.Name, "grown-exec-1", "grown-exec-2", "steady-exec-1"}, all...)
	e.waitEvent("Pod", grown.Name, podgroup.ReasonPreempted,
		fmt.Sprintf("3 members beyond the gang (%[1]s/grown-exec-5, %[1]s/grown-exec-4, %[1]s/grown-exec-3) preempted by pod group", e.ns))
}

// A queue that borrowed by growing an app beyond its gang gives its room
// back by shrinking the app when the owner of a guarantee comes back: the
// app loses its newest executors and runs on.
func TestGuaranteeReclaimedByShrinkingTheBorrower(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	owner, borrower := e.namespace("owner"), e.namespace("borrower")
	e.kubelet(owner, borrower)
	e.createQueue("owner", 1, func(q *v1alpha1.Queue) { q.Spec.Guaranteed = v1.ResourceList{"cpu": resource.MustParse("4")} }, owner)
	e.createQueue("borrower", 1, nil, borrower)
	e.nodes("n", 1, "8")
	driver, execs := elasticApp(borrower, "etl", 7, "")
	e.sparkDriver(e.createIn(borrower, driver)[0], execs...)
	all := append([]string{driver.Name}, names(execs...)...)
	e.waitBoundIn(borrower, 30*time.Second, all, all...)

	e.gangs(owner, "o", 1, 2, "2", "") // its guarantee, 4 CPU
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		c, _ := e.boundCPU(owner)
		return c == 4, nil
	}); err != nil {
		t.Fatalf("the owner did not get its guarantee: %s", e.describeIn(owner, "o-0-0", "o-0-1"))
	}
	e.waitBoundIn(borrower, 20*time.Second, all[:4], all...)
	e.waitEventIn(borrower, "Pod", driver.Name, podgroup.ReasonPreempted, "queue borrower holds cpu 8, above its fair share of cpu 4")
}

// Executors beyond an app's gang grow it into idle room, and only up to
// its queue's fair share while another queue waits; when the other queue
// no longer waits, they are placed.
func TestExtraExecutorsWaitAtTheFairShare(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	a, b := e.namespace("a"), e.namespace("b")
	e.createQueue("a", 1, nil, a)
	e.createQueue("b", 1, nil, b)
	e.nodes("n", 1, "8")
	driver, execs := elasticApp(a, "grow", 5, "")
	created := e.createIn(a, driver)[0]
	e.sparkDriver(created, execs[:3]...)
	e.waitBoundIn(a, 20*time.Second, names(execs[:3]...), names(execs[:3]...)...)

	// Queue b's group of 5 CPU does not fit in the 4 left.
	if _, err := e.c.PodGroups.SchedulingV1alpha1().PodGroups(b).Create(e.ctx, w.MakePodGroup(b, "big").MinMember(1).Obj(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.createIn(b, w.MakePod(b, "big-0").Group("big").Req("cpu", "5").Obj())
	time.Sleep(time.Second) // for the scheduler to see it wait

	e.sparkDriver(created, execs[3:]...)
	later := names(execs[3:]...)
	for _, name := range later {
		e.waitConditionIn(a, name, "queue a is at its fair share while queue b waits: holds cpu 4 of its share of 4")
	}
	if got := e.boundIn(a, later...); len(got) > 0 {
		t.Fatalf("%v bound beyond queue a's fair share", got)
	}

	if err := e.c.Client.CoreV1().Pods(b).Delete(e.ctx, "big-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitBoundIn(a, 20*time.Second, later, later...)
}
