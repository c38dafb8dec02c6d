package queue

import (
	"math"
	"testing"

	"github.com/gangsched/gangsched/resources"
)

func TestStanding(t *testing.T) {
	share := resources.List{"cpu": 10000, "memory": 40 << 30}
	for _, tc := range []struct {
		name      string
		allocated resources.List
		need      resources.List
		dominant  float64
		borrows   bool
		overOn    bool // With(need).OverOn(need)
	}{
		{name: "nothing held", need: resources.List{"cpu": 1000}, overOn: false},
		{name: "cpu dominates", allocated: resources.List{"cpu": 5000, "memory": 10 << 30, "pods": 50}, dominant: 0.5,
			need: resources.List{"cpu": 5000}, overOn: false},
		{name: "memory dominates, the need goes over on memory", allocated: resources.List{"cpu": 1000, "memory": 36 << 30},
			dominant: 0.9, need: resources.List{"cpu": 1000, "memory": 8 << 30}, overOn: true},
		{name: "over on memory, the need asks only cpu", allocated: resources.List{"memory": 50 << 30}, dominant: 1.25,
			borrows: true, need: resources.List{"cpu": 1000}, overOn: false},
		{name: "a resource with no share", allocated: resources.List{"nvidia.com/gpu": 1}, dominant: math.Inf(1),
			borrows: true, need: resources.List{"nvidia.com/gpu": 1}, overOn: true},
		{name: "pods are not shared", allocated: resources.List{"pods": 500}, need: resources.List{"pods": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Standing{Allocated: tc.allocated, Share: share}
			if got := s.DominantShare(); got != tc.dominant {
				t.Errorf("DominantShare = %v, want %v", got, tc.dominant)
			}
			if got := s.Borrows(); got != tc.borrows {
				t.Errorf("Borrows = %v, want %v", got, tc.borrows)
			}
			if got := s.With(tc.need).OverOn(tc.need); got != tc.overOn {
				t.Errorf("With(need).OverOn(need) = %v, want %v", got, tc.overOn)
			}
			if back := s.With(tc.need).Without(tc.need); Compare(back, s) != 0 {
				t.Errorf("With then Without changed the dominant share: %v, was %v", back.DominantShare(), s.DominantShare())
			}
		})
	}
	low := Standing{Allocated: resources.List{"cpu": 1000}, Share: share}
	high := Standing{Allocated: resources.List{"cpu": 9000}, Share: share}
	inf := Standing{Allocated: resources.List{"example.com/x": 1}, Share: share}
	if Compare(low, high) >= 0 || Compare(high, inf) >= 0 || Compare(inf, inf) != 0 {
		t.Error("Compare does not order 0.1 < 0.9 < +Inf")
	}
}
