package podgroup_test

import (
	"fmt"
	"testing"

	"k8s.io/klog/v2"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// benchNodes lists n nodes of 32 cores, a third of them half full.
func benchNodes(n int) []podgroup.NodeRoom {
	rooms := make([]podgroup.NodeRoom, n)
	for i := range rooms {
		name := fmt.Sprintf("node-%05d", i)
		free := resources.List{"cpu": 32000, "memory": 128 << 30, "pods": 110}
		if i%3 == 0 {
			free = resources.List{"cpu": 16000, "memory": 64 << 30, "pods": 90}
		}
		rooms[i] = podgroup.NodeRoom{Name: name, Node: w.MakeNode(name).Obj(), Free: free}
	}
	return rooms
}

// BenchmarkPlan is the whole-group admission check: a Spark app of one
// driver and 49 executors of 4 cores planned on 1,000 and 5,000 nodes.
func BenchmarkPlan(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		rooms := benchNodes(n)
		items := make([]podgroup.Item, 50)
		driver := w.MakeSparkDriver("ns", "app").Obj()
		for i := range items {
			items[i] = podgroup.Item{Template: driver, Requests: resources.List{"cpu": 4000, "memory": 8 << 30, "pods": 1}}
		}
		b.Run(fmt.Sprintf("nodes=%d/members=50", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, short := podgroup.Plan(klog.Background(), rooms, items, len(items), nil); short != nil {
					b.Fatal(short.Message())
				}
			}
		})
	}
}

// BenchmarkAdmitCachedFailure is the cost of a group member's admission
// when nothing changed since its group last failed to fit: the common case
// for the other members of a waiting group.
func BenchmarkAdmitCachedFailure(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		m, _ := newManager()
		nodes := fixed(benchNodes(n))
		driver := w.MakeSparkDriver("ns", "huge").Req("cpu", "1").Executors(100000, "cpu=4").Obj()
		m.UpsertPod(driver)
		m.Admit(klog.Background(), driver, nodes)
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m.Admit(klog.Background(), driver, nodes).Admitted {
					b.Fatal("admitted")
				}
			}
		})
	}
}
