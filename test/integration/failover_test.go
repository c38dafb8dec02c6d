package integration

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"

	configv1 "github.com/gangsched/gangsched/apis/config/v1"
	"github.com/gangsched/gangsched/manifests"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/test/cluster"
)

// binaryEnv names a gang-scheduler binary for the tests that run it as a
// process; without it, they build their own.
const binaryEnv = "GANG_SCHEDULER_BIN"

// Leader election timings for the failover test, short so that a standby
// takes over within seconds of the leader's death.
var leaderElectionFlags = []string{"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s"}

// Two replicas run with leader election, as deployed; the leader is killed
// (SIGKILL, so its Lease is not released) while groups are in flight: a
// Spark driver bound with its executors not created yet, another with its
// executors created but held, a PodGroup admitted with a member held, and
// a gang that does not fit. The standby takes over: it reserves the apps'
// room again and admits the PodGroup anew before a flood of pods without a
// group is tried, which gets only the room nobody reserved; every app and
// gang binds whole and the gang that does not fit stays unbound whole; the
// new leader writes PodGroup status.
func TestLeaderFailover(t *testing.T) {
	e := newEnvWithOptions(t, nil, cluster.Options{Flags: []string{cluster.NoPeerProxyFlag}})
	bin := schedulerBinary(t)
	leader := startBinaryScheduler(t, e.c, bin, "leader")
	first := e.waitLeader("")
	standby := startBinaryScheduler(t, e.c, bin, "standby")
	waitHealthy(t, standby)

	f := e.startInFlight()
	// The new leader learns of the apps' reservations from the deadline
	// the leader wrote on each driver before binding it.
	for _, d := range f.drivers {
		if e.get(d.Name).Annotations[podgroup.AnnotationReservedUntil] == "" {
			t.Errorf("driver %s was bound without %s", d.Name, podgroup.AnnotationReservedUntil)
		}
	}
	e.waitEvents("PodGroup", "trio", podgroup.ReasonAdmitted, 1)
	if n := e.bound("trio-0", "trio-1"); n != 0 {
		t.Fatalf("%d trio members bound before minMember were placed", n)
	}

	leader.Kill(t)
	e.waitLeader(first)
	// The new leader admits the trio again (its first admission was in
	// the dead leader's memory) before the flood comes.
	e.waitEvents("PodGroup", "trio", podgroup.ReasonAdmitted, 2)

	f.finish(e)
	for _, d := range f.drivers {
		e.waitEvent("Pod", d.Name, podgroup.ReasonRestored, "reserved again")
	}

	// The new leader writes PodGroup status: play the kubelet, the trio
	// runs, and its PodGroup says so.
	for _, name := range []string{"trio-0", "trio-1", "trio-2"} {
		p := e.get(name)
		p.Status.Phase = v1.PodRunning
		if _, err := e.c.Client.CoreV1().Pods(e.ns).UpdateStatus(e.ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitPodGroup("trio", func(s schedv1alpha1.PodGroupStatus) bool {
		return s.Phase == schedv1alpha1.PodGroupRunning && s.Running == 3
	})
}

// schedulerBinary returns the gang-scheduler binary named by
// GANG_SCHEDULER_BIN, or builds one for the test.
func schedulerBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv(binaryEnv); bin != "" {
		return bin
	}
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "gang-scheduler")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gang-scheduler")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building gang-scheduler: %v\n%s", err, out)
	}
	return bin
}

// startBinaryScheduler runs bin with the shipped configuration (leader
// election on, short retry backoffs) and short leader election timings,
// until it is killed or the test ends.
func startBinaryScheduler(t *testing.T, c *cluster.Cluster, bin, name string) *cluster.Scheduler {
	t.Helper()
	cfg, err := manifests.SchedulerConfig(manifests.RenderOptions{Kubeconfig: c.KubeconfigPath, LeaderElect: true, Args: func(a *configv1.GangArgs) {
		a.RetryBackoffSeconds = ptr.To[int64](1)
		a.MaxRetryBackoffSeconds = ptr.To[int64](2)
	}})
	if err != nil {
		t.Fatal(err)
	}
	return cluster.StartScheduler(t, bin, c.KubeconfigPath, name, cfg, leaderElectionFlags...)
}

// waitHealthy waits until the scheduler serves /healthz, which a standby
// does too.
func waitHealthy(t *testing.T, s *cluster.Scheduler) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		code, _ := s.Get("/healthz")
		return code == http.StatusOK, nil
	}); err != nil {
		t.Fatalf("the %s scheduler does not serve /healthz", s.Name())
	}
}

// waitLeader waits until the gang-scheduler Lease is held by someone other
// than not ("" for anyone), and returns the holder.
func (e *env) waitLeader(not string) string {
	e.t.Helper()
	var holder string
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		lease, err := e.c.Client.CoordinationV1().Leases("kube-system").Get(ctx, "gang-scheduler", metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			return false, nil
		}
		holder = *lease.Spec.HolderIdentity
		return holder != "" && holder != not, nil
	}); err != nil {
		e.t.Fatalf("the gang-scheduler Lease is held by %q, want a leader other than %q", holder, not)
	}
	return holder
}

// waitEvents waits until at least n Events with reason were recorded on the
// named object in the test's namespace (each scheduler instance records its
// own).
func (e *env) waitEvents(kind, name, reason string, n int) {
	e.t.Helper()
	got := 0
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := e.c.Client.EventsV1().Events(e.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		got = 0
		for _, ev := range list.Items {
			if ev.Regarding.Kind == kind && ev.Regarding.Name == name && ev.Reason == reason {
				got++
			}
		}
		return got >= n, nil
	}); err != nil {
		e.t.Fatalf("%d %s Events on %s %s, want %d", got, reason, kind, name, n)
	}
}
