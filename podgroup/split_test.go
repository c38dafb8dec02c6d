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
		"unknown shape gives one piece": {
			rem:  resources.List{"cpu": 3000},
			want: []resources.List{{"cpu": 3000, "pods": 1}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, splitRemainder(tc.rem, tc.shape)); diff != "" {
				t.Errorf("(-want,+got):\n%s", diff)
			}
		})
	}
}
