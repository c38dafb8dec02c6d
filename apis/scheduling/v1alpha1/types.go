package v1alpha1

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Label and condition names of the Queue API.
const (
	// QueueLabel, on a PodGroup or a Spark driver, names the queue its group
	// is admitted through.
	QueueLabel = "gangsched.io/queue"
	// DefaultQueue is the queue of groups that name none and whose namespace
	// no queue owns; the scheduler creates it when missing.
	DefaultQueue = "default"

	// ConditionValid is True when the queue's spec is usable; when False its
	// reason is InvalidSpec and its message names the field.
	ConditionValid = "Valid"
	// ReasonInvalidSpec is ConditionValid's reason for a spec that is not usable.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonValid is ConditionValid's reason for a usable spec.
	ReasonValid = "Valid"
)

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=gq
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Parent",type=string,JSONPath=`.spec.parent`
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.spec.weight`
// +kubebuilder:printcolumn:name="Admitted",type=integer,JSONPath=`.status.admittedGroups`
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.status.pendingGroups`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Queue is a share of the cluster that pod groups are admitted through.
// Queues form a tree through spec.parent; the cluster's capacity is divided
// among the roots, and each queue's share among its children.
type Queue struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec QueueSpec `json:"spec,omitempty"`
	// +optional
	Status QueueStatus `json:"status,omitempty"`
}

// QueueSpec is what a queue is entitled to.
type QueueSpec struct {
	// Parent is the name of the parent queue; empty for a root.
	// +optional
	Parent string `json:"parent,omitempty"`
	// Weight is the queue's part of what its siblings share beyond their
	// guaranteed resources. Defaults to 1; 0 means the queue gets only its
	// guaranteed resources and idle capacity nobody else wants.
	// +optional
	Weight *int32 `json:"weight,omitempty"`
	// Guaranteed is what the queue gets whenever it asks for it: other
	// queues' groups are preempted to give it back.
	// +optional
	Guaranteed v1.ResourceList `json:"guaranteed,omitempty"`
	// Max caps what the queue's groups may hold; unset resources are not capped.
	// +optional
	Max v1.ResourceList `json:"max,omitempty"`
	// Namespaces lists the namespaces whose groups go to this queue unless
	// they name a queue with the gangsched.io/queue label.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
}

// QueueStatus is what the scheduler observes of a queue.
type QueueStatus struct {
	// Allocated is what the queue's admitted groups hold (placed pods and
	// reserved room).
	// +optional
	Allocated v1.ResourceList `json:"allocated,omitempty"`
	// Pending is what the queue's waiting groups ask for.
	// +optional
	Pending v1.ResourceList `json:"pending,omitempty"`
	// FairShare is what the queue is entitled to now: its guaranteed
	// resources plus its weighted part of what is left, capped by max and
	// by what it asks for.
	// +optional
	FairShare v1.ResourceList `json:"fairShare,omitempty"`
	// Borrowed is what the queue holds beyond its fair share: idle capacity
	// it may keep until others reclaim it.
	// +optional
	Borrowed v1.ResourceList `json:"borrowed,omitempty"`
	// AdmittedGroups and PendingGroups count the queue's groups.
	// +optional
	AdmittedGroups int32 `json:"admittedGroups,omitempty"`
	// +optional
	PendingGroups int32 `json:"pendingGroups,omitempty"`
	// Conditions: Valid.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true

// QueueList is a list of Queues.
type QueueList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Queue `json:"items"`
}
