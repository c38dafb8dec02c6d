// Package sim simulates Spark-like apps contending for a real API server's
// nodes: it plays the kubelet (bound pods run, and complete when their work is
// done) and the Spark driver (a running driver creates its executors in
// batches, as Spark's ExecutorPodsAllocator does), and measures what a
// scheduler makes of it: apps completed, makespan, apps stuck partially
// placed and the resources they hold.
package sim

import (
	"fmt"
	"math/rand"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// App is one Spark application of a workload.
type App struct {
	// Name is the app's name (and Spark app id suffix).
	Name string
	// Arrival is when the driver is submitted, from the start of the run.
	Arrival time.Duration
	// Driver and Executor are what each pod requests.
	Driver, Executor v1.ResourceList
	// Executors is how many executors the driver creates; the app makes
	// progress only once all of them run (spark.scheduler.minRegisteredResourcesRatio=1).
	Executors int
	// Work is how long the executors run once all of them are up.
	Work time.Duration
	// PodGroup declares the gang as Spark Operator does (a PodGroup with
	// minMember 1 and minResources for the driver and all executors);
	// otherwise by the driver's gangsched.io annotations.
	PodGroup bool
}

// Workload is a set of apps and the nodes they contend for.
type Workload struct {
	Nodes               int
	NodeCPU, NodeMemory string
	Apps                []App
}

// Spec draws a workload.
type Spec struct {
	Seed                       int64
	Nodes                      int
	NodeCPU, NodeMemory        string
	Apps                       int
	MeanInterarrival           time.Duration
	MinExecutors, MaxExecutors int
	Work                       time.Duration
	// PodGroupShare is the fraction of apps declared by a PodGroup.
	PodGroupShare float64
}

// Generate draws apps from spec: Poisson arrivals, executor counts uniform
// in [MinExecutors, MaxExecutors], 1-CPU executors of 4Gi and 1-CPU drivers
// of 2Gi (spark-operator's examples), work time ±20%.
func Generate(spec Spec) Workload {
	rng := rand.New(rand.NewSource(spec.Seed))
	wl := Workload{Nodes: spec.Nodes, NodeCPU: spec.NodeCPU, NodeMemory: spec.NodeMemory}
	var at time.Duration
	for i := 0; i < spec.Apps; i++ {
		if i > 0 && spec.MeanInterarrival > 0 {
			at += time.Duration(rng.ExpFloat64() * float64(spec.MeanInterarrival))
		}
		n := spec.MinExecutors
		if spec.MaxExecutors > spec.MinExecutors {
			n += rng.Intn(spec.MaxExecutors - spec.MinExecutors + 1)
		}
		wl.Apps = append(wl.Apps, App{
			Name:      fmt.Sprintf("app%03d", i),
			Arrival:   at,
			Driver:    v1.ResourceList{v1.ResourceCPU: resource.MustParse("1"), v1.ResourceMemory: resource.MustParse("2Gi")},
			Executor:  v1.ResourceList{v1.ResourceCPU: resource.MustParse("1"), v1.ResourceMemory: resource.MustParse("4Gi")},
			Executors: n,
			Work:      time.Duration(float64(spec.Work) * (0.8 + 0.4*rng.Float64())),
			PodGroup:  rng.Float64() < spec.PodGroupShare,
		})
	}
	return wl
}

// total is what the whole app requests.
func (a *App) total() resources.List {
	t := resources.FromResourceList(a.Driver)
	t.Add(resources.FromResourceList(a.Executor).Scaled(int64(a.Executors)))
	return t
}

// driverPod builds the app's driver as Spark (or Spark Operator) creates it.
func (a *App) driverPod(schedulerName string) *v1.Pod {
	d := w.MakeSparkDriver("", a.Name).Scheduler(schedulerName)
	d.Spec.Containers[0].Resources.Requests = a.Driver.DeepCopy()
	if a.PodGroup {
		d.Group(a.Name + "-pg")
	} else {
		d.Executors(a.Executors, requestsAnnotation(a.Executor))
	}
	return d.Obj()
}

// executorPod builds executor id, owned by driver.
func (a *App) executorPod(schedulerName string, id int, driver *v1.Pod) *v1.Pod {
	e := w.MakeSparkExecutor("", a.Name, id, driver).Scheduler(schedulerName)
	e.Spec.Containers[0].Resources.Requests = a.Executor.DeepCopy()
	if a.PodGroup {
		e.Group(a.Name + "-pg")
	}
	return e.Obj()
}

func requestsAnnotation(rl v1.ResourceList) string {
	s := ""
	for _, name := range resources.FromResourceList(rl).Names() {
		q := rl[name]
		if s != "" {
			s += ","
		}
		s += string(name) + "=" + q.String()
	}
	return s
}
