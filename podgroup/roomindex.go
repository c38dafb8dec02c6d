package podgroup

import (
	"cmp"
	"math"
	"slices"

	v1 "k8s.io/api/core/v1"

	"github.com/gangsched/gangsched/resources"
)

// roomIndex is a plan's working copy of the nodes' free room: one dense
// vector per node (an int64 per planned resource, CPU and memory first),
// and the nodes ordered by free CPU, then free memory, then their place in
// the plan's node order. Best fit, the node a need fills most, is then the
// first node from a binary search that has room in every resource, instead
// of the winner of a scan of every node's maps for every member.
type roomIndex struct {
	// dims are the resources planned: cpu, memory, then the others any
	// item needs, sorted; pods is the index of resources.Pods (-1: none).
	dims  []v1.ResourceName
	pods  int
	width int
	// free[i*width+d] is node i's free amount of dims[d].
	free []int64
	// order holds every node's free CPU and memory, ascending by (cpu,
	// memory, index).
	order []nodeKey
}

// nodeKey is where a node stands in the order of best fit.
type nodeKey struct {
	cpu, mem int64
	i        int32
}

func compareKeys(a, b nodeKey) int {
	return cmp.Or(cmp.Compare(a.cpu, b.cpu), cmp.Compare(a.mem, b.mem), cmp.Compare(a.i, b.i))
}

const (
	cpuDim = 0
	memDim = 1
)

// newRoomIndex indexes the free room of nodes in the resources of needs.
// hint, when it holds as many nodes, is the order of an earlier index on
// the same nodes: sorting starts from it, which costs little when few
// nodes changed since (pdqsort finds the runs already in order).
func newRoomIndex(nodes []NodeRoom, needs []resources.List, hint []int32) *roomIndex {
	x := &roomIndex{dims: []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory}, pods: -1}
	var others []v1.ResourceName
	for _, need := range needs {
		for name := range need {
			if name != v1.ResourceCPU && name != v1.ResourceMemory && !slices.Contains(others, name) {
				others = append(others, name)
			}
		}
	}
	slices.Sort(others)
	x.dims = append(x.dims, others...)
	x.width = len(x.dims)
	if i := slices.Index(x.dims, resources.Pods); i >= 0 {
		x.pods = i
	}
	x.free = make([]int64, len(nodes)*x.width)
	x.order = make([]nodeKey, len(nodes))
	for i := range nodes {
		row := x.row(i)
		for d, name := range x.dims {
			row[d] = nodes[i].free(name)
		}
		x.order[i] = x.key(i)
	}
	if len(hint) == len(nodes) {
		for k, i := range hint {
			x.order[k] = x.key(int(i))
		}
	}
	slices.SortFunc(x.order, compareKeys)
	return x
}

// vector returns l's amounts in the index's dims.
func (x *roomIndex) vector(l resources.List) []int64 {
	v := make([]int64, x.width)
	for d, name := range x.dims {
		v[d] = l[name]
	}
	return v
}

// list returns the non-zero amounts of v as a List.
func (x *roomIndex) list(v []int64) resources.List {
	l := resources.List{}
	for d, a := range v {
		if a != 0 {
			l[x.dims[d]] = a
		}
	}
	return l
}

// nodeOrder returns the node indices in order, a hint for the next index.
func (x *roomIndex) nodeOrder(into []int32) []int32 {
	into = into[:0]
	for _, k := range x.order {
		into = append(into, k.i)
	}
	return into
}

// clone returns a copy to plan on.
func (x *roomIndex) clone() *roomIndex {
	c := *x
	c.free = slices.Clone(x.free)
	c.order = slices.Clone(x.order)
	return &c
}

func (x *roomIndex) row(i int) []int64 { return x.free[i*x.width : (i+1)*x.width] }

func (x *roomIndex) key(i int) nodeKey {
	row := x.row(i)
	return nodeKey{cpu: row[cpuDim], mem: row[memDim], i: int32(i)}
}

