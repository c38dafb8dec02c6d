package validation

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gangsched/gangsched/apis/config"
)

func TestValidateGangArgs(t *testing.T) {
	valid := config.GangArgs{PermitTimeoutSeconds: 60, ReservationTimeoutSeconds: 300, RetryBackoffSeconds: 1, MaxRetryBackoffSeconds: 60,
		DrainRetrySeconds: 5, VictimsTimeoutSeconds: 300, MaxAdmitAhead: 8}
	tests := map[string]struct {
		mutate func(*config.GangArgs)
		want   field.ErrorList
	}{
		"defaults are valid": {mutate: func(*config.GangArgs) {}},
		"zero permit timeout": {
			mutate: func(a *config.GangArgs) { a.PermitTimeoutSeconds = 0 },
			want:   field.ErrorList{field.Invalid(field.NewPath("args", "permitTimeoutSeconds"), int64(0), "")},
		},
		"negative reservation timeout": {
			mutate: func(a *config.GangArgs) { a.ReservationTimeoutSeconds = -1 },
			want:   field.ErrorList{field.Invalid(field.NewPath("args", "reservationTimeoutSeconds"), int64(-1), "")},
		},
		"negative starvation threshold": {
			mutate: func(a *config.GangArgs) { a.StarvationThresholdSeconds = -1 },
			want:   field.ErrorList{field.Invalid(field.NewPath("args", "starvationThresholdSeconds"), int64(-1), "")},
		},
		"zero victims timeout": {
			mutate: func(a *config.GangArgs) { a.VictimsTimeoutSeconds = 0 },
			want:   field.ErrorList{field.Invalid(field.NewPath("args", "victimsTimeoutSeconds"), int64(0), "")},
		},
		"no admission ahead": {
			mutate: func(a *config.GangArgs) { a.MaxAdmitAhead = 0 },
			want:   field.ErrorList{field.Invalid(field.NewPath("args", "maxAdmitAhead"), int64(0), "")},
		},
		"backoff cap below first backoff": {
			mutate: func(a *config.GangArgs) { a.RetryBackoffSeconds = 10; a.MaxRetryBackoffSeconds = 5 },
			want:   field.ErrorList{field.Invalid(field.NewPath("args", "maxRetryBackoffSeconds"), int64(5), "")},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := valid
			tc.mutate(&args)
			err := ValidateGangArgs(field.NewPath("args"), &args)
			var got field.ErrorList
			var agg interface{ Errors() []error }
			if errors.As(err, &agg) {
				for _, e := range agg.Errors() {
					var fe *field.Error
					if errors.As(e, &fe) {
						got = append(got, fe)
					}
				}
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(field.Error{}, "Detail", "BadValue")); diff != "" {
				t.Errorf("(-want,+got):\n%s", diff)
			}
		})
	}
}
