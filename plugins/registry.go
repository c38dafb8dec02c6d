// Package plugins registers gangsched's scheduling-framework plugins with
// kube-scheduler.
package plugins

import (
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"

	"github.com/gangsched/gangsched/plugins/gang"
)

// NewRegistry returns gangsched's out-of-tree plugins, by name.
func NewRegistry() frameworkruntime.Registry {
	return frameworkruntime.Registry{
		gang.Name: gang.New,
	}
}

// Options returns the kube-scheduler app options that register every plugin
// of NewRegistry, for app.NewSchedulerCommand or app.Setup.
func Options() []app.Option {
	var opts []app.Option
	for name, factory := range NewRegistry() {
		opts = append(opts, app.WithPlugin(name, factory))
	}
	return opts
}
