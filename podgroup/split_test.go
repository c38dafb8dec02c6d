package podgroup

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gangsched/gangsched/resources"
)

func TestSplitRemainder(t *testing.T) {
	tests := map[string]struct {
		rem, shape resources.List
		want       []resources.List
		// total: the shape cannot cut rem, which is planned as a total.
		total bool
	}{
		"exact multiple": {
			rem:   resources.List{"cpu": 4000, "memory": 8},
			shape: resources.List{"cpu": 2000, "memory": 4},
			want:  []resources.List{{"cpu": 2000, "memory": 4, "pods": 1}, {"cpu": 2000, "memory": 4, "pods": 1}},
		},
		"last piece takes the rest": {
			rem:   resources.List{"cpu": 5000},
			shape: resources.List{"cpu": 2000},
			want:  []resources.List{{"cpu": 2000, "pods": 1}, {"cpu": 2000, "pods": 1}, {"cpu": 1000, "pods": 1}},
		},
		"resource the shape lacks is spread": {
			rem:   resources.List{"cpu": 2000, "memory": 10},
			shape: resources.List{"cpu": 1000},
			want:  []resources.List{{"cpu": 1000, "memory": 5, "pods": 1}, {"cpu": 1000, "memory": 5, "pods": 1}},
		},
		"nothing left": {
			rem:   resources.List{"cpu": -1000},
			shape: resources.List{"cpu": 1000},
		},
		"unknown shape: a total": {
			rem:   resources.List{"cpu": 3000},
			total: true,
		},
		"shape of a member that requests nothing: a total": {
			rem:   resources.List{"cpu": 3000},
			shape: resources.List{"pods": 1},
			total: true,
		},
		"shape of other resources only: a total": {
			rem:   resources.List{"cpu": 3000},
			shape: resources.List{"memory": 4},
			total: true,
		},
		"more pieces than the cap: a total, not one huge last piece": {
			rem:   resources.List{"cpu": 2000 * maxVirtualMembers},
			shape: resources.List{"cpu": 1},
			total: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pieces, ok := splitRemainder(tc.rem, tc.shape)
			if ok == tc.total {
				t.Fatalf("ok = %v, want %v", ok, !tc.total)
			}
			if diff := cmp.Diff(tc.want, pieces); diff != "" {
				t.Errorf("(-want,+got):\n%s", diff)
			}
		})
	}
}
