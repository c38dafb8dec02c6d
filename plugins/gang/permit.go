package gang

import (
	"context"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	fwk "k8s.io/kube-scheduler/framework"
)

// Reserve takes the member's room from its group's reservation.
func (pl *Gang) Reserve(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodeName string) *fwk.Status {
	pl.manager.Assume(pod, nodeName)
	return nil
}

// Unreserve gives the room back; before the group reached minMember, the
// whole group is released and its other waiting members rejected.
func (pl *Gang) Unreserve(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodeName string) {
	if pl.deleted(pod) {
		pl.act(ctx, pl.manager.ForgetDeleted(pod))
		return
	}
	pl.act(ctx, pl.manager.Forget(pod))
}

// deleted reports whether the scheduler's informer saw pod deleted, or
// being deleted: kube-scheduler rejects a pod deleted while it waits in
// Permit, and the Unreserve that follows should say so.
func (pl *Gang) deleted(pod *v1.Pod) bool {
	p, err := pl.handle.SharedInformerFactory().Core().V1().Pods().Lister().Pods(pod.Namespace).Get(pod.Name)
	if apierrors.IsNotFound(err) {
		return true
	}
	return err == nil && (p.UID != pod.UID || p.DeletionTimestamp != nil)
}

// Permit lets a member bind once minMember members of its group are placed,
// releasing the ones that waited with it; until then it waits, at most until
// the group's permit deadline.
func (pl *Gang) Permit(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodeName string) (*fwk.Status, time.Duration) {
	d := pl.manager.Permit(pod)
	pl.act(ctx, d.Actions)
	switch {
	case d.Allow:
		return nil, 0
	case d.Wait > 0:
		return fwk.NewStatus(fwk.Wait, d.Message), d.Wait
	}
	return fwk.NewStatus(fwk.Unschedulable, d.Message), 0
}

// PostBind records the binding.
func (pl *Gang) PostBind(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodeName string) {
	pl.manager.Bound(pod, nodeName)
}
