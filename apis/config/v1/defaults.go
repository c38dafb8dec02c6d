package v1

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// Defaults of GangArgs.
const (
	DefaultPermitTimeoutSeconds       int64 = 60
	DefaultReservationTimeoutSeconds  int64 = 300
	DefaultRetryBackoffSeconds        int64 = 1
	DefaultMaxRetryBackoffSeconds     int64 = 60
	DefaultStarvationThresholdSeconds int64 = 120
	DefaultDrainRetrySeconds          int64 = 5
	DefaultVictimsTimeoutSeconds      int64 = 300
	DefaultMaxAdmitAhead              int32 = 8
)

// SetDefaults_GangArgs fills the fields left unset.
func SetDefaults_GangArgs(obj *GangArgs) {
	if obj.PermitTimeoutSeconds == nil {
		obj.PermitTimeoutSeconds = ptr.To(DefaultPermitTimeoutSeconds)
	}
	if obj.ReservationTimeoutSeconds == nil {
		obj.ReservationTimeoutSeconds = ptr.To(DefaultReservationTimeoutSeconds)
	}
	if obj.RetryBackoffSeconds == nil {
		obj.RetryBackoffSeconds = ptr.To(DefaultRetryBackoffSeconds)
	}
	if obj.MaxRetryBackoffSeconds == nil {
		obj.MaxRetryBackoffSeconds = ptr.To(DefaultMaxRetryBackoffSeconds)
	}
	if obj.StarvationThresholdSeconds == nil {
		obj.StarvationThresholdSeconds = ptr.To(DefaultStarvationThresholdSeconds)
	}
	if obj.DrainRetrySeconds == nil {
		obj.DrainRetrySeconds = ptr.To(DefaultDrainRetrySeconds)
	}
	if obj.VictimsTimeoutSeconds == nil {
		obj.VictimsTimeoutSeconds = ptr.To(DefaultVictimsTimeoutSeconds)
	}
	if obj.MaxAdmitAhead == nil {
		obj.MaxAdmitAhead = ptr.To(DefaultMaxAdmitAhead)
	}
}

// RegisterDefaults registers the defaulting function with the scheme.
func RegisterDefaults(scheme *runtime.Scheme) error {
	scheme.AddTypeDefaultingFunc(&GangArgs{}, func(obj interface{}) { SetDefaults_GangArgs(obj.(*GangArgs)) })
	return nil
}
