package v1

import (
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/gangsched/gangsched/apis/config"
)

// RegisterConversions registers the conversions between GangArgs and its
// internal type with the scheme.
func RegisterConversions(s *runtime.Scheme) error {
	if err := s.AddConversionFunc((*GangArgs)(nil), (*config.GangArgs)(nil), func(a, b interface{}, scope conversion.Scope) error {
		return Convert_v1_GangArgs_To_config_GangArgs(a.(*GangArgs), b.(*config.GangArgs), scope)
	}); err != nil {
		return err
	}
	return s.AddConversionFunc((*config.GangArgs)(nil), (*GangArgs)(nil), func(a, b interface{}, scope conversion.Scope) error {
		return Convert_config_GangArgs_To_v1_GangArgs(a.(*config.GangArgs), b.(*GangArgs), scope)
	})
}

// Convert_v1_GangArgs_To_config_GangArgs converts versioned args to internal ones.
func Convert_v1_GangArgs_To_config_GangArgs(in *GangArgs, out *config.GangArgs, _ conversion.Scope) error {
	out.PermitTimeoutSeconds = ptr.Deref(in.PermitTimeoutSeconds, 0)
	out.ReservationTimeoutSeconds = ptr.Deref(in.ReservationTimeoutSeconds, 0)
	out.RetryBackoffSeconds = ptr.Deref(in.RetryBackoffSeconds, 0)
	out.MaxRetryBackoffSeconds = ptr.Deref(in.MaxRetryBackoffSeconds, 0)
	out.StarvationThresholdSeconds = ptr.Deref(in.StarvationThresholdSeconds, 0)
	out.DrainRetrySeconds = ptr.Deref(in.DrainRetrySeconds, 0)
	out.VictimsTimeoutSeconds = ptr.Deref(in.VictimsTimeoutSeconds, 0)
	out.MaxAdmitAhead = ptr.Deref(in.MaxAdmitAhead, 0)
	return nil
}

// Convert_config_GangArgs_To_v1_GangArgs converts internal args to versioned ones.
func Convert_config_GangArgs_To_v1_GangArgs(in *config.GangArgs, out *GangArgs, _ conversion.Scope) error {
	out.PermitTimeoutSeconds = ptr.To(in.PermitTimeoutSeconds)
	out.ReservationTimeoutSeconds = ptr.To(in.ReservationTimeoutSeconds)
	out.RetryBackoffSeconds = ptr.To(in.RetryBackoffSeconds)
	out.MaxRetryBackoffSeconds = ptr.To(in.MaxRetryBackoffSeconds)
	out.StarvationThresholdSeconds = ptr.To(in.StarvationThresholdSeconds)
	out.DrainRetrySeconds = ptr.To(in.DrainRetrySeconds)
	out.VictimsTimeoutSeconds = ptr.To(in.VictimsTimeoutSeconds)
	out.MaxAdmitAhead = ptr.To(in.MaxAdmitAhead)
	return nil
}
