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
	// core holds Free's CPU, memory and pod count (coreNames), read by the
	// planner's index for every node of every plan without a map lookup;
	// valid while hasCore. WithCore sets it; setFree, which every change
	// of Free inside the package goes through, drops it.
	core    [len(coreNames)]int64
	hasCore bool
}

// coreNames are the resources NodeRoom keeps dense: every pod asks for
// them, so every plan reads them on every node.
var coreNames = [...]v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, resources.Pods}

// WithCore returns r with its CPU, memory and pod count read out of Free
// once, for the planner. Callers that build a NodeRoom once and plan on it
// many times (the plugin's view of each node) use it; Free must not change
// afterwards but through the package, which drops the copy.
func (r NodeRoom) WithCore() NodeRoom {
	for d, name := range coreNames {
		r.core[d] = r.Free[name]
	}
	r.hasCore = true
	return r
}

// setFree replaces r's free room (a list the caller may then change).
func (r *NodeRoom) setFree(free resources.List) {
	r.Free = free
	r.hasCore = false
}

// free reads one resource of r's free room.
func (r *NodeRoom) free(name v1.ResourceName) int64 {
	if r.hasCore {
		for d, core := range coreNames {
			if name == core {
				return r.core[d]
			}
		}
	}
	return r.Free[name]
}

// Item is one member the planner must place: an existing pod, or a member
// that will be created later (Pod nil), planned as Template.
type Item struct {
	// Pod is the existing member, nil for a member not yet created.
	Pod *v1.Pod
	// Template is the pod a member not yet created is planned as (see
	// Group.virtualMember): its constraints and its requests. Members of
	// one shape share one Template.
	Template *v1.Pod
	// Requests is what the member needs, resources.Pods included.
	Requests resources.List
	// Total marks room the group needs for members of no known size: it
	// is planned as room spread over the nodes that admit Template, in
	// chunks of its proportions, not as one pod.
	Total bool
}

func (it *Item) constraints() *v1.Pod {
	if it.Pod != nil {
		return it.Pod
	}
	return it.Template
}

// Simulation checks a plan against the scheduler profile's own Filter
// plugins on the cycle's snapshot: inter-pod affinity, topology spread,
// host ports, volumes and every other filter the profile runs, with the
// members planned so far in place.
type Simulation interface {
	// Fits reports whether pod passes every Filter plugin on node, with the
	// pods placed so far (Place) on their nodes; reason says why not.
	Fits(pod *v1.Pod, node string) (ok bool, reason string)
	// Place records pod on node for the checks that follow. A Template
	// placed more than once counts as that many pods.
	Place(pod *v1.Pod, node string)
}

// Simulator is what Nodes implement when they can run the profile's real
// filters (the plugin's snapshot does; fakes in tests need not).
type Simulator interface {
	// Simulate starts a simulation on the nodes, as if the removed pods
	// were gone.
	Simulate(removed []*v1.Pod) Simulation
}

// simulationOf returns a simulation on nodes, or nil when they offer none.
func simulationOf(nodes Nodes, removed []*v1.Pod) Simulation {
	if s, ok := nodes.(Simulator); ok {
		return s.Simulate(removed)
	}
	return nil
}

// Placement is a plan that places every item of a group.
type Placement struct {
	// Nodes gives the planned node of each item, by item index ("" for a
	// Total item, spread over several nodes).
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
	// Filtered says why the scheduler's filters turned away the first item
	// that had room on some node but passed the filters on none ("" if none).
	Filtered string
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
	if s.Filtered != "" {
		member, total := "a member", ""
		if !withoutPods(s.Largest).IsZero() {
			member = "a member needing " + s.Largest.String()
		}
		if !withoutPods(s.Needed).IsZero() {
			total = fmt.Sprintf("; in total %s needed, %s free", s.Needed, free)
		}
		return fmt.Sprintf("%d of %d pods fit on no node at once: %s has room on some node but is refused there by the scheduler's filters (%s)%s%s",
			s.Unplaced, s.Items, member, s.Filtered, total, reserved)
	}
	return fmt.Sprintf("%d of %d pods fit on no node at once (a member needing %s finds no node with room); in total %s needed, %s free%s",
		s.Unplaced, s.Items, s.Largest, s.Needed, free, reserved)
}

