// Command demo runs Spark-like apps under contention on an embedded cluster
// (a real etcd and kube-apiserver on loopback, nodes as API objects), once
// with the default kube-scheduler and once with gang-scheduler, and prints
// what each made of it. `make demo` runs it.
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
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gangsched/gangsched/bench/sim"
	"github.com/gangsched/gangsched/test/cluster"
)

func main() {
	var (
		binary   = flag.String("scheduler-binary", "bin/gang-scheduler", "gang-scheduler binary (make build)")
		out      = flag.String("out", "_output/demo", "directory for logs and results")
		nodes    = flag.Int("nodes", 8, "fake nodes")
		nodeCPU  = flag.String("node-cpu", "8", "CPU of each node")
		nodeMem  = flag.String("node-memory", "64Gi", "memory of each node")
		apps     = flag.Int("apps", 20, "Spark apps")
		execs    = flag.Int("executors", 8, "executors per app")
		work     = flag.Duration("work", 10*time.Second, "how long an app's executors run once all are up")
		arrivals = flag.Duration("interarrival", 300*time.Millisecond, "mean time between app submissions")
		seed     = flag.Int64("seed", 1, "random seed of the workload")
		pgShare  = flag.Float64("podgroup-share", 0.5, "fraction of apps declared by a Spark Operator PodGroup (the rest by driver annotations)")
		kwok     = flag.String("kwok", "", "kwok binary (make kwok) to simulate the nodes and start pods; empty: the simulator starts pods itself")
		kwokMod  = flag.String("kwok-module", filepath.Join(build.Default.GOPATH, "pkg", "mod", "sigs.k8s.io", "kwok@v0.8.0"), "the kwok module, for its stages")
	)
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	kwokBin, kwokModule = *kwok, *kwokMod
	if err := run(ctx, *binary, *out, sim.Spec{
		Seed: *seed, Nodes: *nodes, NodeCPU: *nodeCPU, NodeMemory: *nodeMem,
		Apps: *apps, MeanInterarrival: *arrivals, MinExecutors: *execs, MaxExecutors: *execs,
		Work: *work, PodGroupShare: *pgShare,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// kwokBin and kwokModule are the -kwok and -kwok-module flags.
var kwokBin, kwokModule string

func run(ctx context.Context, binary, out string, spec sim.Spec) error {
	if _, err := os.Stat(binary); err != nil {
		return fmt.Errorf("%s not found: run make build first", binary)
	}
	binary, _ = filepath.Abs(binary)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(out, "cluster.log"))
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
	fmt.Printf("Workload: %d Spark apps (driver 1 CPU + %d executors of 1 CPU, work %s once all executors run), arriving every ~%s,\n"+
		"on %d nodes of %s CPU: the cluster holds %d apps at once.\n\n",
		len(wl.Apps), spec.MinExecutors, spec.Work, spec.MeanInterarrival, spec.Nodes, spec.NodeCPU, appsThatFit(spec))

	_, stopEtcd, err := cluster.StartEtcd(ctx, logFile)
	if err != nil {
		return err
	}
	defer stopEtcd()

	var results []*sim.Result
	for _, s := range []sim.Scheduler{sim.DefaultScheduler, sim.GangScheduler} {
		fmt.Printf("Running with the %s scheduler...\n", s.Name)
		r, err := runOne(ctx, s, binary, out, wl, logFile)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		results = append(results, r)
		fmt.Printf("  %s: %s\n\n", s.Name, r.Outcome)
	}
	sim.WriteTable(os.Stdout, results)
	return writeResults(out, results, capacityCPU(spec))
}

// writeResults writes the results as JSON and CSV, and the charts as SVG.
func writeResults(out string, results []*sim.Result, capacity float64) error {
	data, _ := json.MarshalIndent(results, "", "  ")
	files := map[string]func(io.Writer){
		"results.json":    func(w io.Writer) { _, _ = w.Write(data) },
		"results.csv":     func(w io.Writer) { sim.WriteCSV(w, results) },
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
	fmt.Printf("\nResults: %[1]s/results.json, %[1]s/results.csv; charts: %[1]s/utilization.svg, %[1]s/latency-cdf.svg; logs: %[1]s/*.log\n", out)
	return nil
}

// capacityCPU is the cluster's CPU in cores.
func capacityCPU(spec sim.Spec) float64 {
	cpu := resource.MustParse(spec.NodeCPU)
	return float64(spec.Nodes) * cpu.AsApproximateFloat64()
}

func runOne(ctx context.Context, s sim.Scheduler, binary, out string, wl sim.Workload, logFile *os.File) (*sim.Result, error) {
	c, err := cluster.New(ctx, cluster.Options{LogOut: logFile})
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	crd, err := cluster.PodGroupCRDPath()
	if err != nil {
		return nil, err
	}
	if err := c.InstallCRDs(ctx, crd); err != nil {
		return nil, err
	}
	ns, err := c.CreateNamespace(ctx, "spark")
	if err != nil {
		return nil, err
	}
	var annotations map[string]string
	if kwokBin != "" {
		annotations = map[string]string{sim.KwokNodeAnnotation: "fake"}
		k, err := sim.StartKwok(kwokBin, kwokModule, c.KubeconfigPath, out)
		if err != nil {
			return nil, err
		}
		defer k.Stop()
	}
	if _, err := c.CreateAnnotatedNodes(ctx, "node", wl.Nodes, v1.ResourceList{
		v1.ResourceCPU: resource.MustParse(wl.NodeCPU), v1.ResourceMemory: resource.MustParse(wl.NodeMemory),
	}, nil, annotations); err != nil {
		return nil, err
	}
	p, err := sim.StartProcess(ctx, s, binary, c.KubeconfigPath, out, c.Client, ns)
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	r, err := sim.New(c.Client, c.PodGroups, sim.Options{
		Namespace: ns, SchedulerName: sim.SchedulerName, Progress: os.Stdout, Label: s.Name,
		Stall: 15 * time.Second, Timeout: 5 * time.Minute, KubeletByKwok: kwokBin != "",
	}).Run(ctx, wl)
	if err != nil {
		return nil, err
	}
	r.Scheduler = s.Name
	r.SchedulerCPUSeconds, r.SchedulerMaxRSS = p.Usage()
	return r, nil
}

// appsThatFit is how many whole apps the nodes hold at once.
func appsThatFit(spec sim.Spec) int {
	cpu := resource.MustParse(spec.NodeCPU)
	perNode := int(cpu.Value())
	return spec.Nodes * perNode / (1 + spec.MinExecutors)
}
