package gang

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
)

// A quota whose status has not yet counted a pod the scheduler sees counts
// it all the same: the driver seen before its quota's update does not
// leave room for one executor too many.
func TestQuotaCountsPodsItsStatusHasNotCaughtUp(t *testing.T) {
	quotas := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	three := resource.MustParse("3")
	if err := quotas.Add(&v1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "team"},
		Spec:       v1.ResourceQuotaSpec{Hard: v1.ResourceList{v1.ResourcePods: three}},
		Status: v1.ResourceQuotaStatus{
			Hard: v1.ResourceList{v1.ResourcePods: three},
			Used: v1.ResourceList{v1.ResourcePods: resource.MustParse("0")},
		},
	}); err != nil {
		t.Fatal(err)
	}
	pod := func(name string) *v1.Pod {
		return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name},
			Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c"}}}}
	}
	q := newQuotaChecker(corelisters.NewResourceQuotaLister(quotas), corelisters.NewPodLister(pods),
		clocktesting.NewFakeClock(time.Now()))
	executors := []*v1.Pod{pod("e-1"), pod("e-2"), pod("e-3")}
	if msg := q.Check("team", executors, nil); msg != "" {
		t.Fatalf("with no pod yet, 3 executors fit a quota of 3 pods: %s", msg)
	}
	if err := pods.Add(pod("driver")); err != nil {
		t.Fatal(err)
	}
	msg := q.Check("team", executors, nil)
	if want := "pods: 3 more needed, 1 used of 3"; !strings.Contains(msg, want) {
		t.Fatalf("Check = %q, want it to say %q", msg, want)
	}
	if msg := q.Check("team", executors[:2], nil); msg != "" {
		t.Fatalf("the driver and 2 executors fit a quota of 3 pods: %s", msg)
	}
}
