package integration

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"

	"github.com/gangsched/gangsched/test/cluster"
)

// env is one test's cluster: its own API server (on the shared etcd), the
// PodGroup CRD, a namespace, and a scheduler.
type env struct {
	t   *testing.T
	ctx context.Context
	c   *cluster.Cluster
	ns  string
	// stop stops the scheduler; config renders its configuration.
	stop   func()
	config schedulerConfig
	// sched is the scheduler newEnv started.
	sched *scheduler.Scheduler
}

// newEnv starts an API server and a scheduler with the given configuration.
func newEnv(t *testing.T, config schedulerConfig) *env {
	t.Helper()
	return newEnvWithOptions(t, config, cluster.Options{})
}

// newEnvWithOptions is newEnv with the API server started with opts; with
// a nil config, no scheduler is started.
func newEnvWithOptions(t *testing.T, config schedulerConfig, opts cluster.Options) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := cluster.StartWithOptions(t, opts)
	if err := c.InstallGangschedCRDs(ctx); err != nil {
		t.Fatal(err)
	}
	ns, err := c.CreateNamespace(ctx, "gang")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, c: c, ns: ns, stop: func() {}, config: config}
	if config != nil {
		e.sched, e.stop = runScheduler(t, c, config)
	}
	return e
}

// nodes creates n nodes with the given CPU and 32Gi of memory each.
func (e *env) nodes(prefix string, n int, cpu string) {
	e.t.Helper()
	if _, err := e.c.CreateNodes(e.ctx, prefix, n, v1.ResourceList{
		v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse("32Gi"),
	}, nil); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) create(pods ...*v1.Pod) []*v1.Pod {
	e.t.Helper()
	out := make([]*v1.Pod, len(pods))
	for i, p := range pods {
		p = p.DeepCopy()
		p.Namespace = e.ns
		p.UID = ""
		created, err := e.c.Client.CoreV1().Pods(e.ns).Create(e.ctx, p, metav1.CreateOptions{})
		if err != nil {
			e.t.Fatalf("creating pod %s: %v", p.Name, err)
		}
		out[i] = created
	}
	return out
}

func (e *env) createPodGroup(pg *schedv1alpha1.PodGroup) *schedv1alpha1.PodGroup {
	e.t.Helper()
	pg = pg.DeepCopy()
	pg.Namespace = e.ns
	created, err := e.c.PodGroups.SchedulingV1alpha1().PodGroups(e.ns).Create(e.ctx, pg, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating PodGroup %s: %v", pg.Name, err)
	}
	return created
}

func (e *env) get(name string) *v1.Pod {
	e.t.Helper()
	p, err := e.c.Client.CoreV1().Pods(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// bound counts the pods among names that have a node.
func (e *env) bound(names ...string) int {
	n := 0
	for _, name := range names {
		if p, err := e.c.Client.CoreV1().Pods(e.ns).Get(e.ctx, name, metav1.GetOptions{}); err == nil && p.Spec.NodeName != "" {
			n++
		}
	}
	return n
}

// waitBound waits until every named pod has a node.
func (e *env) waitBound(timeout time.Duration, names ...string) {
	e.t.Helper()
	if err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return e.bound(names...) == len(names), nil
	}); err != nil {
		e.t.Fatalf("%d/%d pods bound after %s: %s", e.bound(names...), len(names), timeout, e.describe(names...))
	}
}

// stayUnbound checks that none of the named pods gets a node for d.
func (e *env) stayUnbound(d time.Duration, names ...string) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if n := e.bound(names...); n > 0 {
			e.t.Fatalf("%d of %d pods were bound, want none: %s", n, len(names), e.describe(names...))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitCondition waits until pod's PodScheduled condition message contains want.
func (e *env) waitCondition(name, want string) {
	e.t.Helper()
	e.waitConditionIn(e.ns, name, want)
}

// waitConditionIn is waitCondition for a pod in namespace ns.
func (e *env) waitConditionIn(ns, name, want string) {
	e.t.Helper()
	var last string
	if err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := e.c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range p.Status.Conditions {
			if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse {
				last = c.Message
				return strings.Contains(c.Message, want), nil
			}
		}
		return false, nil
	}); err != nil {
		e.t.Fatalf("pod %s/%s: PodScheduled message %q does not contain %q: %s", ns, name, last, want, e.describeIn(ns, name))
	}
}

