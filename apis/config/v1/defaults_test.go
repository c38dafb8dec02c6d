package v1

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"
)

func TestSetDefaultsGangArgs(t *testing.T) {
	got := &GangArgs{ReservationTimeoutSeconds: ptr.To[int64](30)}
	SetDefaults_GangArgs(got)
	want := &GangArgs{
		PermitTimeoutSeconds:      ptr.To(DefaultPermitTimeoutSeconds),
		ReservationTimeoutSeconds: ptr.To[int64](30),
		RetryBackoffSeconds:       ptr.To(DefaultRetryBackoffSeconds),
		MaxRetryBackoffSeconds:    ptr.To(DefaultMaxRetryBackoffSeconds),

		StarvationThresholdSeconds: ptr.To(DefaultStarvationThresholdSeconds),
		DrainRetrySeconds:          ptr.To(DefaultDrainRetrySeconds),
		VictimsTimeoutSeconds:      ptr.To(DefaultVictimsTimeoutSeconds),
		MaxAdmitAhead:              ptr.To(DefaultMaxAdmitAhead),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want,+got):\n%s", diff)
	}
}
