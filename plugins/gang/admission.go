package gang

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
)

const (
	// preFilterStateKey is where PreFilter leaves its state for Filter and Score.
	preFilterStateKey = "PreFilter" + Name

	// ErrReasonReserved is Filter's reason when a node's free room is held
	// for other pod groups.
	ErrReasonReserved = "node's free room is reserved for other pod groups"
	// ErrReasonDraining is Filter's reason when a node's room is held for a
	// pod group that waited past the starvation threshold.
	ErrReasonDraining = "node is draining for a starving pod group"
	// ErrReasonOutsideDomain is Filter's reason for a node outside the
	// topology domain the pod's group was admitted in.
	ErrReasonOutsideDomain = "node is outside the pod group's topology domain"
)

// preFilterState is what PreFilter works out once per pod.
type preFilterState struct {
	// names and wants are what the pod requests (pods included), each
	// resource it asks more than nothing of and how much.
	names []v1.ResourceName
	wants []int64
	// held reads the room other groups hold on a node (nil when no group
	// holds any), from the Manager at the time: a copy of the room by node
	// in every pod's cycle cost most of the cycle at 5,000 nodes.
	held roomOn
	// own reads the room the pod's group holds on a node (nil if none).
	own roomOn
	// drained are the nodes reserved for a starving group (nil if none).
	drained map[string]bool
	// noRoom is set when the pod's group was turned away for lack of room.
	noRoom bool
	// domainLabel and domainValue are the node label and value of the
	// domain the pod's group is confined to ("" for none).
	domainLabel, domainValue string
}

// roomOn writes into out the amount of each of names reserved on node,
// and reports whether there is room reserved there.
type roomOn func(node string, names []v1.ResourceName, out []int64) bool

// newPreFilterState starts the state of a pod that requests requests.
func newPreFilterState(requests resources.List) *preFilterState {
	s := &preFilterState{}
	for _, name := range requests.Names() {
		if want := requests[name]; want > 0 {
			s.names = append(s.names, name)
			s.wants = append(s.wants, want)
		}
	}
	return s
}

// amounts returns a buffer for the amounts of s.names: buf's array when
// they are few.
func (s *preFilterState) amounts(buf *[8]int64) []int64 {
	if len(s.names) <= len(buf) {
		return buf[:len(s.names)]
	}
	return make([]int64, len(s.names))
}

// Clone returns the state itself: nothing writes it after PreFilter but
// release, once the cycle's Filter and Score are done.
func (s *preFilterState) Clone() fwk.StateData { return s }

// release drops what Filter and Score read once they are done with the
// pod (Reserve). The cycle's state lives on while the pod waits in Permit
// for the rest of its gang: hundreds of members with a map of the drained
// nodes each add up.
func (s *preFilterState) release() {
	s.held, s.own, s.drained = nil, nil, nil
}

func getPreFilterState(state fwk.CycleState) (*preFilterState, error) {
	c, err := state.Read(preFilterStateKey)
	if err != nil {
		return nil, fmt.Errorf("reading %q from cycleState: %w", preFilterStateKey, err)
	}
	s, ok := c.(*preFilterState)
	if !ok {
		return nil, fmt.Errorf("%+v convert to gang.preFilterState error", c)
	}
	return s, nil
}

// PreEnqueue keeps a PodGroup's members out of the active queue until
// minMember of them exist. The first time a pod is held, it is told why (a
// PodScheduled condition and an Event, written in the background).
func (pl *Gang) PreEnqueue(ctx context.Context, pod *v1.Pod) *fwk.Status {
	msg, notify := pl.manager.Gate(pod)
	if msg == "" {
		return nil
	}
	if notify {
		pl.status.notifyPod(pod, msg)
	}
	return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, msg)
}

