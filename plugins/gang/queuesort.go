package gang

import (
	"time"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gangsched/gangsched/podgroup"
)

// queuedPod is what the scheduling queue's entries offer besides
// fwk.QueuedEntityInfo: the pod (framework.QueuedPodInfo has it).
type queuedPod interface {
	GetPodInfo() fwk.PodInfo
}

// Less orders the scheduling queue:
//  1. higher priority first;
//  2. then the older group (its PodGroup's or Spark driver's creation), a
//     pod in no group counting from when it was queued;
//  3. then by group, so a group's pods stay together;
//  4. within a group, the Spark driver first, then by creation and name.
func (pl *Gang) Less(a, b fwk.QueuedEntityInfo) bool {
	if pa, pb := a.GetPriority(), b.GetPriority(); pa != pb {
		return pa > pb
	}
	podA, podB := entityPod(a), entityPod(b)
	keyA, inA := groupKey(podA)
	keyB, inB := groupKey(podB)
	ta, tb := a.GetTimestamp(), b.GetTimestamp()
	if inA {
		ta = pl.groupTime(keyA, podA)
	}
	if inB {
		tb = pl.groupTime(keyB, podB)
	}
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	switch {
	case inA && inB && keyA == keyB:
		return podgroup.CompareMembers(podA, podB) < 0
	case inA != inB:
		return inA // groups before lone pods queued at the same instant
	case inA:
		return keyA.String() < keyB.String()
	}
	if podA != nil && podB != nil {
		return podA.Namespace+"/"+podA.Name < podB.Namespace+"/"+podB.Name
	}
	return false
}

func entityPod(e fwk.QueuedEntityInfo) *v1.Pod {
	if q, ok := e.(queuedPod); ok && q.GetPodInfo() != nil {
		return q.GetPodInfo().GetPod()
	}
	return nil
}

func groupKey(pod *v1.Pod) (podgroup.Key, bool) {
	if pod == nil {
		return podgroup.Key{}, false
	}
	return podgroup.KeyOf(pod)
}

// groupTime is the group's creation time, or the pod's own while the group
// object is unknown.
func (pl *Gang) groupTime(key podgroup.Key, pod *v1.Pod) time.Time {
	if t := pl.manager.CreationTime(key); !t.IsZero() {
		return t
	}
	return pod.CreationTimestamp.Time
}
