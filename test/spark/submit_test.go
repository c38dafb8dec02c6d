package spark

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gangsched/gangsched/test/cluster"
)

// gangConf is what a user adds to spark-submit for gangsched (README's
// "Spark" section): the scheduler name and the driver's declaration of its
// executors (memory: 512m heap + Spark's 384Mi minimum overhead).
var gangConf = []string{
	"--conf", "spark.kubernetes.scheduler.name=gang-scheduler",
	"--conf", "spark.executor.instances=2",
	"--conf", "spark.kubernetes.driver.annotation.gangsched.io/executors=2",
	"--conf", "spark.kubernetes.driver.annotation.gangsched.io/executor-requests=cpu=1,memory=896Mi",
}

// SparkPi submitted with spark-submit in cluster mode runs through
// gangsched: its driver is admitted with room for both executors, which do
// not exist yet, in one decision; the executors bind into that room and
// the app prints its result.
func TestSparkPiClusterMode(t *testing.T) {
	e := newEnv(t, false, pool{prefix: "node", n: 2, capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("8Gi")}})
	start := time.Now()
	if err := e.submit("spark-pi", gangConf, e.sparkPi()...); err != nil {
		t.Fatal(err)
	}
	driver := e.waitDriver("spark-pi", v1.PodSucceeded, 5*time.Minute)
	t.Logf("SparkPi finished in %s", time.Since(start).Round(time.Second))
	out, err := e.k.Log(e.ns, driver.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Pi is roughly 3.1") {
		t.Errorf("driver log has no result:\n%s", out)
	}

	bound := e.rec.boundOf(driver)
	if len(bound["driver"]) != 1 || len(bound["executor"]) != 2 {
		t.Errorf("bound: %d drivers and %d executors, want 1 and 2", len(bound["driver"]), len(bound["executor"]))
	}
	admitted := e.events("GangAdmitted")
	if len(admitted) != 1 || admitted[0].InvolvedObject.Name != driver.Name ||
		!contains(admitted[0].Message, "3 pods planned", "(2 not created yet)") {
		t.Errorf("want one GangAdmitted Event on %s planning the driver and 2 executors to come, got %+v", driver.Name, admitted)
	}
	for _, reason := range []string{"GangReleased", "ReservationLost", "ReservationExpired", "MemberLargerThanDeclared"} {
		if ev := e.events(reason); len(ev) > 0 {
			t.Errorf("%s Events: %v", reason, ev[0].Message)
		}
	}
}

// poolConf is README's "Executors that go elsewhere than their driver",
// with the pod template file it names.
var poolConf = []string{
	"--conf", "spark.kubernetes.executor.node.selector.pool=spot",
	"--conf", "spark.kubernetes.executor.podTemplateFile=executor-pod-template.yaml",
	"--conf", `spark.kubernetes.driver.annotation.gangsched.io/executor-template={"spec":{"nodeSelector":{"pool":"spot"},"tolerations":[{"key":"pool","operator":"Equal","value":"spot","effect":"NoSchedule"}]}}`,
}

// Executors bound for a tainted pool of their own, as README's "Executors
// that go elsewhere than their driver" declares them: Spark puts the node
// selector and (from the pod template) the toleration on the executors,
// and the driver's executor-template annotation tells gangsched, which
// reserves their room in that pool. The general node has room for the
// driver only, so a plan that ignored the pool would find none.
func TestExecutorsInTheirOwnPool(t *testing.T) {
	spotTaint := v1.Taint{Key: "pool", Value: "spot", Effect: v1.TaintEffectNoSchedule}
	e := newEnv(t, false,
		pool{prefix: "general", n: 1, capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("1"), v1.ResourceMemory: resource.MustParse("8Gi")},
			labels: map[string]string{"pool": "general"}},
		pool{prefix: "spot", n: 2, capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("1"), v1.ResourceMemory: resource.MustParse("8Gi")},
			labels: map[string]string{"pool": "spot"}, taints: []v1.Taint{spotTaint}})
	template := filepath.Join(t.TempDir(), "executor-pod-template.yaml")
	if err := os.WriteFile(template, []byte(`apiVersion: v1
kind: Pod
spec:
  tolerations:
  - key: pool
    operator: Equal
    value: spot
    effect: NoSchedule
`), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := slices.Clone(gangConf)
	for _, c := range poolConf {
		conf = append(conf, strings.Replace(c, "executor-pod-template.yaml", template, 1))
	}
	if err := e.submit("spark-pi-spot", conf, e.sparkPi()...); err != nil {
		t.Fatal(err)
	}
	e.checkPools(e.waitDriver("spark-pi-spot", v1.PodSucceeded, 5*time.Minute), "spot")
}

// checkPools checks that the driver printed its result from general-0,
// and its 2 executors, reserved in one GangAdmitted on general-0 and both
// nodes of the pool, were bound there.
func (e *env) checkPools(driver *v1.Pod, pool string) {
	e.t.Helper()
	if out, err := e.k.Log(e.ns, driver.Name); err != nil || !strings.Contains(out, "Pi is roughly 3.1") {
		e.t.Errorf("driver printed no result (%v)", err)
	}
	bound := e.rec.boundOf(driver)
	if len(bound["driver"]) != 1 || bound["driver"][0].node != "general-0" {
		e.t.Errorf("driver bound: %+v, want on general-0", bound["driver"])
	}
	if len(bound["executor"]) != 2 {
		e.t.Errorf("executors bound: %+v, want 2", bound["executor"])
	}
	for _, x := range bound["executor"] {
		if !strings.HasPrefix(x.node, pool+"-") {
			e.t.Errorf("executor bound to %s, want the %s pool", x.node, pool)
		}
	}
	admitted := e.events("GangAdmitted")
	if len(admitted) != 1 || !contains(admitted[0].Message, "(2 not created yet)", "general-0", pool+"-0", pool+"-1") {
		e.t.Errorf("want one GangAdmitted Event reserving room on general-0 and both %s nodes, got %+v", pool, admitted)
	}
}

// examples/spark/spark-submit.sh, run as a user runs it (K8S_API and the
// namespace set, spark-submit on the PATH), with its pod templates: the
// driver declares its 2 executors and their pool, goes to the general node,
// the executors' room is reserved on the tainted batch pool, and the
// script returns once SparkPi has printed its result.
func TestSparkSubmitExample(t *testing.T) {
	batch := v1.Taint{Key: "dedicated", Value: "batch", Effect: v1.TaintEffectNoSchedule}
	e := newEnv(t, false,
		pool{prefix: "general", n: 1, capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("2"), v1.ResourceMemory: resource.MustParse("8Gi")},
			labels: map[string]string{"pool": "general"}},
		pool{prefix: "batch", n: 2, capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("1"), v1.ResourceMemory: resource.MustParse("8Gi")},
			labels: map[string]string{"pool": "batch"}, taints: []v1.Taint{batch}})
	e.createQueue("analytics", nil)
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(e.ctx, "bash", filepath.Join(root, "examples", "spark", "spark-submit.sh"))
	cmd.Env = append(e.k.SubmitEnv(), "HOME="+t.TempDir(), "K8S_API="+e.k.Master(), "SPARK_NAMESPACE="+e.ns)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("spark-submit.sh: %v\n%s", err, cluster.Tail(string(out), 40))
	}
	e.checkPools(e.waitDriver("spark-pi", v1.PodSucceeded, time.Minute), "batch")
}
