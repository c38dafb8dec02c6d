// +k8s:deepcopy-gen=package

// Package config holds the internal types of gangsched's plugin arguments,
// registered in kube-scheduler's config group (kubescheduler.config.k8s.io)
// as out-of-tree plugins do.
package config
