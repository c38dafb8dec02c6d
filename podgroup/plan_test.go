package podgroup_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2/ktesting"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

func room(name string, cpu, memGi int64, node *v1.Node) podgroup.NodeRoom {
	return podgroup.NodeRoom{Name: name, Node: node, Free: resources.List{"cpu": cpu * 1000, "memory": memGi << 30, "pods": 110}}
}

func item(cpu, memGi int64) podgroup.Item {
	return podgroup.Item{Requests: resources.List{"cpu": cpu * 1000, "memory": memGi << 30, "pods": 1}}
}

func TestPlan(t *testing.T) {
	tainted := w.MakeNode("c").Taint("dedicated", "gpu", v1.TaintEffectNoSchedule).Obj()
	tests := map[string]struct {
		nodes     []podgroup.NodeRoom
		items     []podgroup.Item
		required  int
		sim       podgroup.Simulation
		wantNodes []string
		// wantPerNode, when set, is the room the plan takes on each node.
		wantPerNode map[string]resources.List
		wantShort   string
	}{
		"best fit packs the fuller node": {
			nodes:     []podgroup.NodeRoom{room("a", 4, 16, nil), room("b", 2, 16, nil)},
			items:     []podgroup.Item{item(2, 1)},
			required:  1,
			wantNodes: []string{"b"},
		},
		"largest first so the big member gets the big node": {
			nodes:     []podgroup.NodeRoom{room("a", 4, 16, nil), room("b", 2, 16, nil)},
			items:     []podgroup.Item{item(2, 1), item(4, 1)},
			required:  2,
			wantNodes: []string{"b", "a"},
		},
		"total too small": {
			nodes:     []podgroup.NodeRoom{room("a", 4, 16, nil), room("b", 3, 16, nil)},
			items:     []podgroup.Item{item(4, 1), item(4, 1)},
			required:  2,
			wantShort: "needs cpu 8, memory 2Gi for 2 pods, cpu 7, memory 32Gi free",
		},
		"enough in total but fragmented": {
			nodes:     []podgroup.NodeRoom{room("a", 3, 16, nil), room("b", 3, 16, nil)},
			items:     []podgroup.Item{item(4, 1)},
			required:  1,
			wantShort: "1 of 1 pods fit on no node at once (a member needing cpu 4, memory 1Gi finds no node with room); in total cpu 4, memory 1Gi needed, cpu 6, memory 32Gi free",
		},
		"taints keep a member off": {
			nodes:     []podgroup.NodeRoom{room("c", 8, 16, tainted), room("d", 1, 16, w.MakeNode("d").Obj())},
			items:     []podgroup.Item{{Pod: w.MakePod("ns", "p").Obj(), Requests: resources.List{"cpu": 2000, "pods": 1}}},
			required:  1,
			wantShort: "1 of 1 pods fit on no node at once (a member needing cpu 2 finds no node with room); in total cpu 2 needed, cpu 9 free",
		},
		"a total is spread in chunks of its proportions, most free first": {
			nodes:     []podgroup.NodeRoom{room("a", 4, 16, nil), room("b", 2, 16, nil)},
			items:     []podgroup.Item{{Requests: resources.List{"cpu": 5000, "memory": 10 << 30}, Total: true}},
			required:  1,
			wantNodes: []string{""},
			wantPerNode: map[string]resources.List{
				"a": {"cpu": 4000, "memory": 8 << 30},
				"b": {"cpu": 1000, "memory": 2 << 30},
			},
		},
		"a total larger than the free room does not fit": {
			nodes:     []podgroup.NodeRoom{room("a", 4, 16, nil), room("b", 2, 16, nil)},
			items:     []podgroup.Item{{Requests: resources.List{"cpu": 7000}, Total: true}},
			required:  1,
			wantShort: "needs cpu 7 for 1 pods, cpu 6 free",
		},
		"pods come before a total, whatever its size": {
			nodes:     []podgroup.NodeRoom{room("a", 4, 16, nil), room("b", 2, 16, nil)},
			items:     []podgroup.Item{{Requests: resources.List{"cpu": 2000}, Total: true}, item(4, 1)},
			required:  2,
			wantNodes: []string{"", "a"},
			wantPerNode: map[string]resources.List{
				"a": {"cpu": 4000, "memory": 1 << 30, "pods": 1},
				"b": {"cpu": 2000},
			},
		},
		"resources no node lists are left to the real filters, not reserved": {
			nodes:       []podgroup.NodeRoom{room("a", 4, 16, nil)},
			items:       []podgroup.Item{{Requests: resources.List{"cpu": 1000, "example.com/gpu": 1, "pods": 1}}},
			required:    1,
			wantNodes:   []string{"a"},
			wantPerNode: map[string]resources.List{"a": {"cpu": 1000, "pods": 1}},
		},
		"the real filters turn the best node away: the next best": {
			nodes:     []podgroup.NodeRoom{room("a", 4, 16, nil), room("b", 2, 16, nil), room("c", 3, 16, nil)},
			items:     []podgroup.Item{item(2, 1)},
			required:  1,
			sim:       refuse{"b": "node(s) didn't match pod anti-affinity rules"},
			wantNodes: []string{"c"},
		},
		"the real filters turn every node away: their reason": {
			nodes:     []podgroup.NodeRoom{room("a", 4, 16, nil), room("b", 2, 16, nil)},
			items:     []podgroup.Item{item(2, 1)},
			required:  1,
			sim:       refuse{"a": "node(s) had untolerated taint", "b": "node(s) didn't match pod anti-affinity rules"},
			wantShort: "1 of 1 pods fit on no node at once: a member needing cpu 2, memory 1Gi has room on some node but is refused there by the scheduler's filters (node(s) didn't match pod anti-affinity rules); in total cpu 2, memory 1Gi needed, cpu 6, memory 32Gi free",
		},
		"optional members placed only where room is left": {
			nodes:     []podgroup.NodeRoom{room("a", 4, 16, nil)},
			items:     []podgroup.Item{item(3, 1), item(3, 1)},
			required:  1,
			wantNodes: []string{"a", ""},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			logger, _ := ktesting.NewTestContext(t)
			placement, short := podgroup.Plan(logger, tc.nodes, tc.items, tc.required, tc.sim)
			if tc.wantShort != "" {
				if short == nil {
					t.Fatalf("plan succeeded with %v, want shortfall", placement.Nodes)
				}
				if got := short.Message(); got != tc.wantShort {
					t.Errorf("Message() = %q\nwant        %q", got, tc.wantShort)
				}
				return
			}
			if short != nil {
				t.Fatalf("unexpected shortfall: %s", short.Message())
			}
			if diff := cmp.Diff(tc.wantNodes, placement.Nodes); diff != "" {
				t.Errorf("nodes (-want,+got):\n%s", diff)
			}
			if tc.wantPerNode != nil {
				if diff := cmp.Diff(tc.wantPerNode, placement.PerNode); diff != "" {
					t.Errorf("room per node (-want,+got):\n%s", diff)
				}
			}
		})
	}
}

// refuse is a Simulation whose filters refuse the listed nodes, with the
// given reasons.
type refuse map[string]string

func (r refuse) Fits(_ *v1.Pod, node string) (bool, string) {
	reason, refused := r[node]
	return !refused, reason
}

func (refuse) Place(*v1.Pod, string) {}
