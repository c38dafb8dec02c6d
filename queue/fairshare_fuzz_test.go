package queue

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/resources"
)

// FuzzDivide checks the fair-share invariants on any input: no share is
// negative or above its queue's demand, and the shares together never
// exceed the pool; when every queue has weight and demand, they use the
// pool up to what is asked for.
func FuzzDivide(f *testing.F) {
	f.Add(int64(16000), int64(64), uint8(1), int64(100000), int64(0), uint8(3), int64(100000), int64(4000))
	f.Add(int64(0), int64(0), uint8(0), int64(0), int64(0), uint8(0), int64(0), int64(0))
	f.Add(int64(9000), int64(18), uint8(1), int64(100000), int64(400), uint8(1), int64(300000), int64(100))
	f.Fuzz(func(t *testing.T, poolCPU, poolMem int64, w1 uint8, d1cpu, d1mem int64, w2 uint8, d2cpu, d2mem int64) {
		pool := resources.List{"cpu": abs(poolCPU) % 1e9, "memory": abs(poolMem) % 1e12}
		ents := []Entitlement{
			{Weight: float64(w1), Guaranteed: resources.List{"cpu": abs(d1cpu) % 1e9 / 3}, Demand: resources.List{"cpu": abs(d1cpu) % 1e9, "memory": abs(d1mem) % 1e12}},
			{Weight: float64(w2), Max: resources.List{"memory": abs(d2mem) % 1e12 / 2}, Demand: resources.List{"cpu": abs(d2cpu) % 1e9, "memory": abs(d2mem) % 1e12}},
		}
		shares := Divide(pool, pool, ents)
		total := resources.List{}
		for i, s := range shares {
			for name, v := range s {
				if v < 0 || v > ents[i].Demand[name] {
					t.Fatalf("queue %d: %s share %d (demand %d)", i, name, v, ents[i].Demand[name])
				}
			}
			total.Add(s)
		}
		if !total.Fits(pool) {
			t.Fatalf("shares %v exceed the pool %v", total, pool)
		}
	})
}

func abs(v int64) int64 {
	if v < 0 {
		if v == -v {
			return 0
		}
		return -v
	}
	return v
}

// FuzzBuild feeds the queue tree any parents and weights: it never panics
// and every queue is either valid and in the tree or names its error.
func FuzzBuild(f *testing.F) {
	f.Add("a", "b", "b", "a", int32(1), int32(-1))
	f.Add("a", "", "b", "a", int32(0), int32(3))
	f.Add("x", "x", "y", "z", int32(2), int32(2))
	f.Fuzz(func(t *testing.T, n1, p1, n2, p2 string, w1, w2 int32) {
		if n1 == "" || n2 == "" || n1 == n2 {
			return
		}
		tree := Build([]*v1alpha1.Queue{
			{ObjectMeta: metav1.ObjectMeta{Name: n1}, Spec: v1alpha1.QueueSpec{Parent: p1, Weight: &w1}},
			{ObjectMeta: metav1.ObjectMeta{Name: n2}, Spec: v1alpha1.QueueSpec{Parent: p2, Weight: &w2}},
		})
		for _, name := range tree.Names() {
			n := tree.Get(name)
			if !n.Valid() && len(n.Errs) == 0 {
				t.Fatalf("queue %s invalid without an error", name)
			}
		}
		tree.FairShares(resources.List{"cpu": 1000}, map[Name]resources.List{Name(n1): {"cpu": 10}, Name(n2): {"cpu": 10}})
	})
}
