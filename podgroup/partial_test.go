package podgroup_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2/ktesting"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// halfBound is what a new scheduler instance finds after its predecessor
// crashed while binding a PodGroup of three 2-CPU pods: trio-0 bound on node
// a, the other two pending, and the quorum record naming all three on the
// PodGroup. The pods are seen before the PodGroup, as informers may
// deliver them.
func halfBound(m *podgroup.Manager) (pg *schedv1alpha1.PodGroup, pods []*v1.Pod) {
	return boundPartly(m, podgroup.AnnotationQuorum, "2026-01-02T03:04:05Z ns/trio-0,ns/trio-1,ns/trio-2")
}

// boundPartly is halfBound with the PodGroup annotated as given.
func boundPartly(m *podgroup.Manager, kv ...string) (pg *schedv1alpha1.PodGroup, pods []*v1.Pod) {
	pods = []*v1.Pod{
		w.MakePod("ns", "trio-0").Group("trio").Req("cpu", "2").Node("a").Obj(),
		w.MakePod("ns", "trio-1").Group("trio").Req("cpu", "2").Obj(),
		w.MakePod("ns", "trio-2").Group("trio").Req("cpu", "2").Obj(),
	}
	for _, p := range pods {
		m.UpsertPod(p)
	}
	pgw := w.MakePodGroup("ns", "trio").MinMember(3)
	for i := 0; i+1 < len(kv); i += 2 {
		pgw.Annotation(kv[i], kv[i+1])
	}
	pg = pgw.Obj()
	m.UpsertPodGroup(pg)
	return pg, pods
}

// Members bound below minMember with no quorum record of gangsched's (bound
// by another scheduler, or what is left of a group that ran whole) are never
// deleted on inference: the group waits for the rest to be admitted.
func TestPartlyBoundGroupWithoutRecordIsNotDeleted(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	for name, kv := range map[string][]string{
		"no record":                      nil,
		"record of an earlier run":       {podgroup.AnnotationQuorum, "2026-01-02T03:04:05Z ns/old-0,ns/old-1,ns/old-2"},
		"record whose members all bound": {podgroup.AnnotationQuorum, "2026-01-02T03:04:05Z ns/trio-0,ns/gone-1,ns/gone-2"},
	} {
		t.Run(name, func(t *testing.T) {
			m, clk := newManager()
			boundPartly(m, kv...)
			clk.Step(10 * time.Minute)
			if acts := m.Tick(logger); len(acts.Delete) > 0 {
				t.Errorf("deleted %v, want nothing deleted", deletedNames(acts.Delete))
			}
		})
	}
}

func deletedNames(ds []podgroup.Deletion) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Pod.Name)
	}
	return out
}

// The rest of a group bound half way gets the permit timeout to fit; when
// it does not, the group is released whole: its bound member is deleted,
// with an Event on the group and one on the pod.
func TestHalfBoundGroupReleasedAfterPermitTimeout(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := newManager()
	_, pods := halfBound(m)

	// Node a holds trio-0 and has no room left; the rest needs 4 CPU.
	full := fixed([]podgroup.NodeRoom{{Name: "a", Node: w.MakeNode("a").Obj(), Free: resources.List{"cpu": 0, "pods": 109}}})
	adm := m.Admit(logger, pods[1], full)
	if adm.Admitted || !adm.NoRoom || !strings.Contains(adm.Message, "needs cpu 4 for 2 pods") {
		t.Fatalf("Admit = %+v, want the rest (2 pods) short of room", adm)
	}
	clk.Step(59 * time.Second)
	if acts := m.Tick(logger); len(acts.Delete) != 0 {
		t.Fatalf("Tick before the permit timeout deleted %v", deletedNames(acts.Delete))
	}
	clk.Step(time.Second)
	acts := m.Tick(logger)
	if diff := cmp.Diff([]string{"trio-0"}, deletedNames(acts.Delete)); diff != "" {
		t.Fatalf("deleted (-want,+got):\n%s", diff)
	}
	if acts.Delete[0].Pod.UID != pods[0].UID {
		t.Errorf("deletion of UID %s, want %s", acts.Delete[0].Pod.UID, pods[0].UID)
	}
	var onGroup, onPod bool
	for _, e := range acts.Events {
		if e.Reason != podgroup.ReasonReleased || !strings.Contains(e.Message, "only 1/3 members bound") {
			continue
		}
		switch e.Object.(type) {
		case *schedv1alpha1.PodGroup:
			onGroup = strings.Contains(e.Message, "deleting bound members trio-0")
		case *v1.Pod:
			onPod = strings.Contains(e.Message, "deleting member trio-0")
		}
	}
	if !onGroup || !onPod {
		t.Errorf("want a GangReleased Event on the PodGroup and on trio-0, got %+v", acts.Events)
	}

	// Once the deletion is seen, nothing is deleted again.
	gone := pods[0].DeepCopy()
	gone.DeletionTimestamp = &metav1.Time{Time: clk.Now()}
	m.UpsertPod(gone)
	clk.Step(time.Minute)
	if acts := m.Tick(logger); len(acts.Delete) != 0 {
		t.Errorf("deleted again: %v", deletedNames(acts.Delete))
	}
	if msg, _ := m.Gate(pods[1]); !strings.Contains(msg, "has fewer than its 3 members") {
		t.Errorf("Gate = %q, want the rest held until the group is whole again", msg)
	}
}

