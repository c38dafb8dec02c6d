// Command contention runs Spark-like apps under contention on an embedded
// cluster (a real etcd and kube-apiserver on loopback, kwok's fake nodes),
// once per scheduler under test — the default kube-scheduler, gangsched and,
// when its binary is given, scheduler-plugins' Coscheduling — and prints
// what each made of it. `make demo` runs a small scenario, `make bench` the
// full one.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"go/build"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gangsched/gangsched/bench/sim"
	"github.com/gangsched/gangsched/test/cluster"
)

func main() {
	var (
		binary    = flag.String("scheduler-binary", "bin/gang-scheduler", "gang-scheduler binary (make build)")
		cosched   = flag.String("coscheduling-binary", "", "scheduler-plugins' scheduler (make coscheduling); empty: no Coscheduling run")
		coschedCt = flag.String("coscheduling-controller", "", "scheduler-plugins' PodGroup controller (make coscheduling), run with its scheduler")
		only      = flag.String("schedulers", "", "comma-separated schedulers to run (default, gangsched, coscheduling); empty: all available")
		out       = flag.String("out", "_output/demo", "directory for logs and results")
		nodes     = flag.Int("nodes", 8, "fake nodes")
		nodeCPU   = flag.String("node-cpu", "8", "CPU of each node")
		nodeMem   = flag.String("node-memory", "64Gi", "memory of each node")
		apps      = flag.Int("apps", 20, "Spark apps")
		minExecs  = flag.Int("min-executors", 8, "fewest executors of an app")
		maxExecs  = flag.Int("max-executors", 8, "most executors of an app")
		work      = flag.Duration("work", 10*time.Second, "how long an app's executors run once all are up (±20%)")
		arrivals  = flag.Duration("interarrival", 100*time.Millisecond, "mean time between app submissions")
		seed      = flag.Int64("seed", 1, "random seed of the workload")
		pgShare   = flag.Float64("podgroup-share", 0.5, "fraction of apps declared by a Spark Operator PodGroup (the rest by driver annotations)")
		queues    = flag.String("queues", "", "queues as name=weight:share,... (share: fraction of apps); empty: no queues")
		high      = flag.Float64("high-priority-share", 0, "fraction of apps of the high PriorityClass (0: no PriorityClasses)")
		elastic   = flag.Float64("elastic-share", 0, "fraction of apps with Spark's dynamic allocation: a gang of -elastic-min of their executors, growing to all")
		elasticMn = flag.Float64("elastic-min", 0.25, "an elastic app's gang, as a fraction of its executors")
		plainRate = flag.Float64("plain-pods-per-second", 0, "rate of plain pods (no group) arriving with the apps")
		plainCPU  = flag.String("plain-pod-cpu", "500m", "CPU of each plain pod")
		plainRun  = flag.Duration("plain-pod-run", 5*time.Second, "how long a plain pod runs (±20%)")
		plainFor  = flag.Duration("plain-pods-for", 0, "how long plain pods keep arriving; 0: until the last app arrives")
		resubmit  = flag.Duration("resubmit-after", 5*time.Second, "resubmit a preempted app this long after its pods are gone, as Spark Operator's restartPolicy OnFailure does; 0: never")
		stall     = flag.Duration("stall", 15*time.Second, "end a run when nothing moved this long after the last arrival")
		timeout   = flag.Duration("timeout", 5*time.Minute, "end a run after this long in any case")
		kwok      = flag.String("kwok", "", "kwok binary (make kwok) to simulate the nodes and start pods; empty: the simulator starts pods itself")
		kwokMod   = flag.String("kwok-module", filepath.Join(build.Default.GOPATH, "pkg", "mod", "sigs.k8s.io", "kwok@v0.8.0"), "the kwok module, for its stages")
	)
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	qs, err := parseQueues(*queues)
	if err != nil {
		fmt.Fprintln(os.Stderr, "contention: -queues:", err)
		os.Exit(2)
	}
	schedulers := []sim.Scheduler{sim.DefaultScheduler, sim.GangScheduler}
	if *cosched != "" {
		abs, _ := filepath.Abs(*cosched)
		ctl := *coschedCt
		if ctl != "" {
			ctl, _ = filepath.Abs(ctl)
		}
		schedulers = append(schedulers, sim.CoschedulingScheduler(abs, ctl))
	}
	if *only != "" {
		var picked []sim.Scheduler
		for _, s := range schedulers {
			if slices.Contains(strings.Split(*only, ","), s.Name) {
				picked = append(picked, s)
			}
		}
		schedulers = picked
	}
	r := runner{binary: *binary, out: *out, kwok: *kwok, kwokModule: *kwokMod, stall: *stall, timeout: *timeout, resubmit: *resubmit}
	if err := r.run(ctx, schedulers, sim.Spec{
		Seed: *seed, Nodes: *nodes, NodeCPU: *nodeCPU, NodeMemory: *nodeMem,
		Apps: *apps, MeanInterarrival: *arrivals, MinExecutors: *minExecs, MaxExecutors: *maxExecs,
		Work: *work, PodGroupShare: *pgShare, Queues: qs, HighPriorityShare: *high, ElasticShare: *elastic, ElasticMin: *elasticMn,
		Plain: sim.PlainPods{PerSecond: *plainRate, CPU: *plainCPU, Run: *plainRun, For: *plainFor},
	}); err != nil {
		fmt.Fprintln(os.Stderr, "contention:", err)
		os.Exit(1)
	}
}

