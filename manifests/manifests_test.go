package manifests

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/klog/v2/ktesting"
	"k8s.io/kubernetes/cmd/kube-scheduler/app/options"

	"github.com/gangsched/gangsched/apis/config"
	_ "github.com/gangsched/gangsched/apis/config/scheme"
	configv1 "github.com/gangsched/gangsched/apis/config/v1"
)

// What SchedulerConfig renders is accepted by kube-scheduler's own loader,
// with typed, defaulted and overridden Gang arguments.
func TestSchedulerConfigLoads(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	data, err := SchedulerConfig(RenderOptions{Kubeconfig: "/tmp/kubeconfig", Args: func(a *configv1.GangArgs) {
		a.PermitTimeoutSeconds = new(int64)
		*a.PermitTimeoutSeconds = 5
	}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := options.LoadConfigFromFile(logger, path)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if cfg.LeaderElection.LeaderElect || cfg.ClientConnection.Kubeconfig != "/tmp/kubeconfig" {
		t.Errorf("leaderElect=%v kubeconfig=%q", cfg.LeaderElection.LeaderElect, cfg.ClientConnection.Kubeconfig)
	}
	args, ok := cfg.Profiles[0].PluginConfig[0].Args.(*config.GangArgs)
	if !ok {
		t.Fatalf("Gang args decoded as %T", cfg.Profiles[0].PluginConfig[0].Args)
	}
	if args.PermitTimeoutSeconds != 5 || args.ReservationTimeoutSeconds != 300 {
		t.Errorf("args = %+v, want permit 5 and the shipped reservation 300", args)
	}

	stock, err := SchedulerConfig(RenderOptions{Kubeconfig: "/tmp/kubeconfig", Stock: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, stock, 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = options.LoadConfigFromFile(logger, path); err != nil {
		t.Fatal(err)
	}
	if cfg.Profiles[0].SchedulerName != "gang-scheduler" {
		t.Errorf("stock profile is named %q", cfg.Profiles[0].SchedulerName)
	}
	for _, pc := range cfg.Profiles[0].PluginConfig {
		if pc.Name == "Gang" {
			t.Error("stock profile configures Gang")
		}
	}
}
