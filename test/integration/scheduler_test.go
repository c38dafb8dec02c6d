package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/component-base/configz"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
	"k8s.io/kubernetes/cmd/kube-scheduler/app/options"

	_ "github.com/gangsched/gangsched/apis/config/scheme"
	"github.com/gangsched/gangsched/plugins"
	"github.com/gangsched/gangsched/test/cluster"
)

// gangConfig is the scheduler configuration of manifests/, without leader
// election, with short timeouts for tests; args are extra GangArgs lines.
func gangConfig(args string) string {
	return `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: false
profiles:
  - schedulerName: gang-scheduler
    plugins:
      multiPoint:
        enabled:
          - name: Gang
            weight: 5
        disabled:
          - name: PrioritySort
    pluginConfig:
      - name: Gang
        args:
          apiVersion: kubescheduler.config.k8s.io/v1
          kind: GangArgs
          retryBackoffSeconds: 1
          maxRetryBackoffSeconds: 2
` + indent(args, "          ")
}

// defaultConfig is a stock kube-scheduler profile answering to the same
// scheduler name, for comparisons on identical input.
const defaultConfig = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: false
profiles:
  - schedulerName: gang-scheduler
`

func indent(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString(prefix + strings.TrimSpace(line) + "\n")
		}
	}
	return b.String()
}

// startScheduler runs the scheduler in-process against c with the given
// configuration, the way cmd/gang-scheduler's main does (app.Setup and
// app.Run with gangsched's plugins), until the test ends.
func startScheduler(t *testing.T, c *cluster.Cluster, config string) {
	t.Helper()
	dir := t.TempDir()
	configPath := filepath.Join(dir, "config.yaml")
	// With --config, kube-scheduler takes the kubeconfig from the file only.
	config += "clientConnection:\n  kubeconfig: " + c.KubeconfigPath + "\n"
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
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
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("scheduler did not stop within 30s")
		}
		configz.Delete("componentconfig")
	})
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return sched.WaitForHandlersSync(ctx) == nil, nil
	}); err != nil {
		t.Fatalf("scheduler informers did not sync: %v", err)
	}
}
