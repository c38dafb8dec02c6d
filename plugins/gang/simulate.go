package gang

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/gangsched/gangsched/podgroup"
)

// simulatingKey marks a CycleState built by a simulation: the plugin's own
// PreFilter skips such a cycle (the Manager is already deciding), and so
// its Filter does too.
const simulatingKey fwk.StateKey = "gangsched.io/simulating"

type simulatingMark struct{}

func (simulatingMark) Clone() fwk.StateData { return simulatingMark{} }

func simulating(state fwk.CycleState) bool {
	_, err := state.Read(simulatingKey)
	return err == nil
}

// preFilterRunner is the part of kube-scheduler's framework (the handle
// every plugin gets is one) that runs a profile's PreFilter plugins for a
// pod of our choosing; fwk.Handle exposes only the Filter side.
type preFilterRunner interface {
	RunPreFilterPlugins(ctx context.Context, state fwk.CycleState, pod *v1.Pod) (*fwk.PreFilterResult, *fwk.Status, sets.Set[string])
}

// simulation places a group's members on the scheduling cycle's snapshot
// and checks each against the profile's own Filter plugins, as
// kube-scheduler's pod-group cycle (pkg/scheduler/schedule_one_podgroup.go)
// checks its gangs: every member is filtered with the members placed
// before it in place (added to a copy of their node's NodeInfo, and to the
// member's PreFilter state through the AddPod extensions), so inter-pod
// (anti-)affinity, topology spread, host ports and volume limits between
// members are planned, not discovered one member at a time. Nothing of the
// scheduler's own cache or snapshot changes.
//
// CAVEAT: devices of dynamic resource allocation are not set aside
// between members (the DynamicResources plugin does that in Reserve), and
// members not created yet carry no volumes or resource claims.
type simulation struct {
	ctx    context.Context
	runner preFilterRunner
	h      fwk.Handle
	// infoOf finds a node of the snapshot; changed holds the copies that
	// differ (members placed, pods removed).
	infoOf  func(node string) fwk.NodeInfo
	changed map[string]fwk.NodeInfo
	// placed are the members placed so far, and removed the pods taken
	// out, with their nodes.
	placed  []placedPod
	removed []placedPod
	states  map[*v1.Pod]*memberCycle
	// podInfos holds the PodInfo each placed pod's copies start from.
	podInfos map[*v1.Pod]*framework.PodInfo
}

type placedPod struct {
	info fwk.PodInfo
	node string
}

// memberCycle is one member pod's simulated cycle: its PreFilter state,
// brought up to date with the placements made since (applied counts them).
type memberCycle struct {
	state   fwk.CycleState
	nodes   sets.Set[string] // nil: every node
	status  *fwk.Status      // a PreFilter refusal, for every node
	applied int
}

// Simulate starts a simulation on the snapshot, as if removed were gone;
// nil when the handle cannot run PreFilter plugins.
func (s *snapshotNodes) Simulate(removed []*v1.Pod) podgroup.Simulation {
	runner, ok := s.handle.(preFilterRunner)
	if !ok {
		return nil
	}
	sim := &simulation{ctx: s.ctx, runner: runner, h: s.handle, infoOf: s.infoOf(),
		changed: map[string]fwk.NodeInfo{}, states: map[*v1.Pod]*memberCycle{}}
	logger := klog.FromContext(s.ctx)
	for _, p := range removed {
		ni := sim.mutable(p.Spec.NodeName)
		if ni == nil {
			continue
		}
		if err := ni.RemovePod(logger, p); err != nil {
			continue
		}
		pi, err := framework.NewPodInfo(p)
		if err != nil {
			continue
		}
		sim.removed = append(sim.removed, placedPod{info: pi, node: p.Spec.NodeName})
	}
	return sim
}

// mutable returns the node's NodeInfo copy to change, nil for an unknown node.
func (s *simulation) mutable(node string) fwk.NodeInfo {
	if ni := s.changed[node]; ni != nil {
		return ni
	}
	ni := s.infoOf(node)
	if ni == nil {
		return nil
	}
	ni = ni.Snapshot()
	s.changed[node] = ni
	return ni
}

