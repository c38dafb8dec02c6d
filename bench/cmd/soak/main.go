// Command soak runs thousands of short Spark apps through gangsched on an
// embedded cluster with kwok nodes, deleting each app when it finishes (as
// Spark Operator's TTL does), and checks that the scheduler forgets every
// group and that its memory stays flat. `make soak` runs it; it exits 1 when
// a check fails.
package main

import (
	"context"
	"flag"
	"fmt"
	"go/build"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gangsched/gangsched/bench/sim"
	"github.com/gangsched/gangsched/test/cluster"
)

// point is one sample of the scheduler during the soak.
type point struct {
	at     time.Duration
	rss    int64
	heap   float64
	groups float64
}

func main() {
	var (
		binary   = flag.String("scheduler-binary", "bin/gang-scheduler", "gang-scheduler binary (make build)")
		out      = flag.String("out", "_output/soak", "directory for logs and results")
		nodes    = flag.Int("nodes", 50, "fake nodes")
		apps     = flag.Int("apps", 2000, "Spark apps")
		arrivals = flag.Duration("interarrival", 50*time.Millisecond, "mean time between app submissions")
		work     = flag.Duration("work", 2*time.Second, "how long an app runs once all executors are up")
		growth   = flag.Float64("max-growth", 1.5, "fail when memory at the end exceeds memory after the first quarter of apps by this factor")
		kwok     = flag.String("kwok", "bin/kwok", "kwok binary (make kwok)")
		kwokMod  = flag.String("kwok-module", filepath.Join(build.Default.GOPATH, "pkg", "mod", "sigs.k8s.io", "kwok@v0.8.0"), "the kwok module, for its stages")
	)
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ok, err := run(ctx, *binary, *out, *kwok, *kwokMod, *growth, sim.Spec{
		Seed: 1, Nodes: *nodes, NodeCPU: "8", NodeMemory: "64Gi", Apps: *apps, MeanInterarrival: *arrivals,
		MinExecutors: 1, MaxExecutors: 4, Work: *work, PodGroupShare: 0.5,
		Queues: []sim.Queue{{Name: "a", Weight: 1, Share: 0.5}, {Name: "b", Weight: 1, Share: 0.5}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(ctx context.Context, binary, out, kwok, kwokModule string, maxGrowth float64, spec sim.Spec) (bool, error) {
	binary, _ = filepath.Abs(binary)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return false, err
	}
	logFile, err := os.Create(filepath.Join(out, "cluster.log"))
	if err != nil {
		return false, err
	}
	defer logFile.Close()
	restore, err := cluster.RedirectKlog(logFile)
	if err != nil {
		return false, err
	}
	defer restore()
	wl := sim.Generate(spec)
	fmt.Printf("Soak: %d short Spark apps (1-4 executors, ~%s of work) every ~%s on %d nodes, each deleted when done.\n\n",
		len(wl.Apps), spec.Work, spec.MeanInterarrival, spec.Nodes)

	_, stopEtcd, err := cluster.StartEtcd(ctx, logFile)
	if err != nil {
		return false, err
	}
	defer stopEtcd()
	env, err := sim.StartEnv(ctx, wl, sim.EnvOptions{LogOut: logFile, Kwok: kwok, KwokModule: kwokModule, Dir: out})
	if err != nil {
		return false, err
	}
	defer env.Stop()
	c := env.Cluster
	p, err := sim.StartProcess(ctx, sim.GangScheduler, binary, c.KubeconfigPath, out, c.Client, env.Namespace)
	if err != nil {
		return false, err
	}
	defer p.Stop()

	var (
		mu     sync.Mutex
		points []point
	)
	start := time.Now()
	probe := func() point {
		pt := point{at: time.Since(start), rss: p.RSS()}
		if page, err := p.Metrics(ctx); err == nil {
			pt.heap, _ = sim.SumMetric(page, "go_memstats_heap_inuse_bytes")
			pt.groups, _ = sim.SumMetric(page, "gangsched_groups")
		}
		return pt
	}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	go wait.UntilWithContext(sampleCtx, func(context.Context) {
		pt := probe()
		mu.Lock()
		points = append(points, pt)
		mu.Unlock()
	}, 2*time.Second)

	res, err := sim.New(c.Client, c.PodGroups, sim.Options{
		Namespace: env.Namespace, SchedulerName: sim.SchedulerName, Progress: os.Stdout, Label: "gangsched",
		ProgressEvery: 10 * time.Second, Stall: 30 * time.Second, Timeout: 20 * time.Minute,
		KubeletByKwok: true, DeleteFinished: true, Resubmit: 5 * time.Second,
	}).Run(ctx, wl)
	stopSampling()
	if err != nil {
		return false, err
	}
	// Deleted apps leave the scheduler's informers within moments; the
	// gauge is refreshed every 2 seconds.
	var end point
	_ = wait.PollUntilContextTimeout(ctx, time.Second, 30*time.Second, true, func(context.Context) (bool, error) {
		end = probe()
		return end.groups == 0, nil
	})
	mu.Lock()
	points = append(points, end)
	mu.Unlock()

	quarter := points[0]
	for _, pt := range points {
		if pt.at >= res.Makespan/4 {
			quarter = pt
			break
		}
	}
	growth := float64(end.rss) / float64(max(quarter.rss, 1))
	fmt.Printf("\n%d / %d apps completed, %d resubmitted after preemption by queue reclaim (%s) in %s; %d pods bound.\n",
		res.Completed, res.Apps, res.Resubmitted, res.Outcome, res.Makespan.Round(time.Second), res.PodsBound)
	fmt.Printf("Scheduler memory: %.0f MiB resident after a quarter of the run, %.0f MiB at the end (x%.2f); Go heap in use %.0f -> %.0f MiB.\n",
		mib(quarter.rss), mib(end.rss), growth, quarter.heap/(1<<20), end.heap/(1<<20))
	fmt.Printf("Groups the scheduler still tracks after every app was deleted: %.0f.\n", end.groups)
	if err := writeCSV(filepath.Join(out, "soak.csv"), points); err != nil {
		return false, err
	}
	fmt.Printf("Samples: %s/soak.csv; logs: %s/*.log\n", out, out)

	ok := true
	if res.Completed != res.Apps {
		fmt.Printf("FAIL: %d apps did not complete\n", res.Apps-res.Completed)
		ok = false
	}
	if end.groups != 0 {
		fmt.Printf("FAIL: %.0f groups left behind\n", end.groups)
		ok = false
	}
	if growth > maxGrowth {
		fmt.Printf("FAIL: memory grew x%.2f, more than x%.2f\n", growth, maxGrowth)
		ok = false
	}
	if ok {
		fmt.Println("PASS: every app completed, no group left behind, memory flat.")
	}
	return ok, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func writeCSV(path string, points []point) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	write := func(w io.Writer) {
		fmt.Fprintln(w, "seconds,rss_mib,heap_inuse_mib,groups")
		for _, pt := range points {
			fmt.Fprintf(w, "%.1f,%.1f,%.1f,%.0f\n", pt.at.Seconds(), mib(pt.rss), pt.heap/(1<<20), pt.groups)
		}
	}
	write(f)
	return f.Close()
}
