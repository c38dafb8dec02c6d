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

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/podgroup"
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
	// MinExecutors makes the app elastic (Spark's dynamic allocation):
	// its gang is the driver and MinExecutors executors, declared with
	// spark.dynamicAllocation.minExecutors (or a PodGroup's minResources
	// covering them); it starts once they run, its driver asks for all
	// Executors, and its work (Work at full size, in executor-seconds)
	// goes as fast as the executors it has. Zero: a fixed gang of all
	// Executors.
	MinExecutors int
	// PodGroup declares the gang as Spark Operator does (a PodGroup with
	// minMember 1 and minResources for the driver and all executors);
	// otherwise by the driver's gangsched.io annotations.
	PodGroup bool
	// Queue is the gangsched queue the app is submitted to ("" for none).
	Queue string
	// Priority is the PriorityClass of its pods ("" for none).
	Priority string
}

// Queue is a tenant's queue in a workload.
type Queue struct {
	// Name and Weight are the Queue's; Share is the fraction of apps
	// submitted to it.
	Name   string
	Weight int32
	Share  float64
}

// Priorities are the PriorityClasses a workload's pods may ask for,
// created in the cluster before a run.
var Priorities = map[string]int32{PriorityHigh: 1000, PriorityLow: 0}

// The workload's PriorityClasses.
const (
	PriorityHigh = "spark-high"
	PriorityLow  = "spark-low"
)

// PlainPods is a stream of ordinary pods, in no group, arriving alongside
// the apps: what gang scheduling costs pods that do not need it.
type PlainPods struct {
	// PerSecond is the mean arrival rate; zero turns the stream off.
	PerSecond float64
	// CPU each pod requests, and how long it runs.
	CPU string
	Run time.Duration
	// For is how long the stream runs from the first app's arrival; zero:
	// until the last app arrives.
	For time.Duration
}

// Workload is a set of apps and the nodes they contend for.
type Workload struct {
	Nodes               int
	NodeCPU, NodeMemory string
	Apps                []App
	Queues              []Queue
	// Plain are the plain pods, by arrival.
	Plain []Plain
}

// CapacityCPU is the CPU of all the workload's nodes, in millicores.
func (wl *Workload) CapacityCPU() int64 {
	cpu := resource.MustParse(wl.NodeCPU)
	return int64(wl.Nodes) * cpu.MilliValue()
}

// Plain is one plain pod of a workload.
type Plain struct {
	Name     string
	Arrival  time.Duration
	Requests v1.ResourceList
	Run      time.Duration
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
	// Queues the apps are spread over (none: no queue label).
	Queues []Queue
	// HighPriorityShare is the fraction of apps of PriorityHigh; with a
	// non-zero share the others are PriorityLow.
	HighPriorityShare float64
	// Plain is the plain pod stream.
	Plain PlainPods
	// ElasticShare is the fraction of apps that are elastic, with a gang
	// of ElasticMin of their executors (at least one).
	ElasticShare, ElasticMin float64
}

// Generate draws apps from spec: Poisson arrivals, executor counts uniform
// in [MinExecutors, MaxExecutors], 1-CPU executors of 4Gi and 1-CPU drivers
// of 2Gi (spark-operator's examples), work time ±20%.
func Generate(spec Spec) Workload {
	rng := rand.New(rand.NewSource(spec.Seed))
	wl := Workload{Nodes: spec.Nodes, NodeCPU: spec.NodeCPU, NodeMemory: spec.NodeMemory, Queues: spec.Queues}
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
			Queue:     pickQueue(rng.Float64(), spec.Queues),
			Priority:  pickPriority(rng.Float64(), spec.HighPriorityShare),
		})
		// Drawn only for elastic workloads, so a fixed one stays as it was.
		if spec.ElasticShare > 0 && rng.Float64() < spec.ElasticShare {
			wl.Apps[i].MinExecutors = max(1, int(float64(n)*spec.ElasticMin+0.5))
		}
	}
	if spec.Plain.PerSecond > 0 && len(wl.Apps) > 0 {
		end := wl.Apps[len(wl.Apps)-1].Arrival
		if spec.Plain.For > 0 {
			end = spec.Plain.For
		}
		mean := time.Duration(float64(time.Second) / spec.Plain.PerSecond)
		for at, i := time.Duration(0), 0; at <= end; i++ {
			wl.Plain = append(wl.Plain, Plain{
				Name: fmt.Sprintf("plain%05d", i), Arrival: at,
				Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(spec.Plain.CPU), v1.ResourceMemory: resource.MustParse("1Gi")},
				Run:      time.Duration(float64(spec.Plain.Run) * (0.8 + 0.4*rng.Float64())),
			})
			at += time.Duration(rng.ExpFloat64() * float64(mean))
		}
	}
	return wl
}

// pickQueue maps a uniform draw to a queue by the queues' shares.
func pickQueue(draw float64, queues []Queue) string {
	total := 0.0
	for _, q := range queues {
		total += q.Share
	}
	for _, q := range queues {
		if draw -= q.Share / total; draw < 0 {
			return q.Name
		}
	}
	if len(queues) > 0 {
		return queues[len(queues)-1].Name
	}
	return ""
}

func pickPriority(draw, high float64) string {
	switch {
	case high <= 0:
		return ""
	case draw < high:
		return PriorityHigh
	default:
		return PriorityLow
	}
}

// gang is how many executors the app needs running to start.
func (a *App) gang() int {
	if a.MinExecutors > 0 {
		return a.MinExecutors
	}
	return a.Executors
}

// gangTotal is what the app's gang requests: the driver and gang()
// executors.
func (a *App) gangTotal() resources.List {
	t := resources.FromResourceList(a.Driver)
	t.Add(resources.FromResourceList(a.Executor).Scaled(int64(a.gang())))
	return t
}

// driverPod builds the app's driver as Spark (or Spark Operator) creates it.
func (a *App) driverPod(schedulerName string) *v1.Pod {
	d := w.MakeSparkDriver("", a.Name).Scheduler(schedulerName).PriorityClass(a.Priority)
	if a.Queue != "" {
		d.Label(v1alpha1.QueueLabel, a.Queue)
	}
	d.Spec.Containers[0].Resources.Requests = a.Driver.DeepCopy()
	switch {
	case a.PodGroup:
		d.Group(a.Name + "-pg")
	case a.MinExecutors > 0:
		d.Annotation(podgroup.AnnotationExecutorRequests, requestsAnnotation(a.Executor))
		d.Annotation(podgroup.AnnotationMinExecutors, fmt.Sprint(a.MinExecutors))
		d.Annotation(podgroup.AnnotationMaxExecutors, fmt.Sprint(a.Executors))
	default:
		d.Executors(a.Executors, requestsAnnotation(a.Executor))
	}
	return d.Obj()
}

// executorPod builds executor id, owned by driver.
func (a *App) executorPod(schedulerName string, id int, driver *v1.Pod) *v1.Pod {
	e := w.MakeSparkExecutor("", a.Name, id, driver).Scheduler(schedulerName).PriorityClass(a.Priority)
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