// PreFilter admits the pod's group (see podgroup.Manager.Admit) and works
// out the reservations Filter must respect. Pods in no group skip the plugin
// while nothing is reserved.
func (pl *Gang) PreFilter(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodes []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	if simulating(state) {
		return nil, fwk.NewStatus(fwk.Skip) // a member planned by Admit itself
	}
	// After a restart or failover, reservations left by the previous
	// instance are taken up before any pod can take their room.
	if pl.manager.NeedsRestore() {
		pl.act(ctx, pl.manager.Restore(klog.FromContext(ctx), pl.snapshot(ctx, nodes)))
	}
	key, inGroup := podgroup.KeyOf(pod)
	if !inGroup {
		if !pl.manager.HasReservations() {
			return nil, fwk.NewStatus(fwk.Skip)
		}
		s := newPreFilterState(resources.PodRequests(pod))
		s.held, s.drained = pl.heldByOthers(nil), pl.manager.DrainedNodes(nil)
		state.Write(preFilterStateKey, s)
		return nil, nil
	}
	adm := pl.manager.Admit(klog.FromContext(ctx), pod, pl.snapshot(ctx, nodes))
	pl.act(ctx, adm.Actions)
	if !adm.Admitted {
		// PostFilter preempts for a group turned away for lack of room
		// only: that refusal is one preemption may resolve.
		state.Write(preFilterStateKey, &preFilterState{noRoom: adm.NoRoom})
		code := fwk.UnschedulableAndUnresolvable
		if adm.NoRoom {
			code = fwk.Unschedulable
		}
		return nil, fwk.NewStatus(code, adm.Message)
	}
	s := newPreFilterState(resources.PodRequests(pod))
	s.drained = pl.manager.DrainedNodes(&key)
	if pl.manager.HasReservations() {
		s.held = pl.heldByOthers(&key)
	}
	if pl.manager.Reserves(key) {
		s.own = func(node string, names []v1.ResourceName, out []int64) bool {
			return pl.manager.OwnOn(key, node, names, out)
		}
	}
	state.Write(preFilterStateKey, s)
	// A group admitted in one domain of a required topology places all
	// its members there: the PreFilter result narrows the nodes, and
	// Filter checks the nodes kube-scheduler tries first without it (a
	// nominated node, a batching hint).
	if label, value, ok := pl.manager.Domain(key); ok {
		s.domainLabel, s.domainValue = label, value
		names := sets.New[string]()
		for _, n := range nodes {
			if n.Node().Labels[label] == value {
				names.Insert(n.Node().Name)
			}
		}
		return &fwk.PreFilterResult{NodeNames: names}, nil
	}
	return nil, nil
}

// heldByOthers reads the room groups other than exclude hold on a node.
func (pl *Gang) heldByOthers(exclude *podgroup.Key) roomOn {
	return func(node string, names []v1.ResourceName, out []int64) bool {
		return pl.manager.HeldOn(node, exclude, names, out)
	}
}

// PreFilterExtensions returns nil: reservations do not depend on which other
// pods a preemption dry run adds or removes.
func (pl *Gang) PreFilterExtensions() fwk.PreFilterExtensions { return nil }

// Filter keeps the pod off room that other groups hold on the node.
func (pl *Gang) Filter(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodeInfo fwk.NodeInfo) *fwk.Status {
	s, err := getPreFilterState(state)
	if err != nil {
		return fwk.AsStatus(err)
	}
	if s.domainLabel != "" && nodeInfo.Node().Labels[s.domainLabel] != s.domainValue {
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, ErrReasonOutsideDomain)
	}
	if s.held == nil {
		return nil
	}
	var buf [8]int64
	held := s.amounts(&buf)
	if !s.held(nodeInfo.Node().Name, s.names, held) {
		return nil
	}
	for i, name := range s.names {
		// Only what the reservations hold can be kept from the pod; the
		// rest (extended resources backed by dynamic resource allocation,
		// which no node lists in its allocatable) is NodeResourcesFit's.
		if held[i] <= 0 {
			continue
		}
		if free := amountOf(nodeInfo.GetAllocatable(), name) - requestedOf(nodeInfo, name) - held[i]; free < s.wants[i] {
			if s.drained[nodeInfo.Node().Name] {
				return fwk.NewStatus(fwk.Unschedulable, ErrReasonDraining)
			}
			return fwk.NewStatus(fwk.Unschedulable, ErrReasonReserved)
		}
	}
	return nil
}

