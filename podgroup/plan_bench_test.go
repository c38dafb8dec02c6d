package podgroup_test

import (
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
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
		rooms[i] = podgroup.NodeRoom{Name: name, Node: w.MakeNode(name).Obj(), Free: free}.WithCore() // as the plugin builds them
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

// BenchmarkAdmitAmongGroups is the cost of admitting a gang of 3 while
// 1,000 or 3,000 other gangs run (scheduler_perf's podgroup workloads at
// 5,000 nodes): taking stock of the queues must not visit every group.
func BenchmarkAdmitAmongGroups(b *testing.B) {
	defer podgroup.VerifyDerived(false)()
	for _, groups := range []int{1000, 3000} {
		m, _ := newManager()
		rooms := benchNodes(5000)
		nodes := fixed(rooms)
		for i := range groups {
			name := fmt.Sprintf("running-%05d", i)
			m.UpsertPodGroup(w.MakePodGroup("ns", name).MinMember(3).Obj())
			for j := range 3 {
				m.UpsertPod(w.MakePod("ns", fmt.Sprintf("%s-%d", name, j)).Group(name).Req("cpu", "1").
					Node(rooms[(3*i+j)%len(rooms)].Name).Phase("Running").Obj())
			}
		}
		b.Run(fmt.Sprintf("nodes=5000/groups=%d", groups), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				name := fmt.Sprintf("new-%d", i)
				i++
				pg := w.MakePodGroup("ns", name).MinMember(3).Obj()
				m.UpsertPodGroup(pg)
				pods := make([]*v1.Pod, 3)
				for j := range pods {
					pods[j] = w.MakePod("ns", fmt.Sprintf("%s-%d", name, j)).Group(name).Req("cpu", "1").Obj()
					m.UpsertPod(pods[j])
				}
				if !m.Admit(klog.Background(), pods[0], nodes).Admitted {
					b.Fatal("not admitted")
				}
				for _, p := range pods {
					m.DeletePod(p)
				}
				m.DeletePodGroup(pg)
			}
		})
	}
}
