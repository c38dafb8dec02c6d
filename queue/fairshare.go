package queue

import (
	"math"
	"slices"

	v1 "k8s.io/api/core/v1"

	"github.com/gangsched/gangsched/resources"
)

// Entitlement is what one queue is entitled to among its siblings.
type Entitlement struct {
	// Weight is the queue's part of what siblings share beyond their
	// guaranteed resources; 0 gets only what nobody with weight wants.
	Weight float64
	// Guaranteed is served first.
	Guaranteed resources.List
	// Max caps the share; nil caps nothing, and a resource Max does not
	// name is not capped.
	Max resources.List
	// Demand is what the queue asks for: what it holds plus what its
	// waiting groups need.
	Demand resources.List
}

// capOf is the most a queue can use: its demand, capped by max.
func (e *Entitlement) capOf() resources.List {
	c := e.Demand.NonNegative()
	for name, m := range e.Max {
		if v, ok := c[name]; ok && v > m {
			c[name] = max(m, 0)
		}
	}
	return c
}

// Divide divides pool among siblings, by the rule of gangsched's fair share:
//
//  1. each queue gets its guaranteed resources, up to what it can use (its
//     demand capped by max); guarantees that together exceed the pool are
//     scaled down, per resource, in proportion;
//  2. what is left is shared by weighted dominant resource fairness (DRF):
//     every queue's dominant share of capacity grows at the speed of its
//     weight, each queue taking resources in the proportions of its unmet
//     demand, until the queue has what it can use or a resource it needs
//     runs out (progressive filling);
//  3. what queues with weight are left to want goes the same way to queues
//     of weight 0.
//
// capacity normalises dominant shares (the cluster's total); it is usually
// the root pool. The result is each queue's share, in the order given.
func Divide(pool, capacity resources.List, queues []Entitlement) []resources.List {
	shares := make([]resources.List, len(queues))
	caps := make([]resources.List, len(queues))
	// 1. Guarantees, scaled down where they overcommit the pool.
	wanted := resources.List{}
	for i := range queues {
		caps[i] = queues[i].capOf()
		shares[i] = queues[i].Guaranteed.NonNegative().Min(caps[i])
		wanted.Add(shares[i])
	}
	for name, w := range wanted {
		if p := max(pool[name], 0); w > p && w > 0 {
			for i := range shares {
				shares[i][name] = int64(float64(shares[i][name]) * float64(p) / float64(w))
			}
		}
	}
	left := pool.NonNegative()
	for i := range shares {
		left.Sub(shares[i])
	}
	left = left.NonNegative()

	// 2. and 3. Progressive filling, first among weighted queues, then among
	// the weightless ones with equal weights.
	var weighted, weightless []int
	for i := range queues {
		if queues[i].Weight > 0 {
			weighted = append(weighted, i)
		} else {
			weightless = append(weightless, i)
		}
	}
	weights := make([]float64, len(queues))
	for _, i := range weighted {
		weights[i] = queues[i].Weight
	}
	left = fill(left, capacity, weighted, weights, shares, caps)
	for _, i := range weightless {
		weights[i] = 1
	}
	fill(left, capacity, weightless, weights, shares, caps)
	return shares
}

// fill runs weighted DRF progressive filling of left over the queues in
// members, adding to shares up to caps. It returns what is left.
func fill(left, capacity resources.List, members []int, weights []float64, shares, caps []resources.List) resources.List {
	if len(members) == 0 {
		return left
	}
	// Unmet demand of each queue, and its dominant share of capacity.
	// Resources the cluster does not have at all cannot be shared and are
	// left out, so they do not block the rest.
	need := make(map[int]map[v1.ResourceName]float64, len(members))
	dom := make(map[int]float64, len(members))
	for _, i := range members {
		need[i] = map[v1.ResourceName]float64{}
		for name, c := range caps[i] {
			if name == resources.Pods {
				continue
			}
			if n := c - shares[i][name]; n > 0 && capacity[name] > 0 {
				need[i][name] = float64(n)
				dom[i] = max(dom[i], float64(n)/float64(capacity[name]))
			}
		}
	}
	avail := map[v1.ResourceName]float64{}
	for name, v := range left {
		avail[name] = float64(v)
	}
	given := make(map[int]float64, len(members)) // fraction of its need each queue got
	active := slices.DeleteFunc(slices.Clone(members), func(i int) bool { return dom[i] == 0 })
	// Each round ends at the next event: a queue gets all it needs, or a
	// resource runs out and freezes every queue that needs it.
	for len(active) > 0 {
		// At level t, queue i has t*w_i/dom_i of its need; per unit of t it
		// takes rate[r] of resource r in all.
		rate := map[v1.ResourceName]float64{}
		step := math.Inf(1)
		for _, i := range active {
			speed := weights[i] / dom[i]
			step = min(step, (1-given[i])/speed)
			for name, n := range need[i] {
				rate[name] += speed * n
			}
		}
		for name, r := range rate {
			if r > 0 {
				step = min(step, avail[name]/r)
			}
		}
		step = max(step, 0)
		for _, i := range active {
			given[i] = min(1, given[i]+step*weights[i]/dom[i])
		}
		exhausted := map[v1.ResourceName]bool{}
		for name, r := range rate {
			avail[name] -= step * r
			if avail[name] <= 1e-9*max(1, float64(left[name])) {
				exhausted[name] = true
			}
		}
		active = slices.DeleteFunc(active, func(i int) bool {
			if given[i] >= 1-1e-12 {
				return true
			}
			for name := range need[i] {
				if exhausted[name] {
					return true
				}
			}
			return false
		})
	}
	// Round to whole units, never giving more than is left.
	out := left.Clone()
	for _, i := range members {
		for name, n := range need[i] {
			got := min(int64(math.Round(n*given[i])), out[name])
			shares[i][name] += got
			out[name] -= got
		}
	}
	return out.NonNegative()
}
