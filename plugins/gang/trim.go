package gang

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
)

// trimManagedFields drops .metadata.managedFields from the objects the
// plugin's own informers keep, as kube-scheduler does for its pod
// informer: nothing here reads them (status updates without them keep the
// server's). Members of PodGroups are kept a second time, by a pod informer
// of the plugin's own that also sees the pods that ended, so this matters
// most for them (bench/RESULTS.md, make bench-large at 5,000 nodes).
func trimManagedFields(obj interface{}) (interface{}, error) {
	if accessor, err := meta.Accessor(obj); err == nil && accessor.GetManagedFields() != nil {
		accessor.SetManagedFields(nil)
	}
	return obj, nil
}

// trimMember is trimManagedFields for member pods, which also drops what
// their containers carry that no scheduling decision reads: environment,
// command and arguments, probes and lifecycle hooks (a Spark executor
// carries a dozen or more variables). Everything else stays (requests,
// ports, images, volumes, affinity, tolerations): members not yet placed
// are planned with the profile's filters on the pod kept here.
func trimMember(obj interface{}) (interface{}, error) {
	obj, _ = trimManagedFields(obj)
	if pod, ok := obj.(*v1.Pod); ok {
		trimContainers(pod.Spec.InitContainers)
		trimContainers(pod.Spec.Containers)
	}
	return obj, nil
}

func trimContainers(cs []v1.Container) {
	for i := range cs {
		c := &cs[i]
		c.Env, c.EnvFrom, c.Command, c.Args = nil, nil, nil, nil
		c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil
	}
}
