package v1

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	schedconfigv1 "k8s.io/kube-scheduler/config/v1"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
)

// SchemeGroupVersion is kube-scheduler's config group, version v1.
var SchemeGroupVersion = schema.GroupVersion{Group: schedconfig.GroupName, Version: "v1"}

var (
	// localSchemeBuilder is kube-scheduler's own v1 builder: registering into
	// it puts GangArgs, its defaults and conversions in the scheme
	// kube-scheduler decodes and converts plugin args with.
	localSchemeBuilder = &schedconfigv1.SchemeBuilder
	// AddToScheme registers kube-scheduler's v1 config types, ours included.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, &GangArgs{})
	return nil
}

func init() {
	localSchemeBuilder.Register(addKnownTypes, RegisterDefaults, RegisterConversions)
}
