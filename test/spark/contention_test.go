package spark

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The contention input: four SparkPi apps on two nodes of 4 cores. Each
// app is a driver of 2 cores and two executors of 1 core, so the cluster
// holds two apps at once, one per node; but it holds all four drivers,
// and with them bound no executor fits anywhere.
var (
	contentionApps  = []string{"pi-a", "pi-b", "pi-c", "pi-d"}
	contentionNodes = pool{prefix: "node", n: 2, capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("16Gi")}}
	contentionConf  = append([]string{"--conf", "spark.kubernetes.driver.request.cores=2"}, gangConf...)
)

// With gangsched, every app finishes: each is admitted once, whole, and
// none is released; the apps that do not fit wait with nothing bound.
func TestSparkContentionAllAppsFinish(t *testing.T) {
	e := newEnv(t, false, contentionNodes)
	start := time.Now()
	e.submitAll(contentionApps, contentionConf)
	var drivers []*v1.Pod
	for _, app := range contentionApps {
		drivers = append(drivers, e.waitDriver(app, v1.PodSucceeded, 6*time.Minute))
	}
	t.Logf("%d SparkPi apps finished in %s", len(drivers), time.Since(start).Round(time.Second))
	admitted := map[string]int{}
	for _, ev := range e.events("GangAdmitted") {
		admitted[ev.InvolvedObject.Name]++
	}
	for _, d := range drivers {
		out, err := e.k.Log(e.ns, d.Name)
		if err != nil || !contains(out, "Pi is roughly 3.1") {
			t.Errorf("driver %s printed no result (%v)", d.Name, err)
		}
		if admitted[d.Name] != 1 {
			t.Errorf("driver %s admitted %d times, want once", d.Name, admitted[d.Name])
		}
		if b := e.rec.boundOf(d); len(b["executor"]) != 2 {
			t.Errorf("app of %s had %d executors bound, want 2", d.Name, len(b["executor"]))
		}
	}
	for _, reason := range []string{"GangReleased", "ReservationLost", "ReservationExpired"} {
		if ev := e.events(reason); len(ev) > 0 {
			t.Errorf("%s Events: %v", reason, ev[0].Message)
		}
	}
}

// With kube-scheduler's default profile, the same input deadlocks: all
// four drivers bind and run, and none of their executors ever fits.
func TestSparkContentionDeadlocksWithDefaultScheduler(t *testing.T) {
	e := newEnv(t, true, contentionNodes)
	e.submitAll(contentionApps, contentionConf)
	var drivers []*v1.Pod
	for _, app := range contentionApps {
		drivers = append(drivers, e.waitDriver(app, v1.PodRunning, 4*time.Minute))
	}
	// Every driver runs and asks for its executors; for a minute none is
	// bound and no app finishes.
	const hold = time.Minute
	err := wait.PollUntilContextTimeout(e.ctx, 2*time.Second, hold, true, func(context.Context) (bool, error) {
		for i, app := range contentionApps {
			for _, x := range e.executors(drivers[i]) {
				if x.Spec.NodeName != "" {
					return false, fmt.Errorf("executor %s bound to %s", x.Name, x.Spec.NodeName)
				}
			}
			if d := e.drivers(app); len(d) != 1 || d[0].Status.Phase != v1.PodRunning {
				return false, fmt.Errorf("driver of %s no longer running", app)
			}
		}
		return false, nil
	})
	if !wait.Interrupted(err) {
		t.Fatalf("no deadlock: %v", err)
	}
	pending := 0
	for _, d := range drivers {
		pending += len(e.executors(d))
	}
	t.Logf("deadlocked: 4 drivers running, %d executors pending for %s", pending, hold)
	if pending == 0 {
		t.Error("no executor was created: the drivers did not ask for any")
	}
}
