package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gangsched/gangsched/manifests"
	"github.com/gangsched/gangsched/test/cluster"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// The binary runs with the shipped configuration and standard kube-scheduler
// flags: it takes the leader Lease, serves /healthz and /metrics on its
// secure port, and schedules a group whole.
func TestBinaryWithShippedConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := cluster.Start(t)
	crd, err := cluster.PodGroupCRDPath()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.InstallCRDs(ctx, crd); err != nil {
		t.Fatal(err)
	}
	get := startBinary(t, c)

	// It becomes leader.
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		lease, err := c.Client.CoordinationV1().Leases("kube-system").Get(ctx, "gang-scheduler", metav1.GetOptions{})
		return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "", nil
	}); err != nil {
		t.Fatalf("no leader Lease kube-system/gang-scheduler: %v", err)
	}

	// It serves health and metrics on the secure port.
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		code, _ := get("/healthz")
		return code == http.StatusOK, nil
	}); err != nil {
		code, body := get("/healthz")
		t.Fatalf("/healthz: %d %s", code, body)
	}

	// It schedules a group whole.
	if _, err := c.CreateNodes(ctx, "n", 2, v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("16Gi")}, nil); err != nil {
		t.Fatal(err)
	}
	ns, err := c.CreateNamespace(ctx, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	pg := w.MakePodGroup(ns, "pair").MinMember(2).Obj()
	if _, err := c.PodGroups.SchedulingV1alpha1().PodGroups(ns).Create(ctx, pg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		p := w.MakePod(ns, fmt.Sprintf("pair-%d", i)).Group("pair").Req("cpu", "3").Obj()
		p.UID = ""
		if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		bound := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		return bound == 2, nil
	}); err != nil {
		t.Fatalf("the pair was not scheduled: %v", err)
	}

	code, body := get("/metrics")
	if code != http.StatusOK || !strings.Contains(body, `scheduler_schedule_attempts_total{profile="gang-scheduler",result="scheduled"}`) {
		t.Errorf("/metrics: %d, no scheduled attempts of profile gang-scheduler in:\n%s", code, cluster.Tail(body, 20))
	}
}

// startBinary runs the gang-scheduler binary against c with the shipped
// configuration (leader election on) and standard flags, until the test
// ends; get fetches a path from its secure port.
func startBinary(t *testing.T, c *cluster.Cluster) (get func(path string) (int, string)) {
	t.Helper()
	return startBinaryAs(t, c.KubeconfigPath)
}

// startBinaryAs is startBinary with the identity of kubeconfig, for the
// scheduler's client and for its delegated authentication and
// authorization alike.
func startBinaryAs(t *testing.T, kubeconfig string) (get func(path string) (int, string)) {
	t.Helper()
	cfg, err := manifests.SchedulerConfig(manifests.RenderOptions{Kubeconfig: kubeconfig, LeaderElect: true})
	if err != nil {
		t.Fatal(err)
	}
	return cluster.StartScheduler(t, binary, kubeconfig, "gang-scheduler", cfg).Get
}