// waitEvent waits for an Event in the test's namespace on the named object
// with reason whose note contains want.
func (e *env) waitEvent(kind, name, reason, want string) {
	e.t.Helper()
	e.waitEventIn(e.ns, kind, name, reason, want)
}

// waitEventIn is waitEvent in namespace ns ("" for cluster-scoped objects);
// an empty name matches any object of the kind.
func (e *env) waitEventIn(ns, kind, name, reason, want string) {
	e.t.Helper()
	var seen []string
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		list, err := e.c.Client.EventsV1().Events(ns).List(e.ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		seen = seen[:0]
		for _, ev := range list.Items {
			if ev.Regarding.Kind == kind && (name == "" || ev.Regarding.Name == name) {
				seen = append(seen, ev.Reason+": "+ev.Note)
				if ev.Reason == reason && strings.Contains(ev.Note, want) {
					return true, nil
				}
			}
		}
		return false, nil
	}); err != nil {
		e.t.Fatalf("no %s Event on %s %s containing %q; seen: %q", reason, kind, name, want, seen)
	}
}

func (e *env) describe(names ...string) string { return e.describeIn(e.ns, names...) }

// describeIn tells, for people reading a failure, where each pod is and why.
func (e *env) describeIn(ns string, names ...string) string {
	var b strings.Builder
	for _, name := range names {
		p, err := e.c.Client.CoreV1().Pods(ns).Get(e.ctx, name, metav1.GetOptions{})
		if err != nil {
			fmt.Fprintf(&b, "\n  %s: %v", name, err)
			continue
		}
		msg := ""
		for _, c := range p.Status.Conditions {
			if c.Type == v1.PodScheduled {
				msg = c.Message
			}
		}
		fmt.Fprintf(&b, "\n  %s node=%q %s", name, p.Spec.NodeName, msg)
	}
	return b.String()
}

// sparkDriver plays the part of a Spark driver: once its pod is bound, it
// creates its executors in its namespace, as Spark's ExecutorPodsAllocator
// does.
func (e *env) sparkDriver(driver *v1.Pod, executors ...*v1.Pod) {
	ns := cmp.Or(driver.Namespace, e.ns)
	go func() {
		err := wait.PollUntilContextCancel(e.ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			p, err := e.c.Client.CoreV1().Pods(ns).Get(ctx, driver.Name, metav1.GetOptions{})
			return err == nil && p.Spec.NodeName != "", nil
		})
		if err != nil {
			return
		}
		for _, ex := range executors {
			ex = ex.DeepCopy()
			ex.Namespace = ns
			ex.UID = ""
			ex.OwnerReferences[0].UID = driver.UID
			if _, err := e.c.Client.CoreV1().Pods(ns).Create(e.ctx, ex, metav1.CreateOptions{}); err != nil && e.ctx.Err() == nil {
				e.t.Errorf("creating executor %s: %v", ex.Name, err)
			}
		}
	}()
}

// waitPermit waits until exactly the named pods wait in Permit (in the
// scheduler newEnv started).
func (e *env) waitPermit(names ...string) {
	e.t.Helper()
	want := slices.Sorted(slices.Values(names))
	var got []string
	if err := wait.PollUntilContextTimeout(e.ctx, 50*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		got = got[:0]
		for _, fw := range e.sched.Profiles {
			fw.IterateOverWaitingPods(func(wp fwk.WaitingPod) { got = append(got, wp.GetPod().Name) })
		}
		slices.Sort(got)
		return slices.Equal(got, want), nil
	}); err != nil {
		e.t.Fatalf("pods waiting in Permit: %q, want %q", got, want)
	}
}

func names(pods ...*v1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	return out
}