// A deletion that did not happen (the API call failed) is asked for again
// one permit timeout later.
func TestHalfBoundGroupDeletionRetried(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := newManager()
	halfBound(m)
	clk.Step(time.Minute)
	if acts := m.Tick(logger); len(acts.Delete) != 1 {
		t.Fatalf("deleted %v, want trio-0", deletedNames(acts.Delete))
	}
	clk.Step(time.Minute)
	if acts := m.Tick(logger); len(acts.Delete) != 1 {
		t.Errorf("deleted %v on the second deadline, want trio-0 again", deletedNames(acts.Delete))
	}
}

// With room for the rest, a group bound half way is admitted for the rest
// only and binds whole; its deadline then passes without a deletion.
func TestHalfBoundGroupCompleted(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := newManager()
	_, pods := halfBound(m)
	rooms := fixed([]podgroup.NodeRoom{
		{Name: "a", Node: w.MakeNode("a").Obj(), Free: resources.List{"cpu": 0, "pods": 109}},
		{Name: "b", Node: w.MakeNode("b").Obj(), Free: resources.List{"cpu": 4000, "pods": 110}},
	})
	if adm := m.Admit(logger, pods[1], rooms); !adm.Admitted {
		t.Fatalf("Admit = %q, want the rest admitted", adm.Message)
	}
	m.Assume(pods[1], "b")
	if d := m.Permit(pods[1]); d.Allow {
		t.Fatal("trio-1 allowed with 2/3 placed")
	}
	m.Assume(pods[2], "b")
	if d := m.Permit(pods[2]); !d.Allow {
		t.Fatalf("Permit(trio-2) = %+v, want allowed: the bound trio-0 counts", d)
	}
	clk.Step(2 * time.Minute)
	if acts := m.Tick(logger); len(acts.Delete) != 0 {
		t.Errorf("a group that bound whole lost %v", deletedNames(acts.Delete))
	}
}

// A group that ran whole is not taken for one bound half way, when a new
// instance finds it with a member that ended: a member that failed on a
// node, or a PodGroup whose status says Running. Its replacement member is
// placed without a new admission, and nothing is deleted.
func TestRunningGroupWithEndedMemberNotHalfBound(t *testing.T) {
	for name, tc := range map[string]struct {
		failed   bool
		pgStatus schedv1alpha1.PodGroupPhase
	}{
		"member failed on a node":             {failed: true},
		"failed member deleted, status shows": {pgStatus: schedv1alpha1.PodGroupRunning},
	} {
		t.Run(name, func(t *testing.T) {
			logger, _ := ktesting.NewTestContext(t)
			m, clk := newManager()
			pods := []*v1.Pod{
				w.MakePod("ns", "trio-0").Group("trio").Node("a").Phase(v1.PodRunning).Obj(),
				w.MakePod("ns", "trio-1").Group("trio").Node("a").Phase(v1.PodRunning).Obj(),
			}
			if tc.failed {
				pods = append(pods, w.MakePod("ns", "trio-2").Group("trio").Node("a").Phase(v1.PodFailed).Obj())
			}
			replacement := w.MakePod("ns", "trio-3").Group("trio").Obj()
			for _, p := range append(pods, replacement) {
				m.UpsertPod(p)
			}
			pg := w.MakePodGroup("ns", "trio").MinMember(3).Obj()
			pg.Status.Phase = tc.pgStatus
			m.UpsertPodGroup(pg)

			if msg, _ := m.Gate(replacement); msg != "" {
				t.Errorf("Gate = %q, want the replacement let through", msg)
			}
			if adm := m.Admit(logger, replacement, nodes(1, 0)); !adm.Admitted {
				t.Fatalf("Admit = %q, want the replacement placed as a running group's member", adm.Message)
			}
			clk.Step(2 * time.Minute)
			if acts := m.Tick(logger); len(acts.Delete) != 0 || len(acts.Reject) != 0 {
				t.Errorf("Tick deleted %v, rejected %v", deletedNames(acts.Delete), acts.Reject)
			}
		})
	}
}

