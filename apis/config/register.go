package config

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
)

// SchemeGroupVersion is the internal version of kube-scheduler's config group.
var SchemeGroupVersion = schema.GroupVersion{Group: schedconfig.GroupName, Version: runtime.APIVersionInternal}

var (
	// localSchemeBuilder is kube-scheduler's own: registering into it puts
	// GangArgs in the scheme kube-scheduler converts plugin args with.
	localSchemeBuilder = &schedconfig.SchemeBuilder
	// AddToScheme registers kube-scheduler's internal config types, ours included.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, &GangArgs{})
	return nil
}

func init() {
	localSchemeBuilder.Register(addKnownTypes)
}