// PostFilter runs when the pod fits on no node.
//
// For a group member: a member of an admitted group that has not reached
// minMember releases the whole group; a pending group turned away for lack
// of room preempts whole groups (see podgroup.Manager.Preempt). For a pod
// in no group, kube-scheduler's default preemption runs, with victims
// limited to pods in no group, so that no group is ever preempted in part.
// A pod kept off reserved room is activated when that room is freed.
func (pl *Gang) PostFilter(ctx context.Context, state fwk.CycleState, pod *v1.Pod, statuses fwk.NodeToStatusReader) (*fwk.PostFilterResult, *fwk.Status) {
	s, _ := getPreFilterState(state)
	if pl.keptOffReservedRoom(statuses) {
		pl.manager.NoteBlocked(pod)
	}
	if _, inGroup := podgroup.KeyOf(pod); !inGroup {
		return pl.lonePreemption.PostFilter(ctx, state, pod, statuses)
	}
	pl.act(ctx, pl.manager.Unplaceable(pod, "no node passes the filters"))
	if s == nil || !s.noRoom {
		return nil, fwk.NewStatus(fwk.Unschedulable)
	}
	nodeInfos, err := pl.handle.SnapshotSharedLister().NodeInfos().List()
	if err != nil {
		return nil, fwk.AsStatus(err)
	}
	// The victims' evictions are among the actions (Actions.Delete).
	plan, acts := pl.manager.Preempt(klog.FromContext(ctx), pod, pl.snapshot(ctx, nodeInfos), pl.disruptionAllowed)
	pl.act(ctx, acts)
	return nil, fwk.NewStatus(fwk.Unschedulable, "preemption: "+plan.Message)
}

// keptOffReservedRoom reports whether Filter turned the pod away from some
// node for room that groups hold, so that the pod is activated when
// reserved room is freed.
func (pl *Gang) keptOffReservedRoom(statuses fwk.NodeToStatusReader) bool {
	nodes, err := statuses.NodesForStatusCode(pl.handle.SnapshotSharedLister().NodeInfos(), fwk.Unschedulable)
	if err != nil {
		return false
	}
	for _, n := range nodes {
		for _, r := range statuses.Get(n.Node().Name).Reasons() {
			if r == ErrReasonReserved || r == ErrReasonDraining {
				return true
			}
		}
	}
	return false
}

// snapshotNodes is the scheduler's snapshot as podgroup.Nodes; it builds
// the planner's view once, and simulates plans on it (Simulate).
type snapshotNodes struct {
	ctx    context.Context
	handle fwk.Handle
	infos  []fwk.NodeInfo
	rooms  []podgroup.NodeRoom
	// cache keeps the planner's view of nodes that did not change since
	// an earlier cycle (nil: none).
	cache *roomCache
}

// snapshot wraps the cycle's nodes for the Manager.
func (pl *Gang) snapshot(ctx context.Context, infos []fwk.NodeInfo) *snapshotNodes {
	return &snapshotNodes{ctx: ctx, handle: pl.handle, infos: infos, cache: &pl.rooms}
}

// Version combines the node count with the newest NodeInfo generation:
// kube-scheduler bumps a node's generation, from one global counter, on
// every change of the node or its pods.
func (s *snapshotNodes) Version() uint64 {
	var newest int64
	for _, ni := range s.infos {
		newest = max(newest, ni.GetGeneration())
	}
	return uint64(newest)<<20 ^ uint64(len(s.infos))
}

// Rooms turns the snapshot into the planner's view.
func (s *snapshotNodes) Rooms() []podgroup.NodeRoom {
	if s.rooms == nil {
		s.rooms = s.cache.nodeRooms(s.infos)
	}
	return s.rooms
}

// Pods lists the pods on each node.
func (s *snapshotNodes) Pods() map[string][]*v1.Pod {
	out := make(map[string][]*v1.Pod, len(s.infos))
	for _, ni := range s.infos {
		if ni.Node() == nil {
			continue
		}
		pods := make([]*v1.Pod, 0, len(ni.GetPods()))
		for _, pi := range ni.GetPods() {
			pods = append(pods, pi.GetPod())
		}
		out[ni.Node().Name] = pods
	}
	return out
}

// roomCache is the planner's view of each node, kept from one cycle to the
// next with the NodeInfo generation it was built from: kube-scheduler bumps
// a node's generation on every change of the node or its pods, so a node is
// turned into a NodeRoom again only when it changed. The planner and the
// Manager never change a NodeRoom's lists (they copy before they write).
// The view is handed out sorted by name, the planner's order, and sorted
// again only when the snapshot's list of nodes changes.
type roomCache struct {
	mu sync.Mutex
	// names is the snapshot's node order last seen and rooms the view of
	// each, in that order; sorted[k] is the index in rooms of the k-th
	// node by name.
	names  []string
	rooms  []cachedRoom
	sorted []int
}

