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
//  2. then the pods of groups holding reserved room, so room set aside for
//     an admitted group is used as soon as its members exist, not after a
//     wait behind groups that cannot start yet;
//  3. then pods in no group, by when they were queued: each needs room on
//     one node now and holds nothing while it waits, so it takes what room
//     is free (never room reserved or drained for a group) instead of
//     waiting behind a backlog of groups that admission holds back anyway;
//  4. then the older group (its PodGroup's or Spark driver's creation);
//  5. then by group, so a group's pods stay together;
//  6. within a group, the Spark driver first, then by creation and name.
//
// The queue's heap keeps an entry where it was put: a group admitted while
// its pods wait keeps their place, but the members created after admission
// (a Spark driver's executors) are put first.
func (pl *Gang) Less(a, b fwk.QueuedEntityInfo) bool {
	if pa, pb := a.GetPriority(), b.GetPriority(); pa != pb {
		return pa > pb
	}
	podA, podB := entityPod(a), entityPod(b)
	keyA, inA := groupKey(podA)
	keyB, inB := groupKey(podB)
	ta, tb := a.GetTimestamp(), b.GetTimestamp()
	var roomA, roomB bool
	if inA {
		roomA, ta = pl.groupOrder(keyA, podA)
	}
	if inB {
		roomB, tb = pl.groupOrder(keyB, podB)
	}
	if roomA != roomB {
		return roomA
	}
	if inA != inB && !roomA {
		return !inA
	}
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	switch {
	case inA && inB && keyA == keyB:
		return podgroup.CompareMembers(podA, podB) < 0
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

// groupOrder is whether the group holds reserved room, and its creation
// time, or the pod's own while the group object is unknown.
func (pl *Gang) groupOrder(key podgroup.Key, pod *v1.Pod) (bool, time.Time) {
	room, t := pl.manager.QueueOrder(key)
	if t.IsZero() {
		t = pod.CreationTimestamp.Time
	}
	return room, t
}
