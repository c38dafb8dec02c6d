//go:build perf

package perf

import (
	"context"
	"fmt"
	"os"
	"testing"

	apiextensionsclientset "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	_ "k8s.io/component-base/logs/json/register"
	fwk "k8s.io/kube-scheduler/framework"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	perf "k8s.io/kubernetes/test/integration/scheduler_perf"

	_ "github.com/gangsched/gangsched/apis/config/scheme"
	"github.com/gangsched/gangsched/plugins"
	"github.com/gangsched/gangsched/plugins/gang"
	"github.com/gangsched/gangsched/test/cluster"
)

func TestMain(m *testing.M) {
	if err := perf.InitTests(); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		os.Exit(1)
	}
	// Collect scheduler_plugin_execution_duration_seconds for Gang too.
	perf.PluginNames = append(perf.PluginNames, gang.Name)
	os.Exit(m.Run())
}

// BenchmarkPerfScheduling runs every test case of performance-config.yaml
// that -perf-scheduling-label-filter selects, with gangsched's plugins
// registered out of tree. Results go to -data-items-dir as
// BenchmarkPerfScheduling_benchmark_gangsched_<time>.json.
func BenchmarkPerfScheduling(b *testing.B) {
	perf.RunBenchmarkPerfScheduling(b, "performance-config.yaml", "gangsched", registry())
}

// registry is plugins.NewRegistry with each factory first installing the
// CRDs gangsched watches (PodGroup, ElasticQuota, Queue) into the test API
// server. scheduler_perf starts a fresh API server per workload and builds
// the scheduler right after it, with no hook in between; a factory is the
// first code of ours that runs against that server, and only for profiles
// that use gangsched's plugins. Installing here is what a deployment does
// (CRDs applied before the scheduler starts): without it the plugin would
// find no PodGroup API and look again only every 30 s.
func registry() frameworkruntime.Registry {
	r := frameworkruntime.Registry{}
	for name, factory := range plugins.NewRegistry() {
		r[name] = func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
			if err := installCRDs(ctx, h); err != nil {
				return nil, fmt.Errorf("installing gangsched's CRDs for %s: %w", name, err)
			}
			return factory(ctx, obj, h)
		}
	}
	return r
}

// installCRDs installs gangsched's CRDs through h's API server and waits
// until they are served (test/cluster InstallGangschedCRDs).
func installCRDs(ctx context.Context, h fwk.Handle) error {
	cfg := cluster.JSONConfig(h.KubeConfig())
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	apiext, err := apiextensionsclientset.NewForConfig(cfg)
	if err != nil {
		return err
	}
	c := &cluster.Cluster{Config: cfg, Client: client, APIExtensions: apiext}
	return c.InstallGangschedCRDs(ctx)
}
