// +k8s:deepcopy-gen=package
// +groupName=scheduling.gangsched.io

// Package v1alpha1 is gangsched's Queue API (scheduling.gangsched.io/v1alpha1):
// weighted, hierarchical queues with guaranteed and maximum resources that
// pod groups are admitted through.
package v1alpha1
