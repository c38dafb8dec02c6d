//go:build perf

package perf

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

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
	stop := watchRequests()
	code := m.Run()
	stop()
	os.Exit(code)
}

// watchRequests prints, for each test case, the API server's count of the
// writes it served (apiserver_request_total in this process's registry:
// creates, updates, patches and deletes by resource) to bench.log: what
// each scheduler writes per pod is where their costs part. Every test case
// starts its own API server, which starts the counts again; the counts are
// read every 2 s (a read gathers the whole metrics registry: every 200 ms
// it took 5 % of the process's CPU) and printed when they fall, and at the
// end.
func watchRequests() (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		var last map[string]float64
		n := 0
		print := func() {
			n++
			for _, k := range slices.Sorted(maps.Keys(last)) {
				fmt.Printf("api writes, test case %d: %s %.0f\n", n, k, last[k])
			}
		}
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				print()
				return
			case <-tick.C:
			}
			now := cluster.APIWrites()
			if total(now) < total(last) {
				print()
			}
			last = now
		}
	}()
	return func() { close(done); <-exited }
}

func total(counts map[string]float64) float64 {
	var t float64
	for _, v := range counts {
		t += v
	}
	return t
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
