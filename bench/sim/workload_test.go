package sim

import (
	"reflect"
	"testing"
	"time"
)

func TestGenerate(t *testing.T) {
	spec := Spec{
		Seed: 7, Nodes: 4, NodeCPU: "8", NodeMemory: "32Gi", Apps: 400, MeanInterarrival: 100 * time.Millisecond,
		MinExecutors: 2, MaxExecutors: 6, Work: 10 * time.Second, PodGroupShare: 0.5,
		Queues:            []Queue{{Name: "a", Weight: 3, Share: 0.75}, {Name: "b", Weight: 1, Share: 0.25}},
		HighPriorityShare: 0.2,
		Plain:             PlainPods{PerSecond: 10, CPU: "500m", Run: time.Second},
	}
	wl := Generate(spec)
	if again := Generate(spec); !reflect.DeepEqual(wl, again) {
		t.Fatal("the same seed drew a different workload")
	}
	queues, high := map[string]int{}, 0
	for i, a := range wl.Apps {
		queues[a.Queue]++
		if a.Priority == PriorityHigh {
			high++
		}
		if a.Executors < 2 || a.Executors > 6 {
			t.Errorf("app %s has %d executors, outside [2, 6]", a.Name, a.Executors)
		}
		if i > 0 && a.Arrival < wl.Apps[i-1].Arrival {
			t.Errorf("app %s arrives before the one drawn before it", a.Name)
		}
	}
	// 400 draws: each share within a few standard deviations.
	if queues["a"] < 260 || queues["a"] > 340 || queues["a"]+queues["b"] != 400 {
		t.Errorf("queues %v, want about 300 a and 100 b", queues)
	}
	if high < 50 || high > 110 {
		t.Errorf("%d high-priority apps, want about 80", high)
	}
	last := wl.Apps[len(wl.Apps)-1].Arrival
	if n := len(wl.Plain); n == 0 || wl.Plain[n-1].Arrival > last {
		t.Errorf("%d plain pods, the last at %v: want a stream that ends by the last app's arrival %v", n, wl.Plain[n-1].Arrival, last)
	}
}

func TestPickQueue(t *testing.T) {
	qs := []Queue{{Name: "a", Share: 1}, {Name: "b", Share: 3}}
	for draw, want := range map[float64]string{0: "a", 0.24: "a", 0.26: "b", 0.999: "b"} {
		if got := pickQueue(draw, qs); got != want {
			t.Errorf("pickQueue(%v) = %q, want %q", draw, got, want)
		}
	}
	if got := pickQueue(0.5, nil); got != "" {
		t.Errorf("no queues: got %q", got)
	}
}

// An elastic share makes apps elastic with a gang of ElasticMin of their
// executors, and leaves a fixed workload as it was drawn without it.
func TestGenerateElastic(t *testing.T) {
	spec := Spec{Seed: 7, Nodes: 10, NodeCPU: "4", NodeMemory: "32Gi", Apps: 50, MinExecutors: 4, MaxExecutors: 20, Work: time.Second}
	fixed := Generate(spec)
	spec.ElasticShare, spec.ElasticMin = 1, 0.25
	elastic := Generate(spec)
	for i, a := range elastic.Apps {
		if want := max(1, int(float64(a.Executors)*0.25+0.5)); a.MinExecutors != want || a.gang() != want {
			t.Errorf("app %s: gang %d of %d executors, want %d", a.Name, a.MinExecutors, a.Executors, want)
		}
		if f := fixed.Apps[i]; f.MinExecutors != 0 || f.gang() != f.Executors {
			t.Errorf("fixed app %s is elastic: %+v", f.Name, f)
		}
	}
	if d := elastic.Apps[0].driverPod("gang-scheduler"); d.Annotations["spark.dynamicAllocation.minExecutors"] == "" {
		t.Errorf("elastic driver annotations %v", d.Annotations)
	}
}
