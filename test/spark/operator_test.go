package spark

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/gangsched/gangsched/test/cluster"
)

// Environment that points the Spark Operator test at what it runs.
const (
	// operatorEnv names Spark Operator's binary; without it, the test
	// looks for bin/spark-operator (make spark-operator builds it).
	operatorEnv = "SPARK_OPERATOR_BIN"
	// operatorCRDsEnv names the folder of its CRDs; without it,
	// bin/spark-operator-crds.
	operatorCRDsEnv = "SPARK_OPERATOR_CRDS"
)

var sparkApplications = schema.GroupVersionResource{Group: "sparkoperator.k8s.io", Version: "v1beta2", Resource: "sparkapplications"}

// startOperator runs Spark Operator's webhook and controller for the
// test's namespace, with gang-scheduler as a batch scheduler, or skips t
// (fails it, with requireEnv set) when it is not built.
func (e *env) startOperator() *cluster.SparkOperator {
	e.t.Helper()
	root, err := cluster.RepoRoot()
	if err != nil {
		e.t.Fatal(err)
	}
	bin, crds := os.Getenv(operatorEnv), os.Getenv(operatorCRDsEnv)
	if bin == "" {
		bin = filepath.Join(root, "bin", "spark-operator")
	}
	if crds == "" {
		crds = filepath.Join(root, "bin", "spark-operator-crds")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv(requireEnv) != "" {
			e.t.Fatalf("no Spark Operator at %s; make spark-operator builds it", bin)
		}
		e.t.Skipf("no Spark Operator at %s: make spark-operator builds it (or set %s)", bin, operatorEnv)
	}
	op, err := e.c.StartSparkOperator(e.ctx, e.k, cluster.SparkOperatorOptions{
		Binary: bin, CRDDir: crds, Namespace: e.ns, KubeSchedulerNames: []string{schedulerName},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("spark operator controller log (tail):\n%s", op.Log("controller"))
			e.t.Logf("spark operator webhook log (tail):\n%s", op.Log("webhook"))
		}
	})
	return op
}

// applyApp creates the SparkApplication of examples/spark/name in the
// test's namespace, as kubectl apply -n would, and returns its name.
func (e *env) applyApp(name string) string {
	e.t.Helper()
	root, err := cluster.RepoRoot()
	if err != nil {
		e.t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "examples", "spark", name))
	if err != nil {
		e.t.Fatal(err)
	}
	var app unstructured.Unstructured
	if err := yaml.Unmarshal(data, &app.Object); err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	app.SetNamespace(e.ns)
	client, err := dynamic.NewForConfig(e.c.Config)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := client.Resource(sparkApplications).Namespace(e.ns).Create(e.ctx, &app, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("creating the SparkApplication of %s: %v", name, err)
	}
	return app.GetName()
}

// waitApp waits until the SparkApplication reaches state (COMPLETED), and
// fails on a state it cannot leave.
func (e *env) waitApp(name, state string, timeout time.Duration) {
	e.t.Helper()
	client, err := dynamic.NewForConfig(e.c.Config)
	if err != nil {
		e.t.Fatal(err)
	}
	var last string
	err = wait.PollUntilContextTimeout(e.ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		app, err := client.Resource(sparkApplications).Namespace(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got, _, _ := unstructured.NestedString(app.Object, "status", "applicationState", "state")
		msg, _, _ := unstructured.NestedString(app.Object, "status", "applicationState", "errorMessage")
		last = got + " " + msg
		if got != state && (got == "FAILED" || got == "SUBMISSION_FAILED") {
			return false, fmt.Errorf("state %s: %s", got, msg)
		}
		return got == state, nil
	})
	if err != nil {
		e.t.Fatalf("SparkApplication %s not %s: %v (last: %s)", name, state, err, last)
	}
}

// Spark Operator runs examples/spark/sparkapplication.yaml through
// gangsched: its kube-scheduler backend creates the PodGroup spark-pi-pg
// (minMember 1, minResources of the whole app) and its webhook points the
// pods at gang-scheduler; the driver is admitted with room for both
// executors before they exist, they bind into it, and the app completes.
func TestSparkOperatorApplication(t *testing.T) {
	e := newEnv(t, false, pool{prefix: "node", n: 2, capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("8Gi")}})
	e.startOperator()
	start := time.Now()
	app := e.applyApp("sparkapplication.yaml")
	e.waitApp(app, "COMPLETED", 5*time.Minute)
	t.Logf("SparkApplication %s completed in %s", app, time.Since(start).Round(time.Second))

	driver := e.drivers(app)
	if len(driver) != 1 {
		t.Fatalf("%d driver pods of %s", len(driver), app)
	}
	d := &driver[0]
	if d.Spec.SchedulerName != schedulerName || d.Labels["scheduling.x-k8s.io/pod-group"] != app+"-pg" {
		t.Errorf("driver: schedulerName %q, pod group %q; want %s and %s-pg (set by the operator)", d.Spec.SchedulerName, d.Labels["scheduling.x-k8s.io/pod-group"], schedulerName, app)
	}
	if out, err := e.k.Log(e.ns, d.Name); err != nil || !strings.Contains(out, "Pi is roughly 3.1") {
		t.Errorf("driver printed no result (%v):\n%s", err, cluster.Tail(out, 20))
	}
	bound := e.rec.boundOf(d)
	if len(bound["driver"]) != 1 || len(bound["executor"]) != 2 {
		t.Errorf("bound: %d drivers and %d executors, want 1 and 2", len(bound["driver"]), len(bound["executor"]))
	}
	admitted := e.events("GangAdmitted")
	if len(admitted) != 1 || !contains(admitted[0].Message, app+"-pg", "3 pods planned", "(2 not created yet)") {
		t.Errorf("want one GangAdmitted Event for %s-pg planning the driver and 2 executors to come, got %+v", app, admitted)
	} else {
		t.Logf("GangAdmitted on %s %s: %s", admitted[0].InvolvedObject.Kind, admitted[0].InvolvedObject.Name, admitted[0].Message)
	}
	for _, reason := range []string{"GangReleased", "ReservationLost", "ReservationExpired", "MemberLargerThanDeclared"} {
		if ev := e.events(reason); len(ev) > 0 {
			t.Errorf("%s Events: %v", reason, ev[0].Message)
		}
	}
}