// parseQueues reads name=weight:share,...
func parseQueues(s string) ([]sim.Queue, error) {
	var qs []sim.Queue
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, rest, ok1 := strings.Cut(item, "=")
		weight, share, ok2 := strings.Cut(rest, ":")
		w, err1 := strconv.ParseInt(weight, 10, 32)
		sh, err2 := strconv.ParseFloat(share, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || name == "" || w < 0 || sh <= 0 {
			return nil, fmt.Errorf("%q is not name=weight:share (e.g. etl=2:0.5)", item)
		}
		qs = append(qs, sim.Queue{Name: name, Weight: int32(w), Share: sh})
	}
	return qs, nil
}

// runner runs a workload once per scheduler.
type runner struct {
	binary, out      string
	kwok, kwokModule string
	stall, timeout   time.Duration
	resubmit         time.Duration
}

func (r runner) run(ctx context.Context, schedulers []sim.Scheduler, spec sim.Spec) error {
	if _, err := os.Stat(r.binary); err != nil {
		return fmt.Errorf("%s not found: run make build first", r.binary)
	}
	r.binary, _ = filepath.Abs(r.binary)
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(r.out, "cluster.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	restore, err := cluster.RedirectKlog(logFile)
	if err != nil {
		return err
	}
	defer restore()

	wl := sim.Generate(spec)
	describe(os.Stdout, spec, wl)

	_, stopEtcd, err := cluster.StartEtcd(ctx, logFile)
	if err != nil {
		return err
	}
	defer stopEtcd()

	var results []*sim.Result
	for _, s := range schedulers {
		fmt.Printf("Running with the %s scheduler...\n", s.Name)
		res, err := r.runOne(ctx, s, wl, logFile)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		results = append(results, res)
		fmt.Printf("  %s: %s\n", s.Name, res.Outcome)
		for _, stuck := range res.Stuck {
			fmt.Printf("    stuck: %s\n", stuck)
		}
		fmt.Println()
	}
	sim.WriteTable(os.Stdout, results)
	return writeResults(r.out, results, float64(wl.CapacityCPU())/1000)
}

// describe prints the workload in a sentence or three.
func describe(w io.Writer, spec sim.Spec, wl sim.Workload) {
	execs := fmt.Sprint(spec.MinExecutors)
	if spec.MaxExecutors > spec.MinExecutors {
		execs = fmt.Sprintf("%d-%d", spec.MinExecutors, spec.MaxExecutors)
	}
	demand := 0
	for _, a := range wl.Apps {
		demand += 1 + a.Executors
	}
	fmt.Fprintf(w, "Workload: %d Spark apps (driver 1 CPU + %s executors of 1 CPU, work ~%s once all executors run), arriving every ~%s,\n"+
		"on %d nodes of %s CPU (%.0f CPU; the apps ask for %d CPU in all).\n",
		len(wl.Apps), execs, spec.Work, spec.MeanInterarrival, spec.Nodes, spec.NodeCPU, float64(wl.CapacityCPU())/1000, demand)
	if spec.MinExecutors == spec.MaxExecutors {
		perNode := resource.MustParse(spec.NodeCPU)
		fmt.Fprintf(w, "The cluster holds %d whole apps at once.\n", spec.Nodes*int(perNode.Value())/(1+spec.MinExecutors))
	}
	if len(spec.Queues) > 0 {
		var parts []string
		for _, q := range spec.Queues {
			parts = append(parts, fmt.Sprintf("%s (weight %d, %.0f%% of apps)", q.Name, q.Weight, 100*q.Share))
		}
		fmt.Fprintf(w, "Queues: %s.\n", strings.Join(parts, ", "))
	}
	if spec.ElasticShare > 0 {
		fmt.Fprintf(w, "Elastic: %.0f%% of apps use dynamic allocation, a gang of the driver and %.0f%% of their executors (spark.dynamicAllocation.minExecutors; a PodGroup's minResources for those with one), growing to all; their work goes at the pace of the executors they have.\n",
			100*spec.ElasticShare, 100*spec.ElasticMin)
	}
	if spec.HighPriorityShare > 0 {
		fmt.Fprintf(w, "Priorities: %.0f%% of apps %s, the rest %s.\n", 100*spec.HighPriorityShare, sim.PriorityHigh, sim.PriorityLow)
	}
	if len(wl.Plain) > 0 {
		fmt.Fprintf(w, "Plain pods: %d of %s CPU (~%.1f a second, running ~%s) alongside.\n", len(wl.Plain), spec.Plain.CPU, spec.Plain.PerSecond, spec.Plain.Run)
	}
	fmt.Fprintln(w)
}

// writeResults writes the results as JSON and CSV, and the charts as SVG.
func writeResults(out string, results []*sim.Result, capacity float64) error {
	data, _ := json.MarshalIndent(results, "", "  ")
	files := map[string]func(io.Writer){
		"results.json":    func(w io.Writer) { _, _ = w.Write(data) },
		"results.csv":     func(w io.Writer) { sim.WriteCSV(w, results) },
		"queues.csv":      func(w io.Writer) { sim.WriteQueuesCSV(w, results) },
		"utilization.svg": func(w io.Writer) { sim.WriteUtilization(w, results, capacity) },
		"latency-cdf.svg": func(w io.Writer) { sim.WriteLatencyCDF(w, results) },
	}
	for name, write := range files {
		f, err := os.Create(filepath.Join(out, name))
		if err != nil {
			return err
		}
		write(f)
		if err := f.Close(); err != nil {
			return err
		}
	}
	fmt.Printf("\nResults: %[1]s/results.json, %[1]s/results.csv, %[1]s/queues.csv; charts: %[1]s/utilization.svg, %[1]s/latency-cdf.svg; logs: %[1]s/*.log\n", out)
	return nil
}

func (r runner) runOne(ctx context.Context, s sim.Scheduler, wl sim.Workload, logFile *os.File) (*sim.Result, error) {
	env, err := sim.StartEnv(ctx, wl, sim.EnvOptions{LogOut: logFile, Kwok: r.kwok, KwokModule: r.kwokModule, Dir: r.out})
	if err != nil {
		return nil, err
	}
	defer env.Stop()
	c := env.Cluster
	before := cluster.APIWrites() // the API servers of earlier runs, in this process, counted too
	p, err := sim.StartProcess(ctx, s, r.binary, c.KubeconfigPath, r.out, c.Client, env.Namespace)
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	res, err := sim.New(c.Client, c.PodGroups, sim.Options{
		Namespace: env.Namespace, SchedulerName: sim.SchedulerName, Progress: os.Stdout, Label: s.Name,
		Stall: r.stall, Timeout: r.timeout, KubeletByKwok: r.kwok != "", Resubmit: r.resubmit,
	}).Run(ctx, wl)
	if err != nil {
		return nil, err
	}
	res.Scheduler = s.Name
	res.SchedulerCPUSeconds, res.SchedulerMaxRSS = p.Usage()
	res.Writes = cluster.APIWrites()
	for k, v := range before {
		res.Writes[k] -= v
	}
	return res, nil
}
