package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/gangsched/gangsched/test/cluster"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// After a scenario with an admission, a preemption and a permit timeout,
// the scheduler's /metrics endpoint reports them: admission latency,
// preemption victims, releases, reservation hold times, and per-queue
// pending groups and resources; every query of the Grafana dashboard
// (manifests/dashboards) selects metrics it serves; and `kubectl gang
// status` shows the queue and a waiting group with its reason.
func TestMetricsAfterScenario(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := cluster.Start(t)
	if err := c.InstallGangschedCRDs(ctx); err != nil {
		t.Fatal(err)
	}
	get := startBinary(t, c)
	ns := scenario(ctx, t, c, "metrics", 1)
	// group creates a PodGroup of minMember n and its first pods members;
	// the last is held by a scheduling gate if gated.
	group := func(name string, n, pods int, cpu, class string, timeout int32, gated bool) {
		pg := w.MakePodGroup(ns, name).MinMember(int32(n)).Obj()
		if timeout > 0 {
			pg.Spec.ScheduleTimeoutSeconds = ptr.To(timeout)
		}
		if _, err := c.PodGroups.SchedulingV1alpha1().PodGroups(ns).Create(ctx, pg, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < pods; i++ {
			p := w.MakePod(ns, fmt.Sprintf("%s-%d", name, i)).Group(name).Req("cpu", cpu).Obj()
			p.UID, p.Spec.PriorityClassName = "", class
			if gated && i == pods-1 {
				p.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/hold"}}
			}
			if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Play the kubelet's part in deletion: terminating pods go.
	go func() {
		_ = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err == nil {
				for _, p := range pods.Items {
					if p.DeletionTimestamp != nil {
						_ = c.Client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
					}
				}
			}
			return false, nil
		})
	}()
	bound := func(names ...string) bool {
		for _, n := range names {
			p, err := c.Client.CoreV1().Pods(ns).Get(ctx, n, metav1.GetOptions{})
			if err != nil || p.Spec.NodeName == "" {
				return false
			}
		}
		return true
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) { return cond(), nil }); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}

	group("low", 2, 2, "2", "low", 0, false)
	waitFor("the low group", func() bool { return bound("low-0", "low-1") })
	group("high", 2, 2, "2", "high", 0, false)
	waitFor("the high group to preempt the low one", func() bool { return bound("high-0", "high-1") })
	group("held", 2, 2, "0", "", 2, true) // one member never comes: permit timeout

	want := map[string]func(float64) bool{
		`gangsched_group_admission_duration_seconds_count{queue="default"}`:           func(v float64) bool { return v >= 2 },
		`gangsched_preemption_victim_groups_total{queue="default"}`:                   func(v float64) bool { return v == 1 },
		`gangsched_preemption_victim_pods_total{queue="default"}`:                     func(v float64) bool { return v == 2 },
		`gangsched_group_releases_total{reason="permit_timeout"}`:                     func(v float64) bool { return v >= 1 },
		`gangsched_reservation_hold_duration_seconds_count{outcome="used"}`:           func(v float64) bool { return v >= 1 },
		`gangsched_queue_resources{kind="allocated",queue="default",resource="cpu"}`:  func(v float64) bool { return v == 4 },
		`gangsched_queue_resources{kind="fair_share",queue="default",resource="cpu"}`: func(v float64) bool { return v == 4 },
		`gangsched_pending_groups{queue="default"}`:                                   func(v float64) bool { return v >= 0 },
		`gangsched_groups{phase="Pending"}`:                                           func(v float64) bool { return v >= 1 },
	}
	// A group that waits for a member never created, for kubectl gang.
	group("lonely", 3, 2, "0", "", 0, false)

	var body string
	missing := map[string]bool{}
	if err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(context.Context) (bool, error) {
		var code int
		code, body = get("/metrics")
		if code != http.StatusOK {
			return false, nil
		}
		clear(missing)
		for series, ok := range want {
			v, found := sample(body, series)
			if !found || !ok(v) {
				missing[series] = true
			}
		}
		return len(missing) == 0, nil
	}); err != nil {
		for series := range missing {
			v, found := sample(body, series)
			t.Errorf("%s = %v (found %v)", series, v, found)
		}
	}

	// Every query of the Grafana dashboard selects metrics served here.
	t.Run("dashboard", func(t *testing.T) { checkDashboards(t, body) })

	// Statuses and reasons are written in the background: poll until they show.
	var out []byte
	var lacks []string
	if err := wait.PollUntilContextTimeout(ctx, time.Second, 30*time.Second, true, func(context.Context) (bool, error) {
		var err error
		if out, err = exec.CommandContext(ctx, plugin, "status", "--kubeconfig", c.KubeconfigPath).CombinedOutput(); err != nil {
			return false, fmt.Errorf("kubectl gang status: %w\n%s", err, out)
		}
		lacks = lacks[:0]
		for _, want := range []string{"QUEUE", "default", "WAITING GROUP", ns + "/lonely", "has fewer than its 3 members (minMember); none is scheduled before all 3 exist"} {
			if !strings.Contains(string(out), want) {
				lacks = append(lacks, want)
			}
		}
		return len(lacks) == 0, nil
	}); err != nil {
		t.Errorf("kubectl gang status lacks %q: %v\n%s", lacks, err, out)
	}
}

// sample returns the value of one series in a Prometheus text exposition.
func sample(body, series string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}
