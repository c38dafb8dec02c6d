package podgroup

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gangsched/gangsched/resources"
)

// The index's best fit is the brute-force one, the feasible node with
// room that is left with the least CPU, then memory, then comes first, and
// stays so as room is taken: random clusters, random needs, hundreds of
// takes.
func TestRoomIndexBestFitMatchesAScan(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			nodes := make([]NodeRoom, 50+rng.IntN(200))
			for i := range nodes {
				// Few distinct sizes, so that ties are common.
				nodes[i] = NodeRoom{Name: fmt.Sprintf("n%03d", i), Free: resources.List{
					"cpu": int64(rng.IntN(5)) * 4000, "memory": int64(rng.IntN(4)) << 33, "pods": int64(rng.IntN(3)),
					"example.com/gpu": int64(rng.IntN(2)),
				}}
			}
			needs := []resources.List{{"cpu": 1, "memory": 1, "pods": 1, "example.com/gpu": 1}}
			x := newRoomIndex(nodes, needs, nil)
			feasible := func(i int) bool { return i%7 != 3 }
			for step := range 400 {
				need := resources.List{"cpu": int64(rng.IntN(3)) * 1000, "memory": int64(rng.IntN(3)) << 31, "pods": 1}
				if step%5 == 0 {
					need["example.com/gpu"] = 1
				}
				vec := x.vector(need)
				got, _ := x.best(vec, feasible, nil)
				if want := scanBest(x, vec, feasible); got != want {
					t.Fatalf("step %d: best fit of %v is node %d, a scan finds %d", step, need, got, want)
				}
				if !slices.IsSortedFunc(x.order, compareKeys) {
					t.Fatalf("step %d: order not sorted", step)
				}
				if got < 0 {
					continue
				}
				x.take(got, vec)
				if k := x.order[slices.IndexFunc(x.order, func(k nodeKey) bool { return int(k.i) == got })]; k != x.key(got) {
					t.Fatalf("step %d: node %d is listed with %v, holds %v", step, got, k, x.key(got))
				}
			}
		})
	}
}

// scanBest is best fit by a walk of every node.
func scanBest(x *roomIndex, need []int64, feasible func(int) bool) int {
	best := -1
	for i := range len(x.order) {
		if !x.fits(i, need) || !feasible(i) {
			continue
		}
		if best < 0 || cmp.Or(cmp.Compare(x.row(i)[cpuDim], x.row(best)[cpuDim]), cmp.Compare(x.row(i)[memDim], x.row(best)[memDim])) < 0 {
			best = i
		}
	}
	return best
}

// A hint from an earlier index changes nothing but the cost of sorting.
func TestRoomIndexHintKeepsTheOrder(t *testing.T) {
	nodes := []NodeRoom{
		{Name: "a", Free: resources.List{"cpu": 3000}},
		{Name: "b", Free: resources.List{"cpu": 1000}},
		{Name: "c", Free: resources.List{"cpu": 2000}},
	}
	want := newRoomIndex(nodes, nil, nil).nodeOrder(nil)
	for _, hint := range [][]int32{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {0, 1}} {
		if got := newRoomIndex(nodes, nil, hint).nodeOrder(nil); !slices.Equal(got, want) {
			t.Errorf("hint %v: order %v, want %v", hint, got, want)
		}
	}
}
