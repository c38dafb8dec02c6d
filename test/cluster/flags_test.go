package cluster

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAPIServerFlags(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  []string
	}{
		{
			name: "defaults merge the disabled admission plugins",
			want: []string{
				"--endpoint-reconciler-type=none",
				"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
			},
		},
		{
			name:  "extra flags come last",
			extra: []string{"--feature-gates=GenericWorkload=true"},
			want: []string{
				"--endpoint-reconciler-type=none",
				"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
				"--feature-gates=GenericWorkload=true",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, APIServerFlags(tc.extra...)); diff != "" {
				t.Errorf("APIServerFlags (-want,+got):\n%s", diff)
			}
		})
	}
}
