package podgroup

import (
	"cmp"
	"fmt"
	"math"
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
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b NodeRoom) int { return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.Name, b.Name)) })
	// free[i] is nodes[i].Free until the plan takes room there, then a
	// copy of its own (owned[i]): most nodes are only read.
	free := make([]resources.List, len(nodes))
	owned := make([]bool, len(nodes))
	for i := range nodes {
		free[i] = nodes[i].Free
	}
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
	take := func(i int, need resources.List) {
		if !owned[i] {
			free[i], owned[i] = free[i].Clone(), true
		}
		free[i].Sub(need)
		name := nodes[i].Name
		if placement.PerNode[name] == nil {
			placement.PerNode[name] = resources.List{}
		}
		placement.PerNode[name].Add(need)
	}
	for _, idx := range order {
		it := &items[idx]
		need := needs[idx]
		if idx < required {
			short.Needed.Add(need)
		}
		ok := feasibleFor(it)
		if it.Total {
			if !spread(need, free, ok, take) && idx < required {
				short.Unplaced++
				if short.Largest == nil {
					short.Largest = need.Clone()
				}
			}
			continue
		}
		best, filtered := bestNode(nodes, free, ok, need, it.constraints(), sim)
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
		take(best, need)
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

// bestNode returns the index of the feasible node with room for need that
// pod fills most and that passes sim, or -1 with the reason the real
// filters gave on the best node with room (when sim refused them all). The
// common case, the best node passing, costs one scan; otherwise the nodes
// with room are sorted once and tried in order.
func bestNode(nodes []NodeRoom, free []resources.List, ok []bool, need resources.List, pod *v1.Pod, sim Simulation) (int, string) {
	// Each node's room and leftover are read once (the scan used to compute
	// the best one's again at every comparison).
	check := fitter(need)
	best, bestLeft := -1, 0.0
	for i := range nodes {
		if !ok[i] {
			continue
		}
		if fits, left := check(free[i]); fits && (best < 0 || left < bestLeft) {
			best, bestLeft = i, left
		}
	}
	if best < 0 || sim == nil {
		return best, ""
	}
	fits, reason := sim.Fits(pod, nodes[best].Name)
	if fits {
		return best, ""
	}
	type candidate struct {
		i    int
		left float64
	}
	var rest []candidate
	for i := range nodes {
		if i == best || !ok[i] {
			continue
		}
		if fits, left := check(free[i]); fits {
			rest = append(rest, candidate{i, left})
		}
	}
	slices.SortStableFunc(rest, func(a, b candidate) int { return cmp.Compare(a.left, b.left) })
	for _, c := range rest {
		if fits, _ := sim.Fits(pod, nodes[c.i].Name); fits {
			return c.i, ""
		}
	}
	return -1, reason
}

// spread places a Total need over the feasible nodes with the most free
// CPU first, taking from each node a chunk of need's proportions (the
// largest that fits), until all of need is placed; it reports whether it
// was. Chunks keep whole pods' worth of every resource together as far as
// the nodes allow, which a Total cut by resource alone would not.
func spread(need resources.List, free []resources.List, ok []bool, take func(int, resources.List)) bool {
	left := withoutPods(need)
	if left.IsZero() {
		return true
	}
	idx := make([]int, 0, len(free))
	for i := range free {
		if ok[i] {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return -cmp.Compare(free[a][v1.ResourceCPU], free[b][v1.ResourceCPU]) })
	for _, i := range idx {
		frac := 1.0
		for name, v := range left {
			if v > 0 {
				frac = min(frac, float64(max(free[i][name], 0))/float64(v))
			}
		}
		if frac <= 0 {
			continue
		}
		chunk := resources.List{}
		for name, v := range left {
			if v > 0 {
				chunk[name] = min(int64(math.Ceil(float64(v)*frac)), free[i][name])
			}
		}
		take(i, chunk)
		left.Sub(chunk)
		if left.IsZero() {
			return true
		}
	}
	return false
}

// fitter returns, for checking one need against many nodes, whether a
// node's room holds need (need.Fits) and, if so, the leftover it would
// leave: CPU and memory are read once, the other positive amounts of need
// listed once, instead of a walk of the map for every node.
func fitter(need resources.List) func(room resources.List) (bool, float64) {
	type amount struct {
		name v1.ResourceName
		v    int64
	}
	cpu, mem := need[v1.ResourceCPU], need[v1.ResourceMemory]
	var others []amount
	for name, v := range need {
		if v > 0 && name != v1.ResourceCPU && name != v1.ResourceMemory {
			others = append(others, amount{name, v})
		}
	}
	return func(room resources.List) (bool, float64) {
		freeCPU, freeMem := room[v1.ResourceCPU], room[v1.ResourceMemory]
		if (cpu > 0 && freeCPU < cpu) || (mem > 0 && freeMem < mem) {
			return false, 0
		}
		for _, a := range others {
			if room[a.name] < a.v {
				return false, 0
			}
		}
		return true, leftoverOf(freeCPU-cpu, freeMem-mem)
	}
}

// leftoverOf scores how much of a node a request would leave unused, from
// the CPU (millicores) and memory (bytes) left: CPU first, memory to break
// ties. Lower is a tighter fit.
func leftoverOf(cpu, mem int64) float64 {
	return float64(cpu)*1e6 + float64(mem)/float64(1<<20)
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
