package gang

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	v1 "k8s.io/api/core/v1"
	schedv1beta1 "k8s.io/api/scheduling/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	fwk "k8s.io/kube-scheduler/framework"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
)

// Reserve takes the member's room from its group's reservation.
func (pl *Gang) Reserve(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodeName string) *fwk.Status {
	if s, err := getPreFilterState(state); err == nil {
		s.release()
	}
	pl.act(ctx, pl.manager.Assume(pod, nodeName))
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

// PreBindPreFlight skips PreBind unless the pod's binding may have to wait
// for its group's quorum record (podgroup.Manager.RecordDue). Members that
// wait in Permit for the rest of their gang must not skip it: they bind as
// soon as the last member lets them through, and none may bind before the
// record is written.
func (pl *Gang) PreBindPreFlight(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodeName string) (*fwk.PreBindPreFlightResult, *fwk.Status) {
	if !pl.manager.RecordDue(pod) {
		return nil, fwk.NewStatus(fwk.Skip)
	}
	return nil, nil
}

// PreBind writes the quorum record of the pod's group (AnnotationQuorum)
// and the deadline of the room still reserved for it
// (AnnotationReservedUntil) on its PodGroup or Spark driver before the pod
// binds, so that a scheduler taking over after a crash finds them (see
// podgroup.Manager.Unpersisted and Restore). The members binding at the
// same time wait for one write of the record, which none of them binds
// before.
func (pl *Gang) PreBind(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodeName string) *fwk.Status {
	// A record made again while one was written (the room planned anew)
	// is written too before the pod binds.
	for {
		p, ok := pl.manager.Unpersisted(pod)
		if !ok {
			return nil
		}
		obj, ok := p.Object.(metav1.Object)
		if !ok {
			return fwk.AsStatus(fmt.Errorf("unexpected group object %T", p.Object))
		}
		annotations := p.Annotations()
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
		if err != nil {
			return fwk.AsStatus(err)
		}
		write := fmt.Sprintf("%T/%s/%s/%s", p.Object, obj.GetNamespace(), obj.GetName(), patch)
		_, err, _ = pl.records.Do(write, func() (any, error) {
			// A member that joins after the write ended finds it done.
			if cur, due := pl.manager.Unpersisted(pod); !due || !maps.Equal(cur.Annotations(), annotations) {
				return nil, nil
			}
			if err := pl.writeRecord(ctx, p.Object, obj, patch); err != nil {
				return nil, err
			}
			pl.manager.Persisted(pod, p)
			return nil, nil
		})
		if err != nil {
			return fwk.AsStatus(fmt.Errorf("writing the reservation deadline of the pod's group: %w", err))
		}
	}
}

// writeRecord merge-patches a group's record onto the group's object; an
// object already gone needs none.
//
// A pod is patched through its status subresource, which the scheduler may
// write already (system:kube-scheduler), rather than through the pod itself,
// whose patch right would let it change any pod's image; pods/status keeps
// metadata writable apart from ownerReferences and deletionTimestamp
// (k8s.io/kubernetes pkg/registry/core/pod/strategy.go,
// podStatusStrategy.PrepareForUpdate). A PodGroup's status subresource does
// not (custom resources keep only status), so a PodGroup is patched itself.
func (pl *Gang) writeRecord(ctx context.Context, object runtime.Object, obj metav1.Object, patch []byte) error {
	var err error
	switch object.(type) {
	case *schedv1beta1.PodGroup:
		_, err = pl.handle.ClientSet().SchedulingV1beta1().PodGroups(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.MergePatchType, patch, metav1.PatchOptions{})
	case *schedv1alpha1.PodGroup:
		if pl.pgClient == nil {
			return nil
		}
		_, err = pl.pgClient.SchedulingV1alpha1().PodGroups(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.MergePatchType, patch, metav1.PatchOptions{})
	default:
		_, err = pl.handle.ClientSet().CoreV1().Pods(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// PostBind records the binding.
func (pl *Gang) PostBind(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodeName string) {
	pl.manager.Bound(pod, nodeName)
}
