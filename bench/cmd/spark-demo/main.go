// Command spark-demo runs real Spark on an embedded cluster (a real etcd
// and kube-apiserver on loopback, nodes whose Spark pods a process kubelet
// runs as JVMs on this machine): more SparkPi apps than the cluster holds
// at once, submitted together with spark-submit, once with kube-scheduler's
// default profile and once with gangsched, and prints what became of each
// app. `make spark-demo` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gangsched/gangsched/bench/sim"
	"github.com/gangsched/gangsched/test/cluster"
)

// appConf is what each app's user writes (README's "Spark alone"): a
// driver of 2 cores that declares its 2 executors of 1 core. Two nodes of
// 4 cores hold two such apps at once, and all four drivers.
var appConf = []string{
	"--conf", "spark.kubernetes.scheduler.name=gang-scheduler",
	"--conf", "spark.kubernetes.driver.request.cores=2",
	"--conf", "spark.executor.instances=2",
	"--conf", "spark.kubernetes.driver.annotation.gangsched.io/executors=2",
	"--conf", "spark.kubernetes.driver.annotation.gangsched.io/executor-requests=cpu=1,memory=896Mi",
}

func main() {
	var (
		binary    = flag.String("scheduler-binary", "bin/gang-scheduler", "gang-scheduler binary (make build)")
		sparkHome = flag.String("spark-home", "", "Spark distribution (make spark installs bin/pyspark-<version>/deps)")
		out       = flag.String("out", "_output/spark-demo", "directory for logs")
		apps      = flag.Int("apps", 4, "SparkPi apps submitted at once")
		stall     = flag.Duration("stall", time.Minute, "call a run deadlocked when no pod was bound or finished for this long")
		timeout   = flag.Duration("timeout", 6*time.Minute, "end a run after this long in any case")
	)
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, *binary, *sparkHome, *out, *apps, *stall, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "spark-demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, binary, sparkHome, out string, apps int, stall, timeout time.Duration) error {
	binary, _ = filepath.Abs(binary)
	sparkHome, _ = filepath.Abs(sparkHome)
	if _, err := os.Stat(filepath.Join(sparkHome, "bin", "spark-submit")); err != nil {
		return fmt.Errorf("no Spark at %q: run make spark", sparkHome)
	}
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

	names := make([]string, apps)
	for i := range names {
		names[i] = fmt.Sprintf("pi-%c", 'a'+i)
	}
	fmt.Printf("Real Spark %s: %d SparkPi apps (pi.py), each a driver of 2 cores and 2 executors of 1 core,\n", sparkVersion(sparkHome), apps)
	fmt.Printf("submitted together with spark-submit to 2 nodes of 4 cores: room for 2 apps at once, but for all %d drivers.\n", apps)
	fmt.Printf("Logs: %s\n\n", out)
	var summary []string
	for _, s := range []sim.Scheduler{sim.DefaultScheduler, sim.GangScheduler} {
		dir := filepath.Join(out, s.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		line, err := runOnce(ctx, s, binary, sparkHome, dir, logFile, names, stall, timeout)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		summary = append(summary, line)
	}
	fmt.Println("Summary:")
	for _, l := range summary {
		fmt.Println("  " + l)
	}
	return nil
}

// app is what became of one app.
type app struct {
	name, driver, node string
	phase              v1.PodPhase
	executors, bound   int
	finished           time.Duration
	result             string
}

// runOnce runs the apps on a cluster of their own with scheduler s, and
// prints a line per app and its summary.
func runOnce(ctx context.Context, s sim.Scheduler, binary, sparkHome, dir string, logFile *os.File, names []string, stall, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout+2*time.Minute)
	defer cancel()
	label := map[string]string{"default": "kube-scheduler's default profile", "gangsched": "gangsched"}[s.Name]
	fmt.Printf("%s:\n", label)
	c, err := cluster.New(ctx, cluster.Options{Restartable: true, LogOut: logFile})
	if err != nil {
		return "", err
	}
	defer c.Stop()
	if err := c.InstallGangschedCRDs(ctx); err != nil {
		return "", err
	}
	ns, err := c.CreateNamespace(ctx, "spark")
	if err != nil {
		return "", err
	}
	nodes, err := c.CreateNodes(ctx, "node", 2, v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("16Gi")}, nil)
	if err != nil {
		return "", err
	}
	var nodeNames []string
	for _, n := range nodes {
		nodeNames = append(nodeNames, n.Name)
	}
	pythonPath, err := cluster.SparkPythonPath(sparkHome)
	if err != nil {
		return "", err
	}
	k, err := c.StartProcessKubelet(ctx, cluster.ProcessKubeletOptions{Nodes: nodeNames, SparkHome: sparkHome, PythonPath: pythonPath})
	if err != nil {
		return "", err
	}
	proc, err := sim.StartProcess(ctx, s, binary, c.KubeconfigPath, dir, c.Client, ns)
	if err != nil {
		return "", err
	}
	defer proc.Stop()

	start := time.Now()
	if err := submitAll(ctx, k, ns, dir, names); err != nil {
		return "", err
	}
	state := map[string]*app{}
	lastChange, lastSig := time.Now(), ""
	for {
		sig, err := observe(ctx, c, ns, names, state, start)
		if err != nil {
			return "", err
		}
		if sig != lastSig {
			lastSig, lastChange = sig, time.Now()
		}
		done := 0
		for _, a := range state {
			if a.phase == v1.PodSucceeded || a.phase == v1.PodFailed {
				done++
			}
		}
		if done == len(names) || time.Since(lastChange) > stall || time.Since(start) > timeout {
			break
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}

	finished := 0
	for _, name := range names {
		a := state[name]
		if a == nil {
			fmt.Printf("  %s  no driver pod\n", name)
			continue
		}
		if a.phase == v1.PodSucceeded {
			finished++
			if log, err := k.Log(ns, a.driver); err == nil {
				a.result = piLine.FindString(log)
			}
			fmt.Printf("  %s  finished %3.0fs after submission   %s\n", name, a.finished.Seconds(), a.result)
			continue
		}
		where := "not bound"
		if a.node != "" {
			where = "bound on " + a.node
		}
		fmt.Printf("  %s  driver %s, %s; %d of its %d executors bound\n", name, a.phase, where, a.bound, a.executors)
	}
	var line string
	if finished == len(names) {
		line = fmt.Sprintf("%-34s %d/%d apps finished, in %.0fs", label+":", finished, len(names), time.Since(start).Seconds())
	} else {
		drivers, pending := 0, 0
		for _, a := range state {
			if a.node != "" && a.phase != v1.PodSucceeded {
				drivers++
			}
			pending += a.executors - a.bound
		}
		line = fmt.Sprintf("%-34s %d/%d apps finished; %d drivers hold their room and %d executors wait, nothing moved for %s: deadlock",
			label+":", finished, len(names), drivers, pending, stall)
	}
	fmt.Printf("  %s\n\n", line)
	return line, nil
}

