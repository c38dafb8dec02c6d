package integration

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/component-base/configz"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
	"k8s.io/kubernetes/cmd/kube-scheduler/app/options"
	"k8s.io/kubernetes/pkg/scheduler"
	"k8s.io/utils/ptr"

	_ "github.com/gangsched/gangsched/apis/config/scheme"
	configv1 "github.com/gangsched/gangsched/apis/config/v1"
	"github.com/gangsched/gangsched/manifests"
	"github.com/gangsched/gangsched/plugins"
	"github.com/gangsched/gangsched/test/cluster"
)

// gangConfig is the shipped configuration (manifests/) with short retry
// backoffs for tests, changed further by args.
func gangConfig(args func(*configv1.GangArgs)) schedulerConfig {
	return func(kubeconfig string) ([]byte, error) {
		return manifests.SchedulerConfig(manifests.RenderOptions{Kubeconfig: kubeconfig, Args: func(a *configv1.GangArgs) {
			a.RetryBackoffSeconds = ptr.To[int64](1)
			a.MaxRetryBackoffSeconds = ptr.To[int64](2)
			if args != nil {
				args(a)
			}
		}})
	}
}

// defaultConfig is kube-scheduler's stock profile under the same scheduler
// name, for comparisons on identical input.
func defaultConfig(kubeconfig string) ([]byte, error) {
	return manifests.SchedulerConfig(manifests.RenderOptions{Kubeconfig: kubeconfig, Stock: true})
}

// schedulerConfig renders a configuration for a kubeconfig.
type schedulerConfig func(kubeconfig string) ([]byte, error)

// startScheduler runs the scheduler in-process against c with the given
// configuration, the way cmd/gang-scheduler's main does (app.Setup and
// app.Run with gangsched's plugins), until stop is called or the test ends.
func startScheduler(t *testing.T, c *cluster.Cluster, render schedulerConfig) (stop func()) {
	t.Helper()
	_, stop = runScheduler(t, c, render)
	return stop
}

// runScheduler is startScheduler that also returns the scheduler, for tests
// that look at what it holds (such as pods waiting in Permit).
func runScheduler(t *testing.T, c *cluster.Cluster, render schedulerConfig) (_ *scheduler.Scheduler, stop func()) {
	t.Helper()
	dir := t.TempDir()
	configPath := filepath.Join(dir, "config.yaml")
	config, err := render(c.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(configPath, config, 0o600); err != nil {
		t.Fatal(err)
	}
	opts := options.NewOptions()
	fs := pflag.NewFlagSet("gang-scheduler", pflag.ContinueOnError)
	for _, f := range opts.Flags.FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse([]string{
		"--config=" + configPath,
		"--secure-port=0",
	}); err != nil {
		t.Fatal(err)
	}
	if err := opts.ComponentGlobalsRegistry.Set(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), klog.Background()))
	cc, sched, err := app.Setup(ctx, opts, plugins.Options()...)
	if err != nil {
		cancel()
		t.Fatalf("setting up the scheduler: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Run(ctx, cc, sched)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("scheduler did not stop within 30s")
			}
			configz.Delete("componentconfig")
		})
	}
	t.Cleanup(stop)
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return sched.WaitForHandlersSync(ctx) == nil, nil
	}); err != nil {
		t.Fatalf("scheduler informers did not sync: %v", err)
	}
	return sched, stop
}
