// Package manifests holds what deploys gangsched, and renders the shipped
// scheduler configuration for schedulers run outside a cluster (tests, the
// demo, the benchmark), so they all run exactly what is deployed.
package manifests

import (
	_ "embed"
	"encoding/json"
	"fmt"

	schedconfigv1 "k8s.io/kube-scheduler/config/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	configv1 "github.com/gangsched/gangsched/apis/config/v1"
	"github.com/gangsched/gangsched/plugins/names"
)

// SchedulerConfigYAML is manifests/scheduler-config.yaml: the
// KubeSchedulerConfiguration gang-scheduler is deployed with.
//
//go:embed scheduler-config.yaml
var SchedulerConfigYAML []byte

// SchedulerConfig returns the shipped configuration set up to run outside
// the cluster: the given kubeconfig, no leader election, and Gang arguments
// changed by args (nil leaves them as shipped). With stock true, the profile
// is kube-scheduler's default one instead (same scheduler name, no Gang
// plugin), for comparisons on identical input.
func SchedulerConfig(kubeconfig string, stock bool, args func(*configv1.GangArgs)) ([]byte, error) {
	var cfg schedconfigv1.KubeSchedulerConfiguration
	if err := yaml.UnmarshalStrict(SchedulerConfigYAML, &cfg); err != nil {
		return nil, fmt.Errorf("reading scheduler-config.yaml: %w", err)
	}
	cfg.ClientConnection.Kubeconfig = kubeconfig
	cfg.LeaderElection.LeaderElect = ptr.To(false)
	cfg.DelayCacheUntilActive = false
	for i := range cfg.Profiles {
		prof := &cfg.Profiles[i]
		if stock {
			prof.Plugins, prof.PluginConfig = nil, nil
			continue
		}
		for j := range prof.PluginConfig {
			pc := &prof.PluginConfig[j]
			if pc.Name != names.Gang || args == nil {
				continue
			}
			var gang configv1.GangArgs
			if err := json.Unmarshal(pc.Args.Raw, &gang); err != nil {
				return nil, fmt.Errorf("reading Gang args: %w", err)
			}
			args(&gang)
			raw, err := json.Marshal(&gang)
			if err != nil {
				return nil, err
			}
			pc.Args.Raw = raw
		}
	}
	return yaml.Marshal(&cfg)
}
