package gang

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultpreemption"
	plfeature "k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/preemption"
	schedutil "k8s.io/kubernetes/pkg/scheduler/util"

	"github.com/gangsched/gangsched/podgroup"
)

// newLonePreemption builds kube-scheduler's default preemption, for pods in
// no group, with victims limited to pods in no group: a group is only ever
// preempted whole, by Manager.Preempt.
func newLonePreemption(ctx context.Context, h fwk.Handle) (*defaultpreemption.DefaultPreemption, error) {
	args := &config.DefaultPreemptionArgs{MinCandidateNodesPercentage: 10, MinCandidateNodesAbsolute: 100}
	dp, err := defaultpreemption.New(ctx, args, h, plfeature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate))
	if err != nil {
		return nil, fmt.Errorf("building default preemption: %w", err)
	}
	dp.IsEligiblePod = func(_ fwk.NodeInfo, victim preemption.Victim, _ *v1.Pod) bool {
		for _, pi := range victim.Pods() {
			if _, inGroup := podgroup.KeyOf(pi.GetPod()); inGroup {
				return false
			}
		}
		return true
	}
	return dp, nil
}

// disruptionAllowed reports whether evicting pods together keeps every
// PodDisruptionBudget of their namespaces.
func (pl *Gang) disruptionAllowed(pods []*v1.Pod) bool {
	namespaces := map[string]bool{}
	for _, p := range pods {
		namespaces[p.Namespace] = true
	}
	for ns := range namespaces {
		pdbs, err := pl.pdbLister.PodDisruptionBudgets(ns).List(labels.Everything())
		if err != nil {
			continue
		}
		for _, pdb := range pdbs {
			if !budgetAllows(pdb, pods) {
				return false
			}
		}
	}
	return true
}

func budgetAllows(pdb *policyv1.PodDisruptionBudget, pods []*v1.Pod) bool {
	selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || selector.Empty() {
		return true
	}
	hit := int32(0)
	for _, p := range pods {
		if p.Namespace == pdb.Namespace && selector.Matches(labels.Set(p.Labels)) {
			hit++
		}
	}
	return hit <= pdb.Status.DisruptionsAllowed
}

// disruptAndDelete marks p DisruptionTarget with reason and message, then
// deletes it with its grace period, only if it is still the pod of that UID;
// a pod that could not be marked is not deleted. A pod already gone is no
// error.
func (pl *Gang) disruptAndDelete(ctx context.Context, p *v1.Pod, reason, message string) error {
	cs := pl.handle.ClientSet()
	status := p.Status.DeepCopy()
	if podutil.UpdatePodCondition(status, &v1.PodCondition{
		Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: reason,
		Message: fmt.Sprintf("%s: %s", pl.handle.ProfileName(), message),
	}) {
		// As kube-scheduler's preemption does, a pod is deleted only once
		// it says why: a deletion that cannot be explained is not made.
		if err := schedutil.PatchPodStatus(ctx, cs, p.Name, p.Namespace, &p.Status, status); apierrors.IsNotFound(err) {
			return nil
		} else if err != nil {
			return fmt.Errorf("marking %s DisruptionTarget: %w", klog.KObj(p), err)
		}
	}
	err := cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// deleteWorker deletes, one at a time, what the Manager decided to (see
// Gang.deletions), until the scheduler stops: preemption victims
// (reason PreemptionByScheduler, as kube-scheduler's preemption marks them)
// and the bound members of groups released whole
// (podgroup.DisruptionReasonReleased). Each is marked DisruptionTarget,
// then deleted with its grace period, only if it is still the pod the
// Manager saw (UID precondition). A deletion that fails is issued again by
// the Manager (victims: every evictRetry; members: at the next deadline).
func (pl *Gang) deleteWorker(ctx context.Context) {
	logger := klog.FromContext(ctx)
	for {
		d, quit := pl.deletions.Get()
		if quit {
			return
		}
		reason := d.Reason
		if reason == "" {
			reason = podgroup.DisruptionReasonReleased
		}
		if err := pl.disruptAndDelete(ctx, d.Pod, reason, d.Message); err != nil {
			logger.Error(err, "Could not delete a pod", "pod", klog.KObj(d.Pod), "reason", reason)
		} else {
			logger.V(2).Info("Deleted a pod", "pod", klog.KObj(d.Pod), "reason", reason)
		}
		pl.deletions.Done(d)
	}
}