func (s *simulation) nodeInfo(node string) fwk.NodeInfo {
	if ni := s.changed[node]; ni != nil {
		return ni
	}
	return s.infoOf(node)
}

// infoOf returns a lookup of the snapshot's nodes by name: the cycle's
// own snapshot (kube-scheduler keeps it by name) when the handle has one,
// else a map of s.infos.
func (s *snapshotNodes) infoOf() func(string) fwk.NodeInfo {
	if lister := s.handle.SnapshotSharedLister(); lister != nil {
		infos := lister.NodeInfos()
		return func(node string) fwk.NodeInfo {
			ni, err := infos.Get(node)
			if err != nil || ni == nil || ni.Node() == nil {
				return nil
			}
			return ni
		}
	}
	byName := make(map[string]fwk.NodeInfo, len(s.infos))
	for _, ni := range s.infos {
		if ni.Node() != nil {
			byName[ni.Node().Name] = ni
		}
	}
	return func(node string) fwk.NodeInfo { return byName[node] }
}

// cycle returns pod's simulated cycle, running the PreFilter plugins the
// first time and the AddPod extensions for placements made since.
func (s *simulation) cycle(pod *v1.Pod) *memberCycle {
	mc := s.states[pod]
	if mc == nil {
		state := framework.NewCycleState()
		state.Write(simulatingKey, simulatingMark{})
		mc = &memberCycle{state: state}
		s.states[pod] = mc
		result, status, _ := s.runner.RunPreFilterPlugins(s.ctx, state, pod)
		if !status.IsSuccess() {
			mc.status = status
			return mc
		}
		if !result.AllNodes() {
			mc.nodes = result.NodeNames
		}
		for _, r := range s.removed {
			if st := s.h.RunPreFilterExtensionRemovePod(s.ctx, state, pod, r.info, s.nodeInfo(r.node)); !st.IsSuccess() {
				mc.status = st
				return mc
			}
		}
	}
	for ; mc.status == nil && mc.applied < len(s.placed); mc.applied++ {
		p := s.placed[mc.applied]
		if st := s.h.RunPreFilterExtensionAddPod(s.ctx, mc.state, pod, p.info, s.nodeInfo(p.node)); !st.IsSuccess() {
			mc.status = st
		}
	}
	return mc
}

// Fits runs the profile's Filter plugins for pod on node.
func (s *simulation) Fits(pod *v1.Pod, node string) (bool, string) {
	mc := s.cycle(pod)
	if mc.status != nil {
		return false, mc.status.Message()
	}
	if mc.nodes != nil && !mc.nodes.Has(node) {
		return false, "node is not among those PreFilter allows"
	}
	ni := s.nodeInfo(node)
	if ni == nil {
		return false, "node not in the snapshot"
	}
	if st := s.h.RunFilterPlugins(s.ctx, mc.state, pod, ni); !st.IsSuccess() {
		return false, st.Message()
	}
	return true, ""
}

// Place adds a copy of pod, named and identified as a pod of its own, to
// node's NodeInfo copy. The copies of one pod share its PodInfo's
// affinity terms and computed requests (built once), and all but their
// name, UID and node (the copy is shallow: nothing changes it).
func (s *simulation) Place(pod *v1.Pod, node string) {
	ni := s.mutable(node)
	if ni == nil {
		return
	}
	base := s.podInfos[pod]
	if base == nil {
		var err error
		if base, err = framework.NewPodInfo(pod); err != nil {
			return
		}
		base.CalculateResource()
		if s.podInfos == nil {
			s.podInfos = map[*v1.Pod]*framework.PodInfo{}
		}
		s.podInfos[pod] = base
	}
	p := *pod
	n := len(s.placed)
	p.Name = fmt.Sprintf("%s-planned-%d", pod.Name, n)
	p.UID = types.UID(fmt.Sprintf("%s-planned-%d", pod.UID, n))
	p.Spec.NodeName = node
	pi := *base
	pi.Pod = &p
	ni.AddPodInfo(&pi)
	s.placed = append(s.placed, placedPod{info: &pi, node: node})
}
