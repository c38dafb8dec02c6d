package podgroup

import (
	"cmp"
	"fmt"
	"slices"

	v1 "k8s.io/api/core/v1"
	v1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"github.com/gangsched/gangsched/resources"
)

// NodeRoom is one node as the planner sees it.
type NodeRoom struct {
	// Name is the node's name.
	Name string
	// Node is the node object, for node-level constraints; nil skips them.
	Node *v1.Node
	// Free is allocatable minus requested (pods of any scheduler, assumed
	// pods included), with the free pod count as resources.Pods.
	Free resources.List
	// Allocatable is what the node offers in all, pods included.
	Allocatable resources.List
	// Rank breaks ties between equally good nodes: lower first, then by name.
	Rank int
}

// Item is one member the planner must place: an existing pod, or a member
// that will be created later (Pod nil), constrained like Template.
type Item struct {
	// Pod is the existing member, nil for a member not yet created.
	Pod *v1.Pod
	// Template carries the node constraints (node selector, required node
	// affinity, tolerations) of a member not yet created.
	Template *v1.Pod
	// Requests is what the member needs, resources.Pods included.
	Requests resources.List
}

func (it *Item) constraints() *v1.Pod {
	if it.Pod != nil {
		return it.Pod
	}
	return it.Template
}

// Placement is a plan that places every item of a group.
type Placement struct {
	// Nodes gives the planned node of each item, by item index.
	Nodes []string
	// PerNode is the room the plan takes on each node.
	PerNode map[string]resources.List
}

// Shortfall explains why a group does not fit.
type Shortfall struct {
	// Needed is the group's total need, Free what all nodes it may use have left.
	Needed, Free resources.List
	// Unplaced counts the items no node could take, of Items in all.
	Unplaced, Items int
	// Largest is the need of the largest item that found no node.
	Largest resources.List
	// ReservedForOthers is the room on the nodes held for other groups,
	// already left out of Free, but for a starving group's.
	ReservedForOthers resources.List
	// Draining names the starving group nodes are drained for, if any.
	Draining *Key
}

// Message says why, in the words an operator needs: what the group needs
// against what is free, or which member has no node big enough.
func (s *Shortfall) Message() string {
	free := s.Needed.Min(s.Free) // only what the group asks for
	delete(free, resources.Pods)
	for name := range free {
		free[name] = s.Free[name]
	}
	reserved := ""
	if held := s.Needed.Min(s.ReservedForOthers).NonNegative(); !held.IsZero() {
		for name := range held {
			held[name] = s.ReservedForOthers[name]
		}
		reserved = fmt.Sprintf(" (%s more reserved for other groups)", held)
	}
	if s.Draining != nil {
		reserved += fmt.Sprintf("; nodes are draining for starving pod group %s", s.Draining)
	}
	if !s.Needed.Fits(s.Free) {
		return fmt.Sprintf("needs %s for %d pods, %s free%s", s.Needed, s.Items, free, reserved)
	}
	return fmt.Sprintf("%d of %d pods fit on no node at once (a member needing %s finds no node with room); in total %s needed, %s free%s",
		s.Unplaced, s.Items, s.Largest, s.Needed, free, reserved)
}

// Plan places the first required items on the nodes, or explains why it
// cannot; the items after them are placed where room is left, and left out
// (an empty node name) where not. It tries the largest items first and puts each on the feasible node it fills most
// (best fit), which keeps whole nodes free for later large members. The
// result is deterministic: ties go to the node that comes first by name.
//
// CAVEAT: only resources and node-level constraints (unschedulable,
// taints, node selector and required node affinity) are planned; inter-pod
// affinity, topology spread, ports and volumes are checked when each member
// is scheduled, and a member that then fits nowhere releases the whole group.
func Plan(logger klog.Logger, nodes []NodeRoom, items []Item, required int) (*Placement, *Shortfall) {
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b NodeRoom) int { return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.Name, b.Name)) })
	free := make([]resources.List, len(nodes))
	for i := range nodes {
		free[i] = nodes[i].Free.Clone()
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	bySizeDesc := func(a, b int) int { return compareSize(items[b].Requests, items[a].Requests) }
	slices.SortStableFunc(order[:required], bySizeDesc)

	// Feasibility depends only on an item's constraints: evaluate each
	// distinct constraint source once per node.
	feasible := map[*v1.Pod][]bool{}
	feasibleFor := func(it *Item) []bool {
		src := it.constraints()
		if f, ok := feasible[src]; ok {
			return f
		}
		f := make([]bool, len(nodes))
		for i := range nodes {
			f[i] = NodeAdmits(logger, src, nodes[i].Node)
		}
		feasible[src] = f
		return f
	}

	placement := &Placement{Nodes: make([]string, len(items)), PerNode: map[string]resources.List{}}
	short := &Shortfall{Needed: resources.List{}, Items: required}
	for _, idx := range order {
		it := &items[idx]
		if idx < required {
			short.Needed.Add(it.Requests)
		}
		ok := feasibleFor(it)
		best := -1
		for i := range nodes {
			if !ok[i] || !it.Requests.Fits(free[i]) {
				continue
			}
			if best < 0 || leftover(free[i], it.Requests) < leftover(free[best], it.Requests) {
				best = i
			}
		}
		if best < 0 {
			if idx >= required {
				continue // optional: placed only where room is left
			}
			short.Unplaced++
			if short.Largest == nil {
				short.Largest = it.Requests.Clone()
			}
			continue
		}
		free[best].Sub(it.Requests)
		name := nodes[best].Name
		placement.Nodes[idx] = name
		if placement.PerNode[name] == nil {
			placement.PerNode[name] = resources.List{}
		}
		placement.PerNode[name].Add(it.Requests)
	}
	if short.Unplaced > 0 {
		short.Free = resources.List{}
		for i := range nodes {
			short.Free.Add(nodes[i].Free.NonNegative())
		}
		return nil, short
	}
	return placement, nil
}

// leftover scores how much of a node an item would leave unused: CPU first,
// memory to break ties. Lower is a tighter fit.
func leftover(free, req resources.List) float64 {
	return float64(free[v1.ResourceCPU]-req[v1.ResourceCPU])*1e6 + float64(free[v1.ResourceMemory]-req[v1.ResourceMemory])/float64(1<<20)
}

// compareSize orders requests by CPU, then memory, then the rest.
func compareSize(a, b resources.List) int {
	if c := cmp.Compare(a[v1.ResourceCPU], b[v1.ResourceCPU]); c != 0 {
		return c
	}
	return cmp.Compare(a[v1.ResourceMemory], b[v1.ResourceMemory])
}

// NodeAdmits reports whether the node-level constraints of pod allow node:
// the node is schedulable, its NoSchedule/NoExecute taints are tolerated, and
// the pod's node selector and required node affinity match. A nil pod or
// node admits.
func NodeAdmits(logger klog.Logger, pod *v1.Pod, node *v1.Node) bool {
	if pod == nil || node == nil {
		return true
	}
	if node.Spec.Unschedulable && !toleratesUnschedulable(pod) {
		return false
	}
	if _, untolerated := v1helper.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, pod.Spec.Tolerations, func(t *v1.Taint) bool {
		return t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute
	}, false); untolerated {
		return false
	}
	match, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)
	return err == nil && match
}

func toleratesUnschedulable(pod *v1.Pod) bool {
	taint := &v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}
	for i := range pod.Spec.Tolerations {
		if pod.Spec.Tolerations[i].ToleratesTaint(klog.Background(), taint, false) {
			return true
		}
	}
	return false
}
