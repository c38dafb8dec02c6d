package gang

import (
	"fmt"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	quota "k8s.io/apiserver/pkg/quota/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/kubernetes/pkg/quota/v1/evaluator/core"
	"k8s.io/utils/clock"
)

// quotaChecker answers podgroup.Quotas from the ResourceQuota informer,
// with the API server's own pod evaluator: what a pod counts against a
// quota (requests.cpu, limits.memory, pods, count/pods, extended resources,
// ...) and which quotas' scopes it falls under (BestEffort, PriorityClass,
// ...) are worked out exactly as quota admission does
// (k8s.io/apiserver/pkg/admission/plugin/resourcequota, checkRequest).
//
// A quota's status can lag behind the pods this scheduler sees (its watch
// and the pods' are two streams): what a quota uses is taken as the larger,
// per resource, of its status and what the namespace's known pods count
// against it, so a pod seen before its quota's update is not counted free.
//
// CAVEAT: a LimitRange's defaults are not applied to members not created
// yet; they count what their template requests and limits.
type quotaChecker struct {
	lister corelisters.ResourceQuotaLister
	// pods lists the pods the scheduler knows of, to count a namespace's
	// use where its quotas' status has not caught up.
	pods corelisters.PodLister
	eval quota.Evaluator
}

func newQuotaChecker(lister corelisters.ResourceQuotaLister, pods corelisters.PodLister, clk clock.Clock) *quotaChecker {
	return &quotaChecker{lister: lister, pods: pods, eval: core.NewPodEvaluator(nil, clk)}
}

// Any reports whether the namespace has a ResourceQuota.
func (q *quotaChecker) Any(namespace string) bool {
	list, err := q.lister.ResourceQuotas(namespace).List(labels.Everything())
	return err == nil && len(list) > 0
}

// Check says which quota the pods would take over its hard limit, given
// what it uses and what the held pods will take.
func (q *quotaChecker) Check(namespace string, pods, held []*v1.Pod) string {
	list, err := q.lister.ResourceQuotas(namespace).List(labels.Everything())
	if err != nil {
		return ""
	}
	slices.SortFunc(list, func(a, b *v1.ResourceQuota) int { return strings.Compare(a.Name, b.Name) })
	var known []*v1.Pod
	if q.pods != nil {
		known, _ = q.pods.Pods(namespace).List(labels.Everything())
	}
	for _, rq := range list {
		if msg := q.check(rq, pods, held, known); msg != "" {
			return msg
		}
	}
	return ""
}

func (q *quotaChecker) check(rq *v1.ResourceQuota, pods, held, known []*v1.Pod) string {
	hard := rq.Status.Hard
	if len(hard) == 0 && len(rq.Spec.Hard) > 0 {
		// Quota admission refuses pods until the quota controller has
		// written the quota's status.
		return fmt.Sprintf("namespace quota %s has no status yet (is kube-controller-manager's resource quota controller running?)", rq.Name)
	}
	names := quota.ResourceNames(hard)
	want, err := q.usage(rq, pods, names)
	if err != nil || quota.IsZero(want) {
		return ""
	}
	reserved, err := q.usage(rq, held, names)
	if err != nil {
		return ""
	}
	counted, err := q.usage(rq, known, names)
	if err != nil {
		return ""
	}
	used := quota.Max(rq.Status.Used, counted)
	after := quota.Add(quota.Add(used, reserved), want)
	if ok, exceeded := quota.LessThanOrEqual(quota.Mask(after, quota.ResourceNames(want)), hard); !ok {
		slices.Sort(exceeded)
		var parts []string
		for _, name := range exceeded {
			used, r, w, h := used[name], reserved[name], want[name], hard[name]
			part := fmt.Sprintf("%s: %s more needed, %s used of %s", name, w.String(), used.String(), h.String())
			if !r.IsZero() {
				part += fmt.Sprintf(", %s held for groups admitted before", r.String())
			}
			parts = append(parts, part)
		}
		return fmt.Sprintf("namespace quota %s cannot hold the %d members still to be created (%s): the API server would refuse them",
			rq.Name, len(pods), strings.Join(parts, "; "))
	}
	return ""
}

// usage sums what the pods that fall under rq's scopes count against it,
// on the resources it limits.
func (q *quotaChecker) usage(rq *v1.ResourceQuota, pods []*v1.Pod, names []v1.ResourceName) (v1.ResourceList, error) {
	total := v1.ResourceList{}
	for _, p := range pods {
		match, err := q.eval.Matches(rq, p)
		if err != nil {
			return nil, err
		}
		if !match {
			continue
		}
		u, err := q.eval.Usage(p)
		if err != nil {
			return nil, err
		}
		total = quota.Add(total, quota.Mask(u, names))
	}
	return total, nil
}
