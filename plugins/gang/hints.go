package gang

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	schedutil "k8s.io/kubernetes/pkg/scheduler/util"

	"github.com/gangsched/gangsched/podgroup"
)

// EventsToRegister lists what can make a pod this plugin turned away
// schedulable. PodGroup changes and freed reservations need no event here:
// the plugin activates the pods concerned itself.
func (pl *Gang) EventsToRegister(_ context.Context) ([]fwk.ClusterEventWithHint, error) {
	return []fwk.ClusterEventWithHint{
		// A new member may complete a group's minMember. kube-scheduler
		// raises this event only with its GenericWorkload feature on; without
		// it the plugin activates the members itself (see
		// podgroup.Manager.UpsertPod).
		{Event: fwk.ClusterEvent{Resource: fwk.UnscheduledPod, ActionType: fwk.Add}, QueueingHintFn: pl.isSchedulableAfterMemberAdded},
		// A pod leaving a node, or shrinking, frees room for a group.
		{Event: fwk.ClusterEvent{Resource: fwk.AssignedPod, ActionType: fwk.Delete | fwk.UpdatePodScaleDown}, QueueingHintFn: pl.isSchedulableAfterRoomFreed},
		// A new or bigger node, or one that now admits the group.
		{Event: fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add | fwk.UpdateNodeAllocatable | fwk.UpdateNodeTaint | fwk.UpdateNodeLabel}, QueueingHintFn: pl.isSchedulableAfterRoomFreed},
	}, nil
}

// isSchedulableAfterMemberAdded queues a group's pods when a new member
// arrives and the group now has minMember members.
func (pl *Gang) isSchedulableAfterMemberAdded(logger klog.Logger, pod *v1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	_, added, err := schedutil.As[*v1.Pod](oldObj, newObj)
	if err != nil {
		return fwk.Queue, err
	}
	key, inGroup := podgroup.KeyOf(pod)
	addedKey, addedInGroup := podgroup.KeyOf(added)
	if !inGroup || !addedInGroup || key != addedKey {
		logger.V(5).Info("Added pod is in another group", "pod", klog.KObj(pod), "addedPod", klog.KObj(added))
		return fwk.QueueSkip, nil
	}
	if !pl.manager.MembersComplete(pod, added) {
		logger.V(5).Info("Group still lacks members", "pod", klog.KObj(pod), "podGroup", key)
		return fwk.QueueSkip, nil
	}
	return fwk.Queue, nil
}

// isSchedulableAfterRoomFreed queues the pod: more room may let its group fit.
func (pl *Gang) isSchedulableAfterRoomFreed(logger klog.Logger, pod *v1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	logger.V(5).Info("Room may have been freed", "pod", klog.KObj(pod))
	return fwk.Queue, nil
}
