package queue

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gangsched/gangsched/resources"
)

func cpu(cores int64) resources.List { return resources.List{"cpu": cores * 1000} }

func TestDivide(t *testing.T) {
	const gi = int64(1) << 30
	tests := map[string]struct {
		pool     resources.List
		capacity resources.List // defaults to pool
		queues   []Entitlement
		want     []resources.List
	}{
		"weights 1:3 split what both want": {
			pool:   cpu(8),
			queues: []Entitlement{{Weight: 1, Demand: cpu(100)}, {Weight: 3, Demand: cpu(100)}},
			want:   []resources.List{cpu(2), cpu(6)},
		},
		"a queue asking for little leaves the rest to the other": {
			pool:   cpu(10),
			queues: []Entitlement{{Weight: 1, Demand: cpu(2)}, {Weight: 1, Demand: cpu(100)}},
			want:   []resources.List{cpu(2), cpu(8)},
		},
		"max caps a share": {
			pool:   cpu(10),
			queues: []Entitlement{{Weight: 1, Demand: cpu(100), Max: cpu(3)}, {Weight: 1, Demand: cpu(100)}},
			want:   []resources.List{cpu(3), cpu(7)},
		},
		"guaranteed first, then weights": {
			pool:   cpu(10),
			queues: []Entitlement{{Weight: 1, Guaranteed: cpu(6), Demand: cpu(100)}, {Weight: 1, Demand: cpu(100)}},
			want:   []resources.List{cpu(8), cpu(2)},
		},
		"a queue without demand gets nothing, guarantee or not": {
			pool:   cpu(10),
			queues: []Entitlement{{Weight: 1, Guaranteed: cpu(5)}, {Weight: 1, Demand: cpu(100)}},
			want:   []resources.List{{}, cpu(10)},
		},
		"weight 0 gets only what nobody else wants": {
			pool:   cpu(10),
			queues: []Entitlement{{Weight: 0, Demand: cpu(100)}, {Weight: 1, Demand: cpu(4)}},
			want:   []resources.List{cpu(6), cpu(4)},
		},
		"overcommitted guarantees are scaled down": {
			pool:   cpu(10),
			queues: []Entitlement{{Weight: 1, Guaranteed: cpu(8), Demand: cpu(100)}, {Weight: 1, Guaranteed: cpu(8), Demand: cpu(100)}},
			want:   []resources.List{cpu(5), cpu(5)},
		},
		// Ghodsi et al., "Dominant Resource Fairness" (NSDI 2011), section 4:
		// 9 CPUs and 18 GB; A's tasks need <1 CPU, 4 GB>, B's <3 CPUs, 1 GB>.
		// DRF gives A 3 CPUs and 12 GB, B 6 CPUs and 2 GB.
		"the DRF paper's example": {
			pool: resources.List{"cpu": 9000, "memory": 18 * gi},
			queues: []Entitlement{
				{Weight: 1, Demand: resources.List{"cpu": 100_000, "memory": 400 * gi}},
				{Weight: 1, Demand: resources.List{"cpu": 300_000, "memory": 100 * gi}},
			},
			want: []resources.List{
				{"cpu": 3000, "memory": 12 * gi},
				{"cpu": 6000, "memory": 2 * gi},
			},
		},
		"a resource the cluster lacks does not block the others": {
			pool: resources.List{"cpu": 8000},
			queues: []Entitlement{
				{Weight: 1, Demand: resources.List{"cpu": 100_000, "nvidia.com/gpu": 4}},
				{Weight: 1, Demand: cpu(100)},
			},
			want: []resources.List{{"cpu": 4000}, cpu(4)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			capacity := tc.capacity
			if capacity == nil {
				capacity = tc.pool
			}
			got := Divide(tc.pool, capacity, tc.queues)
			for i := range got {
				got[i] = nonZero(got[i])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want,+got):\n%s", diff)
			}
		})
	}
}

func nonZero(l resources.List) resources.List {
	out := resources.List{}
	for k, v := range l {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// Shares never exceed the pool, and never go negative.
func TestDivideInvariants(t *testing.T) {
	pool := resources.List{"cpu": 7000, "memory": 1000}
	queues := []Entitlement{
		{Weight: 2, Guaranteed: resources.List{"cpu": 3000}, Demand: resources.List{"cpu": 5000, "memory": 900}},
		{Weight: 1, Demand: resources.List{"cpu": 9000, "memory": 10}},
		{Weight: 0, Demand: resources.List{"memory": 500}},
		{Weight: 5, Max: resources.List{"cpu": 1000}, Demand: resources.List{"cpu": 4000, "memory": 100}},
	}
	total := resources.List{}
	for i, s := range Divide(pool, pool, queues) {
		for name, v := range s {
			if v < 0 {
				t.Errorf("queue %d: negative %s share %d", i, name, v)
			}
			if v > queues[i].Demand[name] {
				t.Errorf("queue %d: %s share %d above demand %d", i, name, v, queues[i].Demand[name])
			}
		}
		total.Add(s)
	}
	if !total.Fits(pool) {
		t.Errorf("shares %v exceed the pool %v", total, pool)
	}
}
