package podgroup

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gangsched/gangsched/resources"
)

func TestEvenShape(t *testing.T) {
	// Spark Operator's minResources for a 1-CPU/2Gi driver and 8 executors
	// of 1 CPU/4Gi, with only the driver to guess from: 8 executor-sized pieces.
	rem := resources.List{"cpu": 8000, "memory": 32 << 30}
	pieces := splitRemainder(rem, evenShape(rem, resources.List{"cpu": 1000, "memory": 2 << 30, "pods": 1}))
	if len(pieces) != 8 {
		t.Fatalf("%d pieces, want 8: %v", len(pieces), pieces)
	}
	for _, p := range pieces {
		if want := (resources.List{"cpu": 1000, "memory": 4 << 30, "pods": 1}); !p.Equal(want) {
			t.Errorf("piece %v, want %v", p, want)
		}
	}
}

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
