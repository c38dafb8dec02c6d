// Package scheme adds gangsched's plugin argument types to kube-scheduler's
// config scheme, so a KubeSchedulerConfiguration's pluginConfig can carry
// them. The scheduler's main imports it for its side effect.
package scheme

import (
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	kubeschedulerscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"

	"github.com/gangsched/gangsched/apis/config"
	configv1 "github.com/gangsched/gangsched/apis/config/v1"
)

func init() {
	utilruntime.Must(config.AddToScheme(kubeschedulerscheme.Scheme))
	utilruntime.Must(configv1.AddToScheme(kubeschedulerscheme.Scheme))
}