// A running PodGroup whose member failed stays Running in its status while
// the member is replaced, so that a new instance still knows it ran whole.
func TestRunningStatusKeptWhileMemberReplaced(t *testing.T) {
	m, _ := newManager()
	pg := w.MakePodGroup("ns", "duo").MinMember(2).Obj()
	m.UpsertPodGroup(pg)
	a := w.MakePod("ns", "duo-0").Group("duo").Node("a").Phase(v1.PodRunning).Obj()
	b := w.MakePod("ns", "duo-1").Group("duo").Node("a").Phase(v1.PodRunning).Obj()
	m.UpsertPod(a)
	m.UpsertPod(b)
	key := podgroup.Key{Kind: podgroup.KindPodGroup, Namespace: "ns", Name: "duo"}
	_, st, _ := m.PodGroupStatus(key)
	if st.Phase != schedv1alpha1.PodGroupRunning {
		t.Fatalf("phase %s, want Running", st.Phase)
	}
	written := pg.DeepCopy()
	written.Status = st
	m.UpsertPodGroup(written)

	failed := b.DeepCopy()
	failed.Status.Phase = v1.PodFailed
	m.UpsertPod(failed)
	m.UpsertPod(w.MakePod("ns", "duo-2").Group("duo").Obj())
	_, st, _ = m.PodGroupStatus(key)
	if st.Phase != schedv1alpha1.PodGroupRunning || st.Running != 1 || st.Failed != 1 {
		t.Errorf("status %+v, want Running with 1 running and 1 failed", st)
	}
}

// A Spark app whose executor failed stays running: the driver's
// replacement executor is placed at once, and its queue counts the app's
// executors once: the failed one's room is given back, the replacement's
// taken.
func TestFailedExecutorReplaced(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := newManager()
	m.SetQueues([]*v1alpha1.Queue{makeQueue("q", 1, "")})
	m.UpsertNode(w.MakeNode("a", "cpu", "4", "memory", "64Gi").Obj())
	allocated := func() int64 {
		t.Helper()
		_, st, ok := m.QueueStatus("q")
		if !ok {
			t.Fatal("queue q unknown")
		}
		q := st.Allocated[v1.ResourceCPU]
		return q.MilliValue()
	}
	driver := sparkIn("pi", "q", 2, start)
	m.UpsertPod(driver)
	if !m.Admit(logger, driver, nodes(1, 4)).Admitted {
		t.Fatal("driver not admitted")
	}
	m.Assume(driver, "a")
	m.Permit(driver)
	var execs []*v1.Pod
	for i := 1; i <= 2; i++ {
		ex := w.MakeSparkExecutor("ns", "pi", i, driver).Req("cpu", "1").Obj()
		m.UpsertPod(ex)
		if !m.Admit(logger, ex, nodes(1, 4)).Admitted {
			t.Fatalf("executor %d not admitted", i)
		}
		m.Assume(ex, "a")
		if !m.Permit(ex).Allow {
			t.Fatalf("executor %d not allowed", i)
		}
		execs = append(execs, ex)
	}
	if got := allocated(); got != 3000 {
		t.Fatalf("allocated %dm CPU, want 3000m", got)
	}

	// Executor 1 fails; kube-scheduler's informer then drops it.
	failed := execs[0].DeepCopy()
	failed.Spec.NodeName = "a"
	failed.Status.Phase = v1.PodFailed
	for _, acts := range []podgroup.Actions{m.UpsertPod(failed), m.DeletePod(failed)} {
		if len(acts.Reject) != 0 || len(acts.Delete) != 0 {
			t.Fatalf("a failed executor released its app: %+v", acts)
		}
	}
	if got := allocated(); got != 2000 {
		t.Errorf("allocated %dm CPU with an executor failed, want 2000m", got)
	}
	replacement := w.MakeSparkExecutor("ns", "pi", 3, driver).Req("cpu", "1").Obj()
	m.UpsertPod(replacement)
	if adm := m.Admit(logger, replacement, nodes(1, 4)); !adm.Admitted {
		t.Fatalf("replacement not admitted: %s", adm.Message)
	}
	m.Assume(replacement, "a")
	if !m.Permit(replacement).Allow {
		t.Fatal("replacement not allowed")
	}
	if got := allocated(); got != 3000 {
		t.Errorf("allocated %dm CPU after the replacement, want 3000m", got)
	}
	clk.Step(10 * time.Minute)
	if acts := m.Tick(logger); len(acts.Delete) != 0 || len(acts.Reject) != 0 {
		t.Errorf("Tick after the replacement: %+v", acts)
	}
}

// A standby replica sees a group bound half way as soon as its leader
// crashes; once it becomes active, the rest gets the whole permit timeout
// from then.
func TestHalfBoundDeadlineRestartsWhenActive(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := newManager()
	halfBound(m)
	clk.Step(59 * time.Second)
	m.Resync()
	clk.Step(59 * time.Second)
	if acts := m.Tick(logger); len(acts.Delete) != 0 {
		t.Fatalf("deleted %v before the permit timeout from activation", deletedNames(acts.Delete))
	}
	clk.Step(time.Second)
	if acts := m.Tick(logger); len(acts.Delete) != 1 {
		t.Errorf("deleted %v, want trio-0", deletedNames(acts.Delete))
	}
}
