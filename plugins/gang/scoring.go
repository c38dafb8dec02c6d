package gang

import (
	"context"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
)

// PreScore skips scoring for pods whose group holds no room.
func (pl *Gang) PreScore(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodes []fwk.NodeInfo) *fwk.Status {
	if s, err := getPreFilterState(state); err != nil || s.own == nil {
		return fwk.NewStatus(fwk.Skip)
	}
	return nil
}

// Score prefers the nodes where the pod's group reserved room: a node whose
// reservation covers the whole pod scores highest, one that covers part of
// it in proportion. Members thus land in their group's room, which keeps
// the rest of the cluster free for others.
func (pl *Gang) Score(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodeInfo fwk.NodeInfo) (int64, *fwk.Status) {
	s, err := getPreFilterState(state)
	if err != nil {
		return 0, fwk.AsStatus(err)
	}
	if s.own == nil {
		return 0, nil
	}
	var buf [8]int64
	own := s.amounts(&buf)
	if !s.own(nodeInfo.Node().Name, s.names, own) {
		return 0, nil
	}
	// The share of the pod's request the reservation covers, by its least
	// covered resource.
	covered := 1.0
	for i, want := range s.wants {
		covered = min(covered, float64(min(own[i], want))/float64(want))
	}
	return int64(covered * float64(fwk.MaxScore)), nil
}

// ScoreExtensions returns nil: scores are already in [0, MaxNodeScore].
func (pl *Gang) ScoreExtensions() fwk.ScoreExtensions { return nil }
