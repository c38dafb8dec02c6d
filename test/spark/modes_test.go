package spark

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// dynamicConf is README's dynamic allocation: the gang is the driver and
// minExecutors, passed on to the driver as annotations of Spark's own
// names; Spark asks for more executors, up to maxExecutors, while tasks
// wait.
var dynamicConf = []string{
	"--conf", "spark.kubernetes.scheduler.name=gang-scheduler",
	"--conf", "spark.dynamicAllocation.enabled=true",
	"--conf", "spark.dynamicAllocation.shuffleTracking.enabled=true",
	"--conf", "spark.dynamicAllocation.minExecutors=1",
	"--conf", "spark.dynamicAllocation.maxExecutors=3",
	"--conf", "spark.kubernetes.driver.annotation.spark.dynamicAllocation.minExecutors=1",
	"--conf", "spark.kubernetes.driver.annotation.spark.dynamicAllocation.maxExecutors=3",
	"--conf", "spark.kubernetes.driver.annotation.gangsched.io/executor-requests=cpu=1,memory=896Mi",
	"--conf", "spark.kubernetes.driver.label.gangsched.io/queue=capped",
}

// Spark's dynamic allocation with shuffle tracking: the driver is admitted
// with room for minExecutors (1) only; the executors Spark asks for beyond
// it are placed as room and the queue allow, with no room held for them:
// the queue's max (3 CPU: driver, the gang's executor and one more) lets
// one more in, and the third waits, saying why, while the cluster has room.
func TestSparkDynamicAllocation(t *testing.T) {
	e := newEnv(t, false, pool{prefix: "node", n: 2, capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("16Gi")}})
	e.createQueue("capped", v1.ResourceList{v1.ResourceCPU: resource.MustParse("3")})
	app, err := filepath.Abs(filepath.Join("testdata", "slow_tasks.py"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.submit("slow", dynamicConf, "local://"+app, "16"); err != nil {
		t.Fatal(err)
	}
	var driver *v1.Pod
	var waited string
	maxBound := 0
	err = wait.PollUntilContextTimeout(e.ctx, 500*time.Millisecond, 5*time.Minute, true, func(context.Context) (bool, error) {
		drivers := e.drivers("slow")
		if len(drivers) == 0 {
			return false, nil
		}
		driver = &drivers[0]
		bound := 0
		for _, x := range e.executors(driver) {
			if x.Spec.NodeName != "" && x.DeletionTimestamp == nil && x.Status.Phase != v1.PodSucceeded && x.Status.Phase != v1.PodFailed {
				bound++
			}
			for _, c := range x.Status.Conditions {
				if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse && strings.Contains(c.Message, "beyond the room reserved") {
					waited = c.Message
				}
			}
		}
		maxBound = max(maxBound, bound)
		return driver.Status.Phase == v1.PodSucceeded || driver.Status.Phase == v1.PodFailed, nil
	})
	if err != nil || driver.Status.Phase != v1.PodSucceeded {
		t.Fatalf("driver did not succeed: %v (%s)", err, describe(driver))
	}
	if out, err := e.k.Log(e.ns, driver.Name); err != nil || !strings.Contains(out, "Sum is 120") {
		t.Errorf("driver printed no result (%v)", err)
	}
	bound := e.rec.boundOf(driver)
	t.Logf("executors bound: %d, at most %d at once; the one held back: %q", len(bound["executor"]), maxBound, waited)
	// The one held back may bind once the app ends and its executors
	// give their room back.
	if len(bound["executor"]) < 2 || maxBound != 2 {
		t.Errorf("%d executors bound, at most %d at once; want 2 at once (the gang's and one more within the queue's max)", len(bound["executor"]), maxBound)
	}
	if !strings.Contains(waited, "max") {
		t.Errorf("no executor waited for the queue's max (last message %q)", waited)
	}
	admitted := e.events("GangAdmitted")
	if len(admitted) != 1 || !contains(admitted[0].Message, "2 pods planned", "(1 not created yet)") {
		t.Errorf("want one GangAdmitted Event planning the driver and minExecutors, got %+v", admitted)
	}
	for _, reason := range []string{"GangReleased", "ReservationLost", "ReservationExpired"} {
		if ev := e.events(reason); len(ev) > 0 {
			t.Errorf("%s Events: %v", reason, ev[0].Message)
		}
	}
}

// clientConf is README's client mode: the driver runs where spark-submit
// runs, outside the cluster, and the executors declare the gang.
var clientConf = []string{
	"--deploy-mode", "client",
	"--conf", "spark.kubernetes.scheduler.name=gang-scheduler",
	"--conf", "spark.executor.instances=2",
	"--conf", "spark.kubernetes.executor.annotation.gangsched.io/executors=2",
	"--conf", "spark.kubernetes.executor.annotation.gangsched.io/executor-requests=cpu=1,memory=896Mi",
}

// A client-mode app (the driver is spark-submit on this machine) is a gang
// of its executors: while another scheduler's pod holds one of the two
// nodes, neither executor binds; once it is gone both do, in one decision,
// and the app prints its result.
func TestSparkClientMode(t *testing.T) {
	e := newEnv(t, false, pool{prefix: "node", n: 2, capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("1"), v1.ResourceMemory: resource.MustParse("8Gi")}})
	filler := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "filler", Namespace: e.ns},
		Spec: v1.PodSpec{NodeName: "node-1", Containers: []v1.Container{{Name: "c", Image: "pause",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("1")}}}}},
	}
	if _, err := e.c.Client.CoreV1().Pods(e.ns).Create(e.ctx, filler, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		// spark.driver.host is the harness's: the address of the client
		// machine that executors reach.
		out, err := e.sparkSubmit(e.ctx, "shell", append([]string{"--conf", "spark.driver.host=127.0.0.1"}, clientConf...),
			filepath.Join(e.spark.home, "examples", "pi.py"), "10")
		done <- result{out, err}
	}()

	var execs []v1.Pod
	err := wait.PollUntilContextTimeout(e.ctx, 500*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		select {
		case r := <-done:
			return false, fmt.Errorf("spark-submit ended first: %w", r.err)
		default:
		}
		execs = e.list("spark-role=executor")
		return len(execs) == 2, nil
	})
	if err != nil {
		t.Fatalf("%d executor pods created, want 2: %v", len(execs), err)
	}
	app := execs[0].Labels["spark-app-selector"]
	time.Sleep(5 * time.Second)
	if b := e.rec.boundApp(app); len(b["executor"]) > 0 {
		t.Fatalf("executors bound while only one fits: %+v", b["executor"])
	}
	for _, x := range e.list("spark-role=executor") {
		if msg := scheduledMessage(&x); !strings.Contains(msg, "cpu 2") {
			t.Errorf("executor %s waits with %q, want the gang's need of cpu 2", x.Name, msg)
		}
	}
	if err := e.c.Client.CoreV1().Pods(e.ns).Delete(e.ctx, filler.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Minute):
		t.Fatal("spark-submit did not finish")
	}
	if r.err != nil || !strings.Contains(r.out, "Pi is roughly 3.1") {
		t.Fatalf("client-mode SparkPi printed no result: %v\n%s", r.err, r.out)
	}
	if b := e.rec.boundApp(app); len(b["executor"]) != 2 {
		t.Errorf("executors bound: %+v, want 2", b["executor"])
	}
	admitted := e.events("GangAdmitted")
	if len(admitted) != 1 || !contains(admitted[0].Message, "2 pods planned") {
		t.Errorf("want one GangAdmitted Event planning both executors, got %+v", admitted)
	}
}

// scheduledMessage is the message of the pod's PodScheduled condition.
func scheduledMessage(p *v1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodScheduled {
			return c.Message
		}
	}
	return ""
}