type cachedRoom struct {
	generation int64
	room       podgroup.NodeRoom
}

// nodeRooms turns the scheduler's snapshot into the planner's view, sorted
// by name; a nil cache builds every node's.
func (c *roomCache) nodeRooms(infos []fwk.NodeInfo) []podgroup.NodeRoom {
	if c == nil {
		rooms := make([]podgroup.NodeRoom, 0, len(infos))
		for _, ni := range infos {
			if ni.Node() != nil {
				rooms = append(rooms, newRoom(ni))
			}
		}
		slices.SortFunc(rooms, func(a, b podgroup.NodeRoom) int { return cmp.Compare(a.Name, b.Name) })
		return rooms
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	nodes := make([]fwk.NodeInfo, 0, len(infos))
	for _, ni := range infos {
		if ni.Node() != nil {
			nodes = append(nodes, ni)
		}
	}
	if !c.sameNodes(nodes) {
		c.relist(nodes)
	}
	for i, ni := range nodes {
		if cached := &c.rooms[i]; cached.generation != ni.GetGeneration() || cached.room.Node != ni.Node() {
			*cached = cachedRoom{generation: ni.GetGeneration(), room: newRoom(ni)}
		}
	}
	rooms := make([]podgroup.NodeRoom, len(c.sorted))
	for k, i := range c.sorted {
		rooms[k] = c.rooms[i].room
	}
	return rooms
}

// sameNodes reports whether nodes are the nodes last seen, in that order.
func (c *roomCache) sameNodes(nodes []fwk.NodeInfo) bool {
	if len(nodes) != len(c.names) {
		return false
	}
	for i, ni := range nodes {
		if ni.Node().Name != c.names[i] {
			return false
		}
	}
	return true
}

// relist takes a new list of nodes: the views of nodes seen before are
// kept (nodeRooms checks their generation), the order by name computed again.
func (c *roomCache) relist(nodes []fwk.NodeInfo) {
	old := make(map[string]cachedRoom, len(c.rooms))
	for _, r := range c.rooms {
		old[r.room.Name] = r
	}
	c.names = make([]string, len(nodes))
	c.rooms = make([]cachedRoom, len(nodes))
	c.sorted = make([]int, len(nodes))
	for i, ni := range nodes {
		c.names[i] = ni.Node().Name
		c.sorted[i] = i
		if r, ok := old[c.names[i]]; ok {
			c.rooms[i] = r
		} else {
			c.rooms[i].generation = -1 // built by nodeRooms
		}
	}
	slices.SortFunc(c.sorted, func(a, b int) int { return cmp.Compare(c.names[a], c.names[b]) })
}

// newRoom builds the planner's view of one node.
func newRoom(ni fwk.NodeInfo) podgroup.NodeRoom {
	node := ni.Node()
	alloc := toList(ni.GetAllocatable(), int64(ni.GetAllocatable().GetAllowedPodNumber()))
	free := alloc.Clone()
	free.Sub(toList(ni.GetRequested(), int64(len(ni.GetPods()))))
	return podgroup.NodeRoom{Name: node.Name, Node: node, Free: free, Allocatable: alloc}.WithCore()
}

func toList(r fwk.Resource, pods int64) resources.List {
	l := resources.List{
		v1.ResourceCPU:              r.GetMilliCPU(),
		v1.ResourceMemory:           r.GetMemory(),
		v1.ResourceEphemeralStorage: r.GetEphemeralStorage(),
		resources.Pods:              pods,
	}
	for name, v := range r.GetScalarResources() {
		l[name] = v
	}
	return l
}

// amountOf reads one resource of a node's allocatable.
func amountOf(r fwk.Resource, name v1.ResourceName) int64 {
	switch name {
	case v1.ResourceCPU:
		return r.GetMilliCPU()
	case v1.ResourceMemory:
		return r.GetMemory()
	case v1.ResourceEphemeralStorage:
		return r.GetEphemeralStorage()
	case resources.Pods:
		return int64(r.GetAllowedPodNumber())
	}
	return r.GetScalarResources()[name]
}

// requestedOf reads one resource requested on a node, pods counted.
func requestedOf(ni fwk.NodeInfo, name v1.ResourceName) int64 {
	if name == resources.Pods {
		return int64(len(ni.GetPods()))
	}
	return amountOf(ni.GetRequested(), name)
}
