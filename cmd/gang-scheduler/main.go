// Command gang-scheduler is kube-scheduler with gangsched's plugins: run it
// beside the default scheduler with a KubeSchedulerConfiguration whose
// profile is named gang-scheduler (see manifests/), and pods opt in with
// schedulerName: gang-scheduler. Every kube-scheduler flag works as usual.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"

	_ "github.com/gangsched/gangsched/apis/config/scheme"
	"github.com/gangsched/gangsched/plugins"
)

func main() {
	os.Exit(cli.Run(app.NewSchedulerCommand(plugins.Options()...)))
}
