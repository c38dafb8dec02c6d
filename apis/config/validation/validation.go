// Package validation checks gangsched's plugin arguments.
package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gangsched/gangsched/apis/config"
)

// ValidateGangArgs checks that every timeout and maxAdmitAhead are positive
// (the starvation threshold may be 0, for off) and the backoff cap is not
// below the first backoff.
func ValidateGangArgs(path *field.Path, args *config.GangArgs) error {
	var errs field.ErrorList
	positive := func(name string, v int64) {
		if v <= 0 {
			errs = append(errs, field.Invalid(path.Child(name), v, "must be greater than 0"))
		}
	}
	positive("permitTimeoutSeconds", args.PermitTimeoutSeconds)
	positive("reservationTimeoutSeconds", args.ReservationTimeoutSeconds)
	positive("retryBackoffSeconds", args.RetryBackoffSeconds)
	positive("maxRetryBackoffSeconds", args.MaxRetryBackoffSeconds)
	positive("drainRetrySeconds", args.DrainRetrySeconds)
	positive("victimsTimeoutSeconds", args.VictimsTimeoutSeconds)
	positive("maxAdmitAhead", int64(args.MaxAdmitAhead))
	if args.StarvationThresholdSeconds < 0 {
		errs = append(errs, field.Invalid(path.Child("starvationThresholdSeconds"), args.StarvationThresholdSeconds, "must not be negative"))
	}
	if args.MaxRetryBackoffSeconds > 0 && args.MaxRetryBackoffSeconds < args.RetryBackoffSeconds {
		errs = append(errs, field.Invalid(path.Child("maxRetryBackoffSeconds"), args.MaxRetryBackoffSeconds, "must not be less than retryBackoffSeconds"))
	}
	return errs.ToAggregate()
}
