package status

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	queuefake "github.com/gangsched/gangsched/client/clientset/versioned/fake"
	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		held, share int64
		want        string
	}{
		{0, 0, "[                    ]"},
		{5, 10, "[##########..........]"},
		{10, 10, "[####################]"},
		{20, 10, "[##########++++++++++]"},
	} {
		if got := bar(tc.held, tc.share); got != tc.want {
			t.Errorf("bar(%d, %d) = %q, want %q", tc.held, tc.share, got, tc.want)
		}
	}
}

func TestReport(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	pending := w.MakeSparkDriver("spark", "etl").Created(now.Add(-90 * time.Second)).Obj()
	pending.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse, Message: "pod group spark/spark-etl needs cpu 9, cpu 4 free"}}
	running := w.MakePod("batch", "done").Group("ok").Node("n1").Obj()
	other := w.MakePod("batch", "x").Scheduler("default-scheduler").Obj()
	client := fake.NewSimpleClientset(pending, running, other)
	q := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "analytics"}, Spec: v1alpha1.QueueSpec{Weight: ptr(int32(3))},
		Status: v1alpha1.QueueStatus{
			Allocated: v1.ResourceList{"cpu": resource.MustParse("12")}, FairShare: v1.ResourceList{"cpu": resource.MustParse("8")},
			Borrowed: v1.ResourceList{"cpu": resource.MustParse("4")}, AdmittedGroups: 3, PendingGroups: 1,
			Conditions: []metav1.Condition{{Type: v1alpha1.ConditionValid, Status: metav1.ConditionTrue}},
		}}
	r, err := Gather(context.Background(), client, queuefake.NewSimpleClientset(q), "gang-scheduler")
	if err != nil {
		t.Fatal(err)
	}
	// The fake clientset ignores field selectors: drop the other scheduler's pod as the server would.
	if diff := cmp.Diff(1, len(r.Waiting)); diff != "" {
		t.Errorf("waiting groups (-want,+got):\n%s", diff)
	}
	var out bytes.Buffer
	Write(&out, r, now)
	for _, want := range []string{
		"analytics  3       [#############+++++++]  12 / 8  cpu 4     3         1        True",
		"spark/spark-etl  1/1      1m30s        pod group spark/spark-etl needs cpu 9, cpu 4 free",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// Members waiting in Permit carry no reason: a group shows the reason on
// its oldest pending pod that has one (here the member held by a gate).
func TestWaitingReasonSkipsPodsWithout(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	inPermit := w.MakePod("batch", "trio-0").Group("trio").Created(now.Add(-time.Minute)).Obj()
	gated := w.MakePod("batch", "trio-2").Group("trio").Created(now.Add(-30 * time.Second)).Obj()
	gated.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: v1.PodReasonSchedulingGated, Message: "Scheduling is blocked due to non-empty scheduling gates"}}
	untried := w.MakePod("batch", "solo").Created(now).Obj()
	got := waiting([]v1.Pod{*gated, *inPermit, *untried})
	want := []Waiting{
		{Group: podgroup.Key{Kind: podgroup.KindPodGroup, Namespace: "batch", Name: "trio"}, Pending: 2, Pods: 2, Since: now.Add(-time.Minute), Reason: "Scheduling is blocked due to non-empty scheduling gates"},
		{Group: podgroup.Key{Kind: "Pod", Namespace: "batch", Name: "solo"}, Pending: 1, Pods: 1, Since: now, Reason: "not tried yet"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("waiting (-want,+got):\n%s", diff)
	}
}

func ptr[T any](v T) *T { return &v }
