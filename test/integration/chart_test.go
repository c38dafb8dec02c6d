package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/kubernetes/cmd/kube-scheduler/app/options"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"

	"github.com/gangsched/gangsched/apis/config"
	"github.com/gangsched/gangsched/test/cluster"
)

// helmEnv names the Helm CLI (make helm builds it from hack/tools/helm).
const helmEnv = "HELM_BIN"

// chartNamespace is where the chart is installed, the namespace of the
// kustomize manifests.
const chartNamespace = "gangsched-system"

// helm returns a function running the Helm CLI in the repository root, or
// skips the test when no Helm was built.
func helm(t *testing.T) func(args ...string) ([]byte, error) {
	t.Helper()
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := cluster.Tool(t, helmEnv, "helm")
	home := t.TempDir()
	return func(args ...string) ([]byte, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = root
		// Helm's caches and settings in the test's own directory.
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Logf("helm %s: %s", strings.Join(args, " "), stderr.String())
		}
		return out, err
	}
}

// chartPath is the chart, relative to the repository root.
const chartPath = "manifests/chart/gang-scheduler"

// rendering indexes a rendering's objects by kind, namespace and name.
type rendering struct {
	objs  map[string]*unstructured.Unstructured
	typed map[string]runtime.Object
}

func index(t *testing.T, rendered []byte) rendering {
	objs, typed := decodeManifests(t, rendered)
	r := rendering{objs: map[string]*unstructured.Unstructured{}, typed: map[string]runtime.Object{}}
	for i, u := range objs {
		key := u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
		if _, dup := r.objs[key]; dup {
			t.Errorf("%s rendered twice", key)
		}
		r.objs[key], r.typed[key] = u, typed[i]
	}
	return r
}