var piLine = regexp.MustCompile(`Pi is roughly [0-9.]+`)

// submitAll runs spark-submit for every app at once, as independent users
// would, and returns once every driver pod is created.
func submitAll(ctx context.Context, k *cluster.ProcessKubelet, ns, dir string, names []string) error {
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append([]string{"--deploy-mode", "cluster", "--conf", "spark.kubernetes.submission.waitAppCompletion=false"}, appConf...)
			_, errs[i] = k.SparkSubmit(ctx, ns, name, dir, args, "local:///opt/spark/examples/src/main/python/pi.py", "10")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// observe updates state from the namespace's pods and returns a signature
// of what is bound and finished, which changes when anything moves.
func observe(ctx context.Context, c *cluster.Cluster, ns string, names []string, state map[string]*app, start time.Time) (string, error) {
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	byApp := map[string]*app{} // by spark-app-selector
	for _, p := range pods.Items {
		if p.Labels["spark-role"] != "driver" {
			continue
		}
		name := p.Labels["spark-app-name"]
		a := state[name]
		if a == nil {
			a = &app{name: name}
			state[name] = a
		}
		a.driver, a.node, a.executors, a.bound = p.Name, p.Spec.NodeName, 2, 0
		if a.phase != v1.PodSucceeded && p.Status.Phase == v1.PodSucceeded {
			a.finished = time.Since(start)
		}
		a.phase = p.Status.Phase
		byApp[p.Labels["spark-app-selector"]] = a
	}
	for _, p := range pods.Items {
		if a := byApp[p.Labels["spark-app-selector"]]; a != nil && p.Labels["spark-role"] == "executor" && p.Spec.NodeName != "" {
			a.bound++
		}
	}
	var sig []string
	for _, p := range pods.Items {
		sig = append(sig, p.Name+"/"+p.Spec.NodeName+"/"+string(p.Status.Phase))
	}
	sort.Strings(sig)
	return strings.Join(sig, ","), nil
}

// sparkVersion is the version in the name of the pyspark folder.
func sparkVersion(sparkHome string) string {
	return strings.TrimPrefix(filepath.Base(filepath.Dir(sparkHome)), "pyspark-")
}