// Plan places the first required items on the nodes, or explains why it
// cannot; the items after them are placed where room is left, and left out
// (an empty node name) where not. It tries the largest items first and puts
// each on the feasible node it fills most (best fit), which keeps whole
// nodes free for later large members; Total items come last. The result is
// deterministic: ties go to the node that comes first by rank, then name.
//
// Two passes decide where an item may go. The fast one, here, checks
// resources (after other groups' reservations) and node-level constraints
// (unschedulable, taints, node selector and required node affinity). When
// sim is not nil, the node the fast pass picks must also pass the
// profile's real Filter plugins with the group's members planned so far in
// place (sim.Fits); if it does not, the next best node is tried. Resources
// that no node lists in its allocatable (extended resources backed by
// dynamic resource allocation) are left to the real filters, and not
// reserved.
//
// CAVEAT: Total items and, without sim, inter-pod affinity, topology
// spread, ports and volumes are not planned: they are checked when each
// member is scheduled, and a member that then fits nowhere releases its
// group.
func Plan(logger klog.Logger, nodes []NodeRoom, items []Item, required int, sim Simulation) (*Placement, *Shortfall) {
	p := newPlanner(logger, nodes, items, required, nil)
	return p.planOn(p.room, sim)
}

// planner holds what plans of one group on one list of nodes share: the
// nodes in plan order, the items' needs and order, and the nodes' room
// indexed, so that the resource pass and the pass with the real filters
// (see Manager.planLocked) prepare them once.
type planner struct {
	logger   klog.Logger
	nodes    []NodeRoom
	items    []Item
	required int
	needs    []resources.List
	order    []int
	room     *roomIndex
	filters  map[*v1.Pod]*nodeFilter
}

// newPlanner prepares plans of items on nodes; hint is passed to newRoomIndex.
func newPlanner(logger klog.Logger, nodes []NodeRoom, items []Item, required int, hint []int32) *planner {
	nodes = inPlanOrder(nodes)
	// A resource is planned when some node lists it; most are found on
	// the first node looked at.
	known := map[v1.ResourceName]bool{resources.Pods: true}
	listed := func(name v1.ResourceName) bool {
		if v, ok := known[name]; ok {
			return v
		}
		for i := range nodes {
			_, inAllocatable := nodes[i].Allocatable[name]
			_, inFree := nodes[i].Free[name]
			if inAllocatable || inFree {
				known[name] = true
				return true
			}
		}
		known[name] = false
		return false
	}
	needs := make([]resources.List, len(items))
	for i := range items {
		needs[i] = resources.List{}
		for name, v := range items[i].Requests {
			if listed(name) {
				needs[i][name] = v
			}
		}
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order[:required], func(a, b int) int {
		if items[a].Total != items[b].Total {
			if items[a].Total {
				return 1
			}
			return -1
		}
		return compareSize(needs[b], needs[a])
	})
	return &planner{logger: logger, nodes: nodes, items: items, required: required, needs: needs, order: order,
		room: newRoomIndex(nodes, needs, hint), filters: map[*v1.Pod]*nodeFilter{}}
}

// plan runs one plan (see Plan) on a copy of the indexed room; last says
// it is the last, which may use the room itself.
func (p *planner) plan(sim Simulation, last bool) (*Placement, *Shortfall) {
	if last {
		return p.planOn(p.room, sim)
	}
	return p.planOn(p.room.clone(), sim)
}

