package cluster_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2/ktesting"
	_ "k8s.io/klog/v2/ktesting/init"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"

	"github.com/gangsched/gangsched/test/cluster"
)

func TestMain(m *testing.M) { os.Exit(cluster.RunMain(m)) }

// TestCluster starts an API server, installs the PodGroup CRD, and reads
// back a PodGroup and two nodes, also through the kubeconfig.
func TestCluster(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	c := cluster.Start(t)

	crd, err := cluster.PodGroupCRDPath()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.InstallCRDs(ctx, crd); err != nil {
		t.Fatal(err)
	}
	ns, err := c.CreateNamespace(ctx, "smoke")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("podgroup", func(t *testing.T) {
		pg := &schedv1alpha1.PodGroup{
			ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: ns},
			Spec:       schedv1alpha1.PodGroupSpec{MinMember: 2},
		}
		if _, err := c.PodGroups.SchedulingV1alpha1().PodGroups(ns).Create(ctx, pg, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating PodGroup: %v", err)
		}
		got, err := c.PodGroups.SchedulingV1alpha1().PodGroups(ns).Get(ctx, "pg", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("getting PodGroup: %v", err)
		}
		if diff := cmp.Diff(pg.Spec, got.Spec); diff != "" {
			t.Errorf("PodGroup spec (-want,+got):\n%s", diff)
		}
	})

	t.Run("nodes", func(t *testing.T) {
		capacity := v1.ResourceList{
			v1.ResourceCPU:    resource.MustParse("4"),
			v1.ResourceMemory: resource.MustParse("8Gi"),
		}
		if _, err := c.CreateNodes(ctx, "node", 2, capacity, map[string]string{"zone": "a"}); err != nil {
			t.Fatal(err)
		}
		wantAllocatable := v1.ResourceList{
			v1.ResourceCPU:    resource.MustParse("4"),
			v1.ResourceMemory: resource.MustParse("8Gi"),
			v1.ResourcePods:   resource.MustParse("110"),
		}
		// Read back through the kubeconfig, as an external process would.
		cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath)
		if err != nil {
			t.Fatalf("loading kubeconfig: %v", err)
		}
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"node-0", "node-1"} {
			node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("getting node: %v", err)
			}
			if diff := cmp.Diff(wantAllocatable, node.Status.Allocatable); diff != "" {
				t.Errorf("node %s allocatable (-want,+got):\n%s", name, diff)
			}
			if !nodeReady(node) || len(node.Spec.Taints) > 0 || node.Labels["zone"] != "a" {
				t.Errorf("node %s: want Ready, untainted, zone=a; got conditions %v, taints %v, labels %v",
					name, node.Status.Conditions, node.Spec.Taints, node.Labels)
			}
		}
	})
}

func nodeReady(node *v1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// TestRestartAPIServer restarts the API server of a restartable cluster:
// a watch opened before is cut, objects are still there, and clients made
// before the restart, from Config and from the kubeconfig, reach the new
// server.
func TestRestartAPIServer(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	c := cluster.StartWithOptions(t, cluster.Options{Restartable: true})
	cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath)
	if err != nil {
		t.Fatalf("loading kubeconfig: %v", err)
	}
	external, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := c.CreateNamespace(ctx, "restart")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := external.CoreV1().ConfigMaps(ns).Create(ctx, &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := c.Client.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	if err := c.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	for range w.ResultChan() {
		// Drain until the restart closes the watch.
	}
	for _, client := range []kubernetes.Interface{c.Client, external} {
		if _, err := client.CoreV1().ConfigMaps(ns).Get(ctx, "before", metav1.GetOptions{}); err != nil {
			t.Errorf("after the restart: %v", err)
		}
	}
}
