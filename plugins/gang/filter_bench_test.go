package gang

import (
	"context"
	"fmt"
	"testing"

	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// BenchmarkFilter runs Filter (with reservations on a tenth of the nodes)
// and Score (for a member whose group holds room on a hundredth of them)
// over 1,000 and 5,000 nodes: the per-pod, per-node cost gangsched adds.
func BenchmarkFilter(b *testing.B) {
	pl := newTestPlugin()
	pod := w.MakePod("ns", "p").Req("cpu", "2", "memory", "4Gi").Obj()
	for _, n := range []int{1000, 5000} {
		nodes := make([]fwk.NodeInfo, n)
		reserved := map[string]resources.List{}
		own := map[string]resources.List{}
		for i := range nodes {
			name := fmt.Sprintf("node-%05d", i)
			ni := framework.NewNodeInfo()
			ni.SetNode(w.MakeNode(name, "cpu", "32", "memory", "128Gi").Obj())
			nodes[i] = ni
			if i%10 == 0 {
				reserved[name] = resources.List{"cpu": 31000, "memory": 64 << 30, "pods": 8}
			}
			if i%100 == 1 {
				own[name] = resources.List{"cpu": 4000, "memory": 8 << 30, "pods": 2}
			}
		}
		state := framework.NewCycleState()
		state.Write(preFilterStateKey, stateWith(resources.PodRequests(pod), preFilterState{held: mapRoom(reserved), own: mapRoom(own)}))
		ctx := context.Background()
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var refused, best int
			for b.Loop() {
				refused, best = 0, 0
				for _, ni := range nodes {
					if !pl.Filter(ctx, state, pod, ni).IsSuccess() {
						refused++
					}
					if score, _ := pl.Score(ctx, state, pod, ni); score == fwk.MaxScore {
						best++
					}
				}
			}
			// Every reserved node is refused (31 of 32 CPU held), every
			// node of the group's room scores highest.
			if refused != n/10 || best != n/100 {
				b.Fatalf("%d nodes refused and %d scored highest, want %d and %d", refused, best, n/10, n/100)
			}
		})
	}
}