// fits reports whether node i has room for every positive amount of need.
func (x *roomIndex) fits(i int, need []int64) bool {
	row := x.row(i)
	for d, v := range need {
		if v > 0 && row[d] < v {
			return false
		}
	}
	return true
}

// first returns the first position in order that may fit need: nodes
// before it have less CPU than need, or as much CPU and less memory. A
// need of no CPU starts at the first node (a node's free CPU may be below
// zero, and such a need still fits there).
func (x *roomIndex) first(need []int64) int {
	cpu, mem := need[cpuDim], need[memDim]
	if cpu <= 0 {
		return 0
	}
	pos, _ := slices.BinarySearchFunc(x.order, nodeKey{cpu: cpu, mem: mem, i: -1}, compareKeys)
	return pos
}

// best walks the nodes from the tightest fit up and returns the first that
// has room for need, is feasible and passes try (nil: any), or -1 with the
// reason try gave on the first node it refused.
func (x *roomIndex) best(need []int64, feasible func(int) bool, try func(int) (bool, string)) (int, string) {
	reason := ""
	for _, k := range x.order[x.first(need):] {
		i := int(k.i)
		if !x.fits(i, need) || !feasible(i) {
			continue
		}
		if try == nil {
			return i, ""
		}
		ok, why := try(i)
		if ok {
			return i, ""
		}
		if reason == "" {
			reason = why
		}
	}
	return -1, reason
}

// take subtracts need from node i's room and moves the node to its new
// place in order.
func (x *roomIndex) take(i int, need []int64) {
	pos, found := slices.BinarySearchFunc(x.order, x.key(i), compareKeys)
	if !found {
		panic("roomIndex: node not in order")
	}
	row := x.row(i)
	for d, v := range need {
		row[d] -= v
	}
	// The node moves only between its old place and its new one: shift
	// the nodes in between by one, not the whole tail twice.
	k := x.key(i)
	if c := compareKeys(k, x.order[pos]); c < 0 {
		to, _ := slices.BinarySearchFunc(x.order[:pos], k, compareKeys)
		copy(x.order[to+1:pos+1], x.order[to:pos])
		x.order[to] = k
	} else if c > 0 {
		to, _ := slices.BinarySearchFunc(x.order[pos+1:], k, compareKeys)
		to += pos
		copy(x.order[pos:to], x.order[pos+1:to+1])
		x.order[to] = k
	}
}

// spread places a Total need over the feasible nodes with the most free
// CPU first, taking from each node a chunk of need's proportions (the
// largest that fits), until all of need is placed; it reports whether it
// was. Chunks keep whole pods' worth of every resource together as far as
// the nodes allow, which a Total cut by resource alone would not.
func (x *roomIndex) spread(need []int64, feasible func(int) bool, take func(int, []int64)) bool {
	left := slices.Clone(need)
	if x.pods >= 0 {
		left[x.pods] = 0
	}
	if !anyPositive(left) {
		return true
	}
	var idx []int
	for i := range len(x.order) {
		if feasible(i) {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return -cmp.Compare(x.row(a)[cpuDim], x.row(b)[cpuDim]) })
	for _, i := range idx {
		row := x.row(i)
		frac := 1.0
		for d, v := range left {
			if v > 0 {
				frac = min(frac, float64(max(row[d], 0))/float64(v))
			}
		}
		if frac <= 0 {
			continue
		}
		chunk := make([]int64, x.width)
		for d, v := range left {
			if v > 0 {
				chunk[d] = min(int64(math.Ceil(float64(v)*frac)), row[d])
			}
		}
		take(i, chunk)
		for d := range left {
			left[d] -= chunk[d]
		}
		if !anyPositive(left) {
			return true
		}
	}
	return false
}

func anyPositive(v []int64) bool {
	for _, a := range v {
		if a > 0 {
			return true
		}
	}
	return false
}
