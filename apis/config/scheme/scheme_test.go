package scheme_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/kubernetes/cmd/kube-scheduler/app/options"

	"github.com/gangsched/gangsched/apis/config"
	_ "github.com/gangsched/gangsched/apis/config/scheme"
)

// The configuration shipped in manifests/ decodes, with typed and defaulted
// Gang arguments, through kube-scheduler's own loader.
func TestShippedConfigDecodes(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	cfg, err := options.LoadConfigFromFile(logger, "../../../manifests/scheduler-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Profiles) != 1 || cfg.Profiles[0].SchedulerName != "gang-scheduler" {
		t.Fatalf("profiles = %+v, want one named gang-scheduler", cfg.Profiles)
	}
	var args *config.GangArgs
	for _, pc := range cfg.Profiles[0].PluginConfig {
		if pc.Name == "Gang" {
			a, ok := pc.Args.(*config.GangArgs)
			if !ok {
				t.Fatalf("Gang args decoded as %T", pc.Args)
			}
			args = a
		}
	}
	want := &config.GangArgs{PermitTimeoutSeconds: 60, ReservationTimeoutSeconds: 300, RetryBackoffSeconds: 1, MaxRetryBackoffSeconds: 60}
	if diff := cmp.Diff(want, args, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "TypeMeta" }, cmp.Ignore())); diff != "" {
		t.Errorf("Gang args (-want,+got):\n%s", diff)
	}
}
