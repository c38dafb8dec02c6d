package config

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// GangArgs are the arguments of the Gang plugin.
type GangArgs struct {
	metav1.TypeMeta

	// PermitTimeoutSeconds is how long the placed members of an admitted
	// group wait in Permit for the rest of minMember before the whole group
	// is released. A PodGroup's spec.scheduleTimeoutSeconds overrides it.
	PermitTimeoutSeconds int64
	// ReservationTimeoutSeconds is how long room for members not created
	// yet (a Spark driver's executors) stays reserved once the group has
	// its minimum placed.
	ReservationTimeoutSeconds int64
	// RetryBackoffSeconds is the first wait before a released group is
	// admitted again; it doubles with each release in a row, up to
	// MaxRetryBackoffSeconds.
	RetryBackoffSeconds    int64
	MaxRetryBackoffSeconds int64
	// StarvationThresholdSeconds is how long a group may wait for room
	// before nodes are reserved for it as they drain; 0 turns that off.
	StarvationThresholdSeconds int64
	// DrainRetrySeconds is how often a starving group with no drain yet
	// is tried again, to get its drain reservation on time.
	DrainRetrySeconds int64
	// VictimsTimeoutSeconds is how long the pods a group preempted get to
	// exit; after it the group gives up the room it claimed and waits again.
	VictimsTimeoutSeconds int64
	// MaxAdmitAhead is how many groups ahead of it in fair order one
	// group's scheduling cycle admits at most, to keep a cycle short.
	MaxAdmitAhead int32
}