// loadSchedulerConfig runs the configuration in a rendering's ConfigMap
// through kube-scheduler's own loader.
func loadSchedulerConfig(t *testing.T, r rendering) *schedconfig.KubeSchedulerConfiguration {
	t.Helper()
	cm, ok := r.typed["ConfigMap "+chartNamespace+"/gang-scheduler-config"].(*v1.ConfigMap)
	if !ok {
		t.Fatal("no ConfigMap gang-scheduler-config rendered")
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cm.Data["scheduler-config.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	logger, _ := ktesting.NewTestContext(t)
	cfg, err := options.LoadConfigFromFile(logger, path)
	if err != nil {
		t.Fatalf("kube-scheduler rejects the configuration: %v\n%s", err, cm.Data["scheduler-config.yaml"])
	}
	return cfg
}

// The chart, rendered by Helm with its default values, holds what the
// kustomize manifests hold (but the Namespace, which helm install
// --create-namespace makes): the same RBAC, the same pod spec, a
// configuration kube-scheduler loads to the same thing, the same CRDs and
// default Queue. Values change what they say (the Grafana dashboard's
// ConfigMap among them), and helm install applies the chart to a real API
// server.
func TestChartMatchesManifests(t *testing.T) {
	ctx := context.Background()
	run := helm(t)
	out, err := run("lint", "--strict", chartPath)
	if err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	out, err = run("template", "gang-scheduler", chartPath, "--namespace", chartNamespace, "--include-crds")
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	chart, kustomize := index(t, out), index(t, renderManifests(t))

	// The same objects, but the Namespace.
	for key := range kustomize.objs {
		if _, ok := chart.objs[key]; !ok && !strings.HasPrefix(key, "Namespace ") {
			t.Errorf("the chart does not render %s", key)
		}
	}
	for key := range chart.objs {
		if _, ok := kustomize.objs[key]; !ok {
			t.Errorf("the chart renders %s, which manifests/ does not hold", key)
		}
	}

	// The same RBAC: rules of each role, role and subjects of each binding.
	for key, obj := range kustomize.typed {
		got := chart.typed[key]
		var diff string
		switch want := obj.(type) {
		case *rbacv1.ClusterRole:
			if got, ok := got.(*rbacv1.ClusterRole); ok {
				diff = cmp.Diff(want.Rules, got.Rules)
			}
		case *rbacv1.Role:
			if got, ok := got.(*rbacv1.Role); ok {
				diff = cmp.Diff(want.Rules, got.Rules)
			}
		case *rbacv1.ClusterRoleBinding:
			if got, ok := got.(*rbacv1.ClusterRoleBinding); ok {
				diff = cmp.Diff(want.RoleRef, got.RoleRef) + cmp.Diff(want.Subjects, got.Subjects)
			}
		case *rbacv1.RoleBinding:
			if got, ok := got.(*rbacv1.RoleBinding); ok {
				diff = cmp.Diff(want.RoleRef, got.RoleRef) + cmp.Diff(want.Subjects, got.Subjects)
			}
		case *appsv1.Deployment:
			if got, ok := got.(*appsv1.Deployment); ok {
				diff = cmp.Diff(want.Spec.Template.Spec, got.Spec.Template.Spec) + cmp.Diff(want.Spec.Replicas, got.Spec.Replicas) +
					cmp.Diff(want.Spec.Selector, got.Spec.Selector)
			}
		default:
			switch obj.GetObjectKind().GroupVersionKind().Kind {
			case "CustomResourceDefinition", "Queue":
				diff = cmp.Diff(kustomize.objs[key].Object["spec"], chart.objs[key].Object["spec"])
			}
		}
		if diff != "" {
			t.Errorf("%s differs between manifests/ and the chart (-manifests +chart):\n%s", key, diff)
		}
	}
	if d := cmp.Diff(loadSchedulerConfig(t, kustomize), loadSchedulerConfig(t, chart)); d != "" {
		t.Errorf("the chart's scheduler configuration loads differently from manifests/scheduler-config.yaml (-manifests +chart):\n%s", d)
	}

	// Values do what they say.
	out, err = run("template", "gang-scheduler", chartPath, "--namespace", chartNamespace,
		"--set", "schedulerName=spark-gang,replicas=1,image.tag=dev,gangArgs.permitTimeoutSeconds=30,gangArgs.maxAdmitAhead=4,leaderElection.enabled=false",
		"--set", "grafanaDashboard.enabled=true")
	if err != nil {
		t.Fatalf("helm template with values: %v", err)
	}
	set := index(t, out)
	cfg := loadSchedulerConfig(t, set)
	args, _ := cfg.Profiles[0].PluginConfig[0].Args.(*config.GangArgs)
	if cfg.Profiles[0].SchedulerName != "spark-gang" || cfg.LeaderElection.LeaderElect || cfg.DelayCacheUntilActive ||
		args == nil || args.PermitTimeoutSeconds != 30 || args.MaxAdmitAhead != 4 || args.ReservationTimeoutSeconds != 300 {
		t.Errorf("values not in the configuration: scheduler %q, leader election %v, Gang args %+v", cfg.Profiles[0].SchedulerName, cfg.LeaderElection.LeaderElect, args)
	}
	deploy, _ := set.typed["Deployment "+chartNamespace+"/gang-scheduler"].(*appsv1.Deployment)
	if deploy == nil || *deploy.Spec.Replicas != 1 || deploy.Spec.Template.Spec.Containers[0].Image != "ghcr.io/gangsched/gang-scheduler:dev" {
		t.Errorf("replicas and image.tag not in the Deployment: %+v", deploy)
	}

	dash, _ := set.typed["ConfigMap "+chartNamespace+"/gang-scheduler-dashboard"].(*v1.ConfigMap)
	root, _ := cluster.RepoRoot()
	want, err := os.ReadFile(filepath.Join(root, "manifests", "dashboards", "gangsched.json"))
	if err != nil {
		t.Fatal(err)
	}
	if dash == nil || dash.Labels["grafana_dashboard"] != "1" || strings.TrimSpace(dash.Data["gangsched.json"]) != strings.TrimSpace(string(want)) {
		t.Errorf("grafanaDashboard.enabled: no ConfigMap labelled grafana_dashboard holding manifests/dashboards/gangsched.json")
	}

	// helm install on a real API server: CRDs first, then the rest, in a
	// namespace it creates; helm uninstall removes it again.
	cl := cluster.Start(t)
	install := []string{"install", "gang-scheduler", chartPath, "--namespace", chartNamespace, "--create-namespace", "--kubeconfig", cl.KubeconfigPath}
	if out, err := run(install...); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cl.Client.Discovery()))
	for key, u := range chart.objs {
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			mapper.Reset()
			_, err := objectClient(t, mapper, cl, u).Get(ctx, u.GetName(), metav1.GetOptions{})
			return err == nil, nil
		}); err != nil {
			t.Errorf("%s not on the API server after helm install", key)
		}
	}
	if out, err := run("uninstall", "gang-scheduler", "--namespace", chartNamespace, "--kubeconfig", cl.KubeconfigPath, "--wait"); err != nil {
		t.Fatalf("helm uninstall: %v\n%s", err, out)
	}
	if _, err := cl.Client.RbacV1().ClusterRoles().Get(ctx, "gangsched:gang-scheduler", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRole gangsched:gang-scheduler after helm uninstall: %v", err)
	}
}