// planOn plans on room, which it changes.
func (p *planner) planOn(room *roomIndex, sim Simulation) (*Placement, *Shortfall) {
	nodes, items, needs, required := p.nodes, p.items, p.needs, p.required
	// Feasibility depends only on an item's constraints: it is evaluated
	// once per distinct constraint source and node, when a node is first
	// looked at for it.
	feasibleFor := func(it *Item) func(int) bool {
		src := it.constraints()
		f := p.filters[src]
		if f == nil {
			f = newNodeFilter(src, len(nodes))
			p.filters[src] = f
		}
		return func(i int) bool { return f.admits(p.logger, i, nodes[i].Node) }
	}

	placement := &Placement{Nodes: make([]string, len(items)), PerNode: map[string]resources.List{}}
	short := &Shortfall{Needed: resources.List{}, Items: required}
	take := func(i int, need []int64, l resources.List) {
		room.take(i, need)
		name := nodes[i].Name
		if placement.PerNode[name] == nil {
			placement.PerNode[name] = resources.List{}
		}
		placement.PerNode[name].Add(l)
	}
	for _, idx := range p.order {
		it := &items[idx]
		need := needs[idx]
		vec := room.vector(need)
		if idx < required {
			short.Needed.Add(need)
		}
		feasible := feasibleFor(it)
		if it.Total {
			placed := room.spread(vec, feasible, func(i int, chunk []int64) { take(i, chunk, room.list(chunk)) })
			if !placed && idx < required {
				short.Unplaced++
				if short.Largest == nil {
					short.Largest = need.Clone()
				}
			}
			continue
		}
		var try func(int) (bool, string)
		if sim != nil {
			pod := it.constraints()
			try = func(i int) (bool, string) { return sim.Fits(pod, nodes[i].Name) }
		}
		best, filtered := room.best(vec, feasible, try)
		if best < 0 {
			if idx >= required {
				continue // optional: placed only where room is left
			}
			short.Unplaced++
			if short.Largest == nil {
				short.Largest = need.Clone()
			}
			if short.Filtered == "" {
				short.Filtered = filtered
			}
			continue
		}
		take(best, vec, need)
		placement.Nodes[idx] = nodes[best].Name
		if sim != nil {
			sim.Place(it.constraints(), nodes[best].Name)
		}
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

// comparePlanOrder is the order the planner breaks ties in: by rank, then
// by name.
func comparePlanOrder(a, b NodeRoom) int {
	return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.Name, b.Name))
}

// inPlanOrder returns nodes sorted by comparePlanOrder: nodes itself when
// already sorted (Nodes implementations keep them so), else a sorted copy.
func inPlanOrder(nodes []NodeRoom) []NodeRoom {
	if slices.IsSortedFunc(nodes, comparePlanOrder) {
		return nodes
	}
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, comparePlanOrder)
	return nodes
}

// compareSize orders requests by CPU, then memory.
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
	return nodeAdmits(logger, pod, nodeaffinity.GetRequiredNodeAffinity(pod), node)
}

func nodeAdmits(logger klog.Logger, pod *v1.Pod, affinity nodeaffinity.RequiredNodeAffinity, node *v1.Node) bool {
	if node.Spec.Unschedulable && !toleratesUnschedulable(pod) {
		return false
	}
	if _, untolerated := v1helper.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, pod.Spec.Tolerations, func(t *v1.Taint) bool {
		return t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute
	}, false); untolerated {
		return false
	}
	match, err := affinity.Match(node)
	return err == nil && match
}

// nodeFilter is NodeAdmits for one pod over the nodes of a plan, each
// node evaluated once, when first asked.
type nodeFilter struct {
	pod      *v1.Pod
	affinity nodeaffinity.RequiredNodeAffinity
	// memo[i] is 0 while node i is not evaluated, 1 if it admits, 2 if not.
	memo []int8
}

func newNodeFilter(pod *v1.Pod, nodes int) *nodeFilter {
	f := &nodeFilter{pod: pod, memo: make([]int8, nodes)}
	if pod != nil {
		f.affinity = nodeaffinity.GetRequiredNodeAffinity(pod)
	}
	return f
}

func (f *nodeFilter) admits(logger klog.Logger, i int, node *v1.Node) bool {
	if f.pod == nil || node == nil {
		return true
	}
	if f.memo[i] == 0 {
		f.memo[i] = 2
		if nodeAdmits(logger, f.pod, f.affinity, node) {
			f.memo[i] = 1
		}
	}
	return f.memo[i] == 1
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
