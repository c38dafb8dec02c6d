package spark

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	queueclientset "github.com/gangsched/gangsched/client/clientset/versioned"
	"github.com/gangsched/gangsched/manifests"
	"github.com/gangsched/gangsched/test/cluster"
)

// schedulerName is the name the Spark pods ask for, whichever scheduler
// answers to it (gangsched's profile, or kube-scheduler's default one for
// comparison).
const schedulerName = "gang-scheduler"

// env is one test's cluster: an API server with the CRDs, a namespace,
// nodes run by a process kubelet, and a scheduler binary.
type env struct {
	t     *testing.T
	ctx   context.Context
	c     *cluster.Cluster
	k     *cluster.ProcessKubelet
	spark sparkDist
	ns    string
	rec   *recorder
}

// pool is a set of nodes alike: <prefix>-0 ... <prefix>-<n-1>.
type pool struct {
	prefix   string
	n        int
	capacity v1.ResourceList
	labels   map[string]string
	taints   []v1.Taint
}

// newEnv starts the cluster with the nodes of pools, run by a process
// kubelet, and the gang-scheduler binary with the shipped configuration
// (stock: kube-scheduler's default profile under the same name).
func newEnv(t *testing.T, stock bool, pools ...pool) *env {
	t.Helper()
	spark := findSpark(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := cluster.StartWithOptions(t, cluster.Options{Restartable: true})
	if err := c.InstallGangschedCRDs(ctx); err != nil {
		t.Fatal(err)
	}
	ns, err := c.CreateNamespace(ctx, "spark")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pools {
		nodes, err := c.CreateNodes(ctx, p.prefix, p.n, p.capacity, p.labels)
		if err != nil {
			t.Fatal(err)
		}
		for _, node := range nodes {
			if len(p.taints) > 0 {
				node.Spec.Taints = p.taints
				if _, err := c.Client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			names = append(names, node.Name)
		}
	}
	k, err := c.StartProcessKubelet(ctx, cluster.ProcessKubeletOptions{Nodes: names, SparkHome: spark.home, PythonPath: spark.pythonPath})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, c: c, k: k, spark: spark, ns: ns}
	e.rec = e.record()
	config, err := manifests.SchedulerConfig(manifests.RenderOptions{Kubeconfig: c.KubeconfigPath, Stock: stock})
	if err != nil {
		t.Fatal(err)
	}
	name := "gangsched"
	if stock {
		name = "default"
	}
	cluster.StartScheduler(t, binary, c.KubeconfigPath, name, config)
	t.Cleanup(func() {
		if t.Failed() {
			e.dumpLogs()
		}
	})
	return e
}

// sparkPi is the app every test submits: Spark's own pi.py, where Spark's
// image has it, in 10 partitions.
func (e *env) sparkPi() []string {
	return []string{"local:///opt/spark/examples/src/main/python/pi.py", "10"}
}

// submit runs spark-submit in cluster mode for the app name, with conf (the
// settings a user writes) followed by app, and returns once the driver pod
// is created. The harness adds only what reaches this cluster and keeps
// the JVMs small.
func (e *env) submit(name string, conf []string, app ...string) error {
	args := append([]string{
		"--deploy-mode", "cluster",
		"--conf", "spark.kubernetes.submission.waitAppCompletion=false",
	}, conf...)
	_, err := e.sparkSubmit(e.ctx, name, args, app...)
	return err
}

// sparkSubmit runs spark-submit against the cluster for the app name with
// args and app, and returns its output once it exits.
func (e *env) sparkSubmit(ctx context.Context, name string, args []string, app ...string) (string, error) {
	return e.k.SparkSubmit(ctx, e.ns, name, e.t.TempDir(), args, app...)
}

// submitAll submits the apps at once, as independent users would.
func (e *env) submitAll(names []string, conf []string) {
	e.t.Helper()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.submit(name, conf, e.sparkPi()...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// createQueue creates the gangsched Queue name, of weight 1 and at most
// max (nil: no limit).
func (e *env) createQueue(name string, max v1.ResourceList) {
	e.t.Helper()
	qc, err := queueclientset.NewForConfig(cluster.JSONConfig(e.c.Config))
	if err != nil {
		e.t.Fatal(err)
	}
	q := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.QueueSpec{Weight: ptr.To[int32](1), Max: max}}
	if _, err := qc.SchedulingV1alpha1().Queues().Create(e.ctx, q, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// drivers lists the driver pods of the app.
func (e *env) drivers(app string) []v1.Pod {
	return e.list("spark-app-name=" + app + ",spark-role=driver")
}

// executors lists the executor pods of the app whose driver is driver
// (by spark-app-selector: see boundPod).
func (e *env) executors(driver *v1.Pod) []v1.Pod {
	return e.list("spark-app-selector=" + driver.Labels["spark-app-selector"] + ",spark-role=executor")
}

func (e *env) list(selector string) []v1.Pod {
	e.t.Helper()
	list, err := e.c.Client.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

// waitDriver waits until the app's driver pod reaches phase, and returns it.
func (e *env) waitDriver(app string, phase v1.PodPhase, timeout time.Duration) *v1.Pod {
	e.t.Helper()
	var driver *v1.Pod
	err := wait.PollUntilContextTimeout(e.ctx, time.Second, timeout, true, func(context.Context) (bool, error) {
		drivers := e.drivers(app)
		if len(drivers) == 0 {
			return false, nil
		}
		driver = &drivers[0]
		if driver.Status.Phase == v1.PodFailed && phase != v1.PodFailed {
			return false, fmt.Errorf("driver %s failed", driver.Name)
		}
		return driver.Status.Phase == phase, nil
	})
	if err != nil {
		e.t.Fatalf("driver of %s not %s: %v (%s)", app, phase, err, describe(driver))
	}
	return driver
}

func describe(p *v1.Pod) string {
	if p == nil {
		return "no driver pod"
	}
	return fmt.Sprintf("pod %s: node %q, phase %s", p.Name, p.Spec.NodeName, p.Status.Phase)
}

// events returns the Events of the namespace with reason, oldest first.
func (e *env) events(reason string) []v1.Event {
	e.t.Helper()
	list, err := e.c.Client.CoreV1().Events(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: "reason=" + reason})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

// dumpLogs logs the tail of every process's output, for a failed test.
func (e *env) dumpLogs() {
	pods, err := e.c.Client.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		e.t.Logf("pod %s: node %q phase %s", p.Name, p.Spec.NodeName, p.Status.Phase)
		if out, err := e.k.Log(p.Namespace, p.Name); err == nil {
			e.t.Logf("log of %s (tail):\n%s", p.Name, cluster.Tail(out, 30))
		}
	}
}

// recorder follows the namespace's pods from the start of the test: when
// each was first seen bound and where, and the largest number of them
// bound at once per app.
type recorder struct {
	mu    sync.Mutex
	bound map[string]boundPod // by pod name
}

type boundPod struct {
	// app is the pod's spark-app-selector: spark-app-name is not the
	// same on driver and executors when the app sets its own name (pi.py
	// calls itself PythonPi).
	app, role, node string
	at              time.Time
}

func (e *env) record() *recorder {
	r := &recorder{bound: map[string]boundPod{}}
	w, err := e.c.Client.CoreV1().Pods(e.ns).Watch(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(w.Stop)
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*v1.Pod)
			if !ok || ev.Type == watch.Deleted || p.Spec.NodeName == "" {
				continue
			}
			r.mu.Lock()
			if _, seen := r.bound[p.Name]; !seen {
				r.bound[p.Name] = boundPod{app: p.Labels["spark-app-selector"], role: p.Labels["spark-role"], node: p.Spec.NodeName, at: time.Now()}
			}
			r.mu.Unlock()
		}
	}()
	return r
}

// boundOf returns the pods seen bound of the app whose driver is driver,
// by role.
func (r *recorder) boundOf(driver *v1.Pod) map[string][]boundPod {
	return r.boundApp(driver.Labels["spark-app-selector"])
}

// boundApp returns the pods seen bound of the app whose
// spark-app-selector is app, by role.
func (r *recorder) boundApp(app string) map[string][]boundPod {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]boundPod{}
	for _, b := range r.bound {
		if b.app == app {
			out[b.role] = append(out[b.role], b)
		}
	}
	return out
}

// contains reports whether s contains every one of subs.
func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
