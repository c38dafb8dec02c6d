// +k8s:deepcopy-gen=package

// Package v1 holds the versioned (kubescheduler.config.k8s.io/v1) types of
// gangsched's plugin arguments, with their defaults and conversions.
package v1
