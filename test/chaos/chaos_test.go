// Package chaos runs the contention workload of bench/sim through the
// gang-scheduler binary while faults strike at seeded random moments (kills,
// leader failovers, API brownouts, API server restarts), with
// the invariant checker (test/invariant) watching the API server: the
// checker must find nothing, and every app must finish. `make test` runs
// the short form with a scheduler built with the race detector
// (GANG_SCHEDULER_RACE_BIN), failing on any race it reports; `make chaos`
// the long one (-chaos.kills, -chaos.apps, -chaos.seeds).
package chaos

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	configv1 "github.com/gangsched/gangsched/apis/config/v1"
	"github.com/gangsched/gangsched/bench/sim"
	"github.com/gangsched/gangsched/manifests"
	"github.com/gangsched/gangsched/test/cluster"
	"github.com/gangsched/gangsched/test/invariant"
)

var (
	kills = flag.Int("chaos.kills", 4, "scheduler kills (SIGKILL) per run")
	seeds = flag.String("chaos.seeds", "1", "comma-separated seeds; a run per seed")
	apps  = flag.Int("chaos.apps", 14, "Spark apps per run")
)

// binary is the scheduler under test; previous, the previous release's
// (GANG_SCHEDULER_PREVIOUS_BIN, make previous-release), which the rolling
// upgrade starts from.
var binary, previous string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "gangsched-chaos-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		// A scheduler built with the race detector, when given: the
		// faults drive it down paths the unit tests do not.
		binary = os.Getenv("GANG_SCHEDULER_RACE_BIN")
		if binary == "" {
			binary, err = cluster.Binary("GANG_SCHEDULER_BIN", "./cmd/gang-scheduler", dir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		previous = os.Getenv("GANG_SCHEDULER_PREVIOUS_BIN")
		return cluster.RunMainWithoutLeakCheck(m)
	}())
}

// Fault kinds a run injects at its fault points.
const (
	// kill SIGKILLs the one scheduler and starts it again.
	kill = "kill"
	// failover runs two replicas with leader election and SIGKILLs one of
	// them (the leader or the standby), started again as a standby.
	failover = "failover"
	// apiserver restarts the API server on the same etcd, cutting every
	// connection and watch.
	apiserver = "apiserver"
	// brownout puts a proxy between the scheduler and the API server that,
	// for a few seconds from each fault point, answers 429s and 5xx, slows
	// requests down and cuts watches (brownoutProxy).
	brownout = "brownout"
	// upgrade runs two replicas of the previous release with leader
	// election and replaces them one at a time by this one, as a
	// Deployment's rolling update does: the new replica starts, then the
	// old one gets SIGTERM.
	upgrade = "upgrade"
)

// run is one chaos run.
type run struct {
	seed   int64
	fault  string
	points int
}

// The scheduler is SIGKILLed at -chaos.kills random moments of the run
// (while groups are admitted, bound half-way, preempted, released) and
// started again after up to two seconds, each time with nothing but what
// the API server holds.
func TestSchedulerKilledAtRandomMoments(t *testing.T) {
	for _, seed := range parseSeeds(t) {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { run{seed: seed, fault: kill, points: *kills}.do(t) })
	}
}

// Two replicas with leader election, as deployed; the kills fall on the
// leader or the standby, so the lease changes hands mid-run.
func TestLeaderFailoverAtRandomMoments(t *testing.T) {
	for _, seed := range parseSeeds(t) {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { run{seed: seed, fault: failover, points: *kills}.do(t) })
	}
}

// The API server is restarted at random moments (half as many as the
// kills: each takes seconds), every watch cut.
func TestAPIServerRestartedAtRandomMoments(t *testing.T) {
	for _, seed := range parseSeeds(t) {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { run{seed: seed, fault: apiserver, points: max(1, *kills/2)}.do(t) })
	}
}

// The scheduler talks to the API server through a proxy that browns out for
// five seconds from each fault point: 429s, 503s and 500s, slow answers,
// watches cut after a few seconds.
func TestAPIBrownoutsAtRandomMoments(t *testing.T) {
	for _, seed := range parseSeeds(t) {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { run{seed: seed, fault: brownout, points: *kills}.do(t) })
	}
}

// A rolling upgrade from the previous release to this one, apps in flight:
// the old leader hands over to a new replica, which must take up every
// reservation the old one held (a ReservationRestored Event on each group
// that held room for members still to come when the old leader left).
func TestRollingUpgradeWithAppsInFlight(t *testing.T) {
	if previous == "" {
		t.Skip("no previous release to upgrade from: set GANG_SCHEDULER_PREVIOUS_BIN (make previous-release builds it)")
	}
	for _, seed := range parseSeeds(t) {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) { run{seed: seed, fault: upgrade, points: 2}.do(t) })
	}
}

