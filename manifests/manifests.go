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

// RenderOptions adapt the shipped configuration to where a scheduler runs.
type RenderOptions struct {
	// Kubeconfig is the API server to talk to.
	Kubeconfig string
	// Stock replaces gangsched's profile by kube-scheduler's default one
	// (same scheduler name, no Gang plugin), for comparisons on identical
	// input.
	Stock bool
	// LeaderElect keeps leader election (and delayCacheUntilActive) as
	// shipped; otherwise both are off.
	LeaderElect bool
	// Args changes the Gang arguments; nil leaves them as shipped.
	Args func(*configv1.GangArgs)
}

// SchedulerConfig returns the shipped configuration adapted by o.
func SchedulerConfig(o RenderOptions) ([]byte, error) {
	var cfg schedconfigv1.KubeSchedulerConfiguration
	if err := yaml.UnmarshalStrict(SchedulerConfigYAML, &cfg); err != nil {
		return nil, fmt.Errorf("reading scheduler-config.yaml: %w", err)
	}
	cfg.ClientConnection.Kubeconfig = o.Kubeconfig
	if !o.LeaderElect {
		cfg.LeaderElection.LeaderElect = ptr.To(false)
		cfg.DelayCacheUntilActive = false
	}
	for i := range cfg.Profiles {
		prof := &cfg.Profiles[i]
		if o.Stock {
			prof.Plugins, prof.PluginConfig = nil, nil
			continue
		}
		for j := range prof.PluginConfig {
			pc := &prof.PluginConfig[j]
			if pc.Name != names.Gang || o.Args == nil {
				continue
			}
			var gang configv1.GangArgs
			if err := json.Unmarshal(pc.Args.Raw, &gang); err != nil {
				return nil, fmt.Errorf("reading Gang args: %w", err)
			}
			o.Args(&gang)
			raw, err := json.Marshal(&gang)
			if err != nil {
				return nil, err
			}
			pc.Args.Raw = raw
		}
	}
	return yaml.Marshal(&cfg)
}
