package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// GangArgs are the arguments of the Gang plugin, as written in a
// KubeSchedulerConfiguration's pluginConfig.
type GangArgs struct {
	metav1.TypeMeta `json:",inline"`

	// PermitTimeoutSeconds is how long the placed members of an admitted
	// group wait for the rest of minMember before the whole group is
	// released. A PodGroup's spec.scheduleTimeoutSeconds overrides it.
	// Defaults to 60.
	PermitTimeoutSeconds *int64 `json:"permitTimeoutSeconds,omitempty"`
	// ReservationTimeoutSeconds is how long room for members not created
	// yet (a Spark driver's executors) stays reserved once the group has its
	// minimum placed. Defaults to 300.
	ReservationTimeoutSeconds *int64 `json:"reservationTimeoutSeconds,omitempty"`
	// RetryBackoffSeconds is the first wait before a released group is
	// admitted again; it doubles with each release in a row. Defaults to 1.
	RetryBackoffSeconds *int64 `json:"retryBackoffSeconds,omitempty"`
	// MaxRetryBackoffSeconds caps that wait. Defaults to 60.
	MaxRetryBackoffSeconds *int64 `json:"maxRetryBackoffSeconds,omitempty"`
	// StarvationThresholdSeconds is how long a group may wait for room
	// before nodes are reserved for it as they drain (no new pod is placed
	// in room it needs there); 0 turns that off. Defaults to 120.
	StarvationThresholdSeconds *int64 `json:"starvationThresholdSeconds,omitempty"`
	// DrainRetrySeconds is how often a starving group with no drain yet
	// is tried again, to get its drain reservation on time. Defaults to 5.
	DrainRetrySeconds *int64 `json:"drainRetrySeconds,omitempty"`
	// VictimsTimeoutSeconds is how long the pods a group preempted get to
	// exit; after it the group gives up the room it claimed and waits
	// again. Defaults to 300.
	VictimsTimeoutSeconds *int64 `json:"victimsTimeoutSeconds,omitempty"`
	// MaxAdmitAhead is how many groups ahead of it in fair order one
	// group's scheduling cycle admits at most, to keep a cycle short.
	// Defaults to 8.
	MaxAdmitAhead *int32 `json:"maxAdmitAhead,omitempty"`
}