func parseSeeds(t *testing.T) []int64 {
	var out []int64
	for _, s := range strings.Split(*seeds, ",") {
		var n int64
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil {
			t.Fatalf("-chaos.seeds: %q is not a number", s)
		}
		out = append(out, n)
	}
	return out
}

// workload is the contention workload, small: twice the cluster's CPU in
// apps of 3-6 executors, a quarter of them of the high priority (so the
// scheduler preempts), in two queues, half declared by PodGroups.
func workload(seed int64) sim.Workload {
	return sim.Generate(sim.Spec{
		Seed: seed, Nodes: 4, NodeCPU: "8", NodeMemory: "64Gi",
		Apps: *apps, MeanInterarrival: 400 * time.Millisecond, MinExecutors: 3, MaxExecutors: 6,
		Work: 3 * time.Second, PodGroupShare: 0.5, HighPriorityShare: 0.25,
		Queues: []sim.Queue{{Name: "etl", Weight: 2, Share: 0.5}, {Name: "adhoc", Weight: 1, Share: 0.5}},
	})
}

func (r run) do(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	wl := workload(r.seed)
	env, err := sim.StartEnv(ctx, wl, sim.EnvOptions{Restartable: r.fault == apiserver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	c := env.Cluster

	checker, err := invariant.Start(ctx, c.Client, c.PodGroups, invariant.Options{
		SchedulerName: sim.SchedulerName,
		// The permit timeout (60s, as shipped), and a restart on top.
		PartialGrace: 75 * time.Second, IdleGrace: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := c.KubeconfigPath
	var proxy *brownoutProxy
	if r.fault == brownout {
		if proxy, err = startBrownoutProxy(c.Config, r.seed); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(proxy.Stop)
		kubeconfig = filepath.Join(t.TempDir(), "kubeconfig-proxied")
		if err := writeProxiedKubeconfig(kubeconfig, proxy.URL, c.Config); err != nil {
			t.Fatal(err)
		}
	}
	replicated := r.fault == failover || r.fault == upgrade
	cfg, err := manifests.SchedulerConfig(manifests.RenderOptions{Kubeconfig: kubeconfig, LeaderElect: replicated,
		Args: func(a *configv1.GangArgs) {
			a.RetryBackoffSeconds = ptr.To[int64](1)
			a.MaxRetryBackoffSeconds = ptr.To[int64](4)
		}})
	if err != nil {
		t.Fatal(err)
	}
	var flags []string
	replicas := make([]*cluster.Scheduler, 1)
	if replicated {
		replicas = make([]*cluster.Scheduler, 2)
		flags = []string{"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s"}
	}
	var all []*cluster.Scheduler
	startBinary := func(bin string) *cluster.Scheduler {
		s := cluster.StartScheduler(t, bin, kubeconfig, fmt.Sprintf("gangsched-%d", len(all)+1), cfg, flags...)
		all = append(all, s)
		return s
	}
	start := func() *cluster.Scheduler { return startBinary(binary) }
	for i := range replicas {
		if r.fault == upgrade {
			replicas[i] = startBinary(previous)
		} else {
			replicas[i] = start()
		}
	}
	// The rolling upgrade's handovers: when the old leader left, and the
	// groups that held room for members to come then.
	var handovers []handover

	type outcome struct {
		res *sim.Result
		err error
	}
	done := make(chan outcome, 1)
	simulator := sim.New(c.Client, c.PodGroups, sim.Options{
		Namespace: env.Namespace, SchedulerName: sim.SchedulerName,
		Stall: 90 * time.Second, Timeout: 5 * time.Minute, Resubmit: time.Second,
	})
	go func() {
		res, err := simulator.Run(ctx, wl)
		done <- outcome{res, err}
	}()

	// The fault points: seeded, spread over the time the apps take to
	// arrive and run without faults.
	rng := rand.New(rand.NewSource(r.seed))
	span := wl.Apps[len(wl.Apps)-1].Arrival + workTime(wl)
	points := make([]time.Duration, r.points)
	for i := range points {
		points[i] = time.Duration(rng.Int63n(int64(span)))
		if r.fault == upgrade {
			// Mid-run, while apps arrive and groups hold room.
			points[i] = span/5 + time.Duration(rng.Int63n(int64(span*2/5)))
		}
	}
	sort.Slice(points, func(i, j int) bool { return points[i] < points[j] })
	begin := time.Now()
	var log []string
	var out outcome
	finished := false
	for _, at := range points {
		select {
		case out = <-done:
			finished = true
		case <-time.After(time.Until(begin.Add(at))):
		}
		if finished {
			break
		}
		now := time.Since(begin).Round(100 * time.Millisecond)
		if r.fault == apiserver {
			if err := c.RestartAPIServer(ctx); err != nil {
				t.Fatal(err)
			}
			log = append(log, fmt.Sprintf("API server restarted at %s, back after %s", now, (time.Since(begin).Round(100*time.Millisecond)-now)))
			continue
		}
		if r.fault == brownout {
			proxy.brownout(5 * time.Second)
			log = append(log, fmt.Sprintf("brownout from %s for 5s", now))
			continue
		}
		if r.fault == upgrade {
			// The next old replica is replaced: a new one starts (the
			// surge), then the old one is terminated gracefully.
			i := len(log)
			next := start()
			time.Sleep(time.Second)
			leader := replicas[i].Leads()
			if leader {
				// The leader goes while some group holds room for
				// members to come, if one does within a few seconds.
				waitReserving(ctx, c, simulator, env.Namespace, wl, 5*time.Second)
			}
			replicas[i].Terminate()
			if leader {
				h := handover{at: time.Now()}
				if h.reserving, err = reservingGroups(ctx, c, simulator, env.Namespace, wl); err != nil {
					t.Fatal(err)
				}
				handovers = append(handovers, h)
			}
			log = append(log, fmt.Sprintf("%s (previous release, leader %v) replaced by %s at %s", replicas[i].Name(), leader, next.Name(), now))
			replicas[i] = next
			continue
		}
		i := rng.Intn(len(replicas))
		pause := time.Duration(rng.Int63n(int64(2 * time.Second)))
		replicas[i].Kill(t)
		log = append(log, fmt.Sprintf("%s killed at %s, back after %s", replicas[i].Name(), now, pause.Round(100*time.Millisecond)))
		time.Sleep(pause)
		replicas[i] = start()
	}
	if !finished {
		out = <-done
	}
	if out.err != nil {
		t.Fatal(out.err)
	}
	res := out.res
	if proxy != nil {
		t.Logf("through the proxy: %s", proxy.Counts())
	}
	t.Logf("seed %d, %s: %d of %d fault points struck before the apps were done\n  %s", r.seed, r.fault, len(log), r.points, strings.Join(log, "\n  "))
	t.Logf("%s: %d/%d apps done in %s, %d resubmitted after preemption; %d checks (%d counting reserved room), %d deletions seen only by a relist; violations: %s",
		res.Outcome, res.Completed, res.Apps, res.Makespan.Round(100*time.Millisecond), res.Resubmitted, checker.Checks(), checker.ChecksWithReservations(),
		checker.Unjudged(), checker.Report())
	if res.Completed != res.Apps {
		t.Errorf("%d of %d apps finished; stuck: %v", res.Completed, res.Apps, res.Stuck)
	}
	if vs := checker.Violations(); len(vs) > 0 {
		t.Errorf("the invariant checker found %d violations:\n%s", len(vs), checker.Report())
	}
	if checker.Checks() == 0 {
		t.Error("the invariant checker never ran")
	}
	if r.fault == upgrade {
		checkHandovers(ctx, t, c, env.Namespace, len(log), handovers)
	}
	defer func() {
		if !t.Failed() {
			return
		}
		dir, err := os.MkdirTemp("", "gangsched-chaos-logs-")
		if err != nil {
			return
		}
		for _, s := range all {
			_ = os.WriteFile(filepath.Join(dir, s.Name()+".log"), []byte(s.Log()), 0o644)
		}
		t.Logf("scheduler logs: %s", dir)
	}()
	for _, s := range all {
		if l := s.Log(); strings.Contains(l, "WARNING: DATA RACE") {
			i := strings.Index(l, "WARNING: DATA RACE")
			t.Errorf("%s reported a data race:\n%s", s.Name(), l[i:min(len(l), i+6000)])
		}
	}
}

// workTime is how long the workload's apps would take to run one after
// another on the whole cluster's CPU: the span the fault points fall in,
// after the last arrival.
func workTime(wl sim.Workload) time.Duration {
	var cpuTime float64
	for _, a := range wl.Apps {
		cpuTime += float64(a.Driver.Cpu().MilliValue()+int64(a.Executors)*a.Executor.Cpu().MilliValue()) * a.Work.Seconds()
	}
	return time.Duration(cpuTime / float64(wl.CapacityCPU()) * float64(time.Second))
}
