package integration

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/test/cluster"
	w "github.com/gangsched/gangsched/test/wrappers"
)

func readExample(t *testing.T, name string, into interface{}) {
	t.Helper()
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "examples", "spark", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// sparkPod builds a pod as Spark does from a pod template: the template's
// metadata and node constraints, Spark's labels, the scheduler of
// spark.kubernetes.scheduler.name, the container's requests.
func sparkPod(template *v1.Pod, shaped *v1.Pod, cpu, memory string) *v1.Pod {
	p := shaped.DeepCopy()
	for k, v := range template.Labels {
		p.Labels[k] = v
	}
	for k, v := range template.Annotations {
		p.Annotations[k] = v
	}
	p.Spec.SchedulerName = "gang-scheduler"
	p.Spec.NodeSelector = template.Spec.NodeSelector
	p.Spec.Tolerations = template.Spec.Tolerations
	p.Spec.Affinity = template.Spec.Affinity
	p.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse(memory)}
	return p
}

// Pods shaped exactly as Spark creates them from examples/spark's pod
// templates (labels spark-app-selector, spark-role, spark-exec-id, executors
// owned by the driver) are grouped and admitted all-or-nothing: the driver
// waits until it and its 2 executors fit, the executors on the tainted
// batch pool their template sends them to, then the executors bind in the
// room held for them there. (test/spark runs the same files with real
// Spark.)
func TestSparkExamplePodTemplates(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.createQueue("analytics", 1, nil)
	var driverTpl, execTpl v1.Pod
	readExample(t, "driver-pod-template.yaml", &driverTpl)
	readExample(t, "executor-pod-template.yaml", &execTpl)
	batch := func(name string) *w.NodeWrapper {
		return w.MakeNode(name, "cpu", "1", "memory", "32Gi").Label("pool", "batch").Taint("dedicated", "batch", v1.TaintEffectNoSchedule)
	}
	e.nodes("general", 1, "4")
	e.node(batch("batch-0")) // 1 CPU for executors: they need 2

	driver := sparkPod(&driverTpl, w.MakeSparkDriver("", "pi").Obj(), "1", "896Mi")
	created := e.create(driver)[0]
	var execs []*v1.Pod
	for i := 1; i <= 2; i++ {
		execs = append(execs, sparkPod(&execTpl, w.MakeSparkExecutor("", "pi", i, created).Obj(), "1", "896Mi"))
	}
	e.sparkDriver(created, execs...)
	e.waitCondition(driver.Name, "1 of 3 pods fit on no node at once")
	e.stayUnbound(time.Second, driver.Name)
	e.node(batch("batch-1"))
	e.waitBound(30*time.Second, driver.Name)
	e.waitBound(30*time.Second, names(execs...)...)
	for _, x := range execs {
		if n := e.podNode(x.Name); n != "batch-0" && n != "batch-1" {
			t.Errorf("executor %s on node %q, want the batch pool", x.Name, n)
		}
	}
	e.waitQueueStatus("analytics", func(s v1alpha1.QueueStatus) bool { return s.AdmittedGroups == 1 })
}

// The PodGroup alternative of examples/spark (what Spark Operator creates)
// admits the same way; the SparkApplication names gang-scheduler.
func TestSparkExamplePodGroup(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.createQueue("analytics", 1, nil)
	var pg schedv1alpha1.PodGroup
	readExample(t, "podgroup.yaml", &pg)
	pg.Namespace = e.ns
	e.createPodGroup(&pg)
	e.nodes("n", 3, "4")
	driver := w.MakeSparkDriver("", "pi").Group(pg.Name).Req("cpu", "1", "memory", "896Mi").Obj()
	created := e.create(driver)[0]
	var execs []*v1.Pod
	for i := 1; i <= 2; i++ {
		execs = append(execs, w.MakeSparkExecutor("", "pi", i, created).Group(pg.Name).Req("cpu", "1", "memory", "896Mi").Obj())
	}
	e.sparkDriver(created, execs...)
	e.waitBound(30*time.Second, driver.Name)
	e.waitBound(30*time.Second, names(execs...)...)

	var app unstructured.Unstructured
	readExample(t, "sparkapplication.yaml", &app.Object)
	if got, _, _ := unstructured.NestedString(app.Object, "spec", "batchScheduler"); got != "gang-scheduler" {
		t.Errorf("SparkApplication batchScheduler = %q", got)
	}
}
