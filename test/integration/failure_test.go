package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"

	configv1 "github.com/gangsched/gangsched/apis/config/v1"
	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// A member that never reaches the scheduler (held by a scheduling gate)
// keeps its group from minMember: when the permit timeout ends, every placed
// member is released and nothing stays bound. Pods without a group schedule
// meanwhile. Once the member is free to go, the whole group binds.
func TestPermitTimeoutReleasesEveryMember(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 1, "8")
	e.createPodGroup(w.MakePodGroup("", "trio").MinMember(3).Timeout(2).Obj())
	held := w.MakePod("", "trio-2").Group("trio").Obj()
	held.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/hold"}}
	e.create(w.MakePod("", "trio-0").Group("trio").Obj(), w.MakePod("", "trio-1").Group("trio").Obj(), held)
	e.create(w.MakePod("", "loner").Req("cpu", "1").Obj())
	e.waitBound(20*time.Second, "loner")

	e.waitEvent("PodGroup", "trio", "GangReleased", "members placed within 2s")
	e.stayUnbound(time.Second, "trio-0", "trio-1")
	e.waitCondition("trio-0", "released")

	p := e.get("trio-2")
	p.Spec.SchedulingGates = nil
	if _, err := e.c.Client.CoreV1().Pods(e.ns).Update(e.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitBound(30*time.Second, "trio-0", "trio-1", "trio-2")
}

// Members that the scheduler's own filters place on no node together (two
// pods wanting the same host port, one node) are planned so: the group
// waits whole with the filters' reason, instead of being admitted and then
// released when its second member fits nowhere; with a second node, both
// bind, one on each. (A member that fits nowhere once admitted, say after
// a node change, still releases its whole group: podgroup's unit tests.)
func TestMembersTheFiltersRefuseTogetherWait(t *testing.T) {
	e := newEnv(t, gangConfig(func(a *configv1.GangArgs) { a.PermitTimeoutSeconds = ptr.To[int64](30) }))
	e.nodes("n", 1, "8")
	e.createPodGroup(w.MakePodGroup("", "ports").MinMember(2).Obj())
	var pods []*v1.Pod
	for i := 0; i < 2; i++ {
		p := w.MakePod("", fmt.Sprintf("ports-%d", i)).Group("ports").Req("cpu", "1").Obj()
		p.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
		pods = append(pods, p)
	}
	e.create(pods...)
	e.waitCondition("ports-0", "is refused there by the scheduler's filters (node(s) didn't have free ports for the requested pod ports)")
	e.stayUnbound(2*time.Second, "ports-0", "ports-1")
	e.nodes("m", 1, "8")
	e.waitBound(20*time.Second, "ports-0", "ports-1")
	if a, b := e.podNode("ports-0"), e.podNode("ports-1"); a == b {
		t.Errorf("both members on %s, whose host port only one can have", a)
	}
}

// Bad input waits with a clear reason naming the field, binds nothing and
// does not disturb anyone else.
func TestBadInputWaitsWithReason(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 1, "8")

	// minMember omitted reads as 0.
	e.createPodGroup(w.MakePodGroup("", "zero").MinMember(0).Obj())
	e.create(w.MakePod("", "zero-0").Group("zero").Obj())
	e.waitCondition("zero-0", "spec.minMember: Invalid value: 0: must be at least 1")
	e.waitEvent("PodGroup", "zero", podgroup.ReasonInvalid, "spec.minMember")

	// A negative minMember is refused by the API server, naming the field.
	bad := w.MakePodGroup(e.ns, "negative").MinMember(-1).Obj()
	if _, err := e.c.PodGroups.SchedulingV1alpha1().PodGroups(e.ns).Create(e.ctx, bad, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "spec.minMember") {
		t.Errorf("creating a PodGroup with minMember -1: err = %v, want one naming spec.minMember", err)
	}

	// A pod naming a PodGroup that does not exist.
	e.create(w.MakePod("", "orphan").Group("nowhere").Obj())
	e.waitCondition("orphan", "pod group "+e.ns+"/nowhere not found")

	// A Spark driver with malformed annotations.
	e.create(w.MakeSparkDriver("", "typo").Annotation(podgroup.AnnotationExecutors, "four").Annotation(podgroup.AnnotationExecutorRequests, "cpu=1").Obj())
	e.waitCondition("typo-driver", "metadata.annotations[gangsched.io/executors]")
	e.waitEvent("Pod", "typo-driver", podgroup.ReasonInvalid, "must be a whole number")

	// Everyone else still schedules, and nothing of the bad groups is bound.
	e.create(w.MakePod("", "fine").Obj())
	e.waitBound(20*time.Second, "fine")
	e.stayUnbound(time.Second, "zero-0", "orphan", "typo-driver")

	// Fixing the PodGroup lets its pod run.
	pg, err := e.c.PodGroups.SchedulingV1alpha1().PodGroups(e.ns).Get(e.ctx, "zero", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pg.Spec.MinMember = 1
	if _, err := e.c.PodGroups.SchedulingV1alpha1().PodGroups(e.ns).Update(e.ctx, pg, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitBound(20*time.Second, "zero-0")
}

// PodGroup status follows what the pods do: Pending, then Scheduling once
// admitted, Running when minMember run, Finished when they succeed.
func TestPodGroupStatusFollowsPods(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 1, "8")
	e.createPodGroup(w.MakePodGroup("", "st").MinMember(2).Obj())
	e.create(w.MakePod("", "st-0").Group("st").Obj(), w.MakePod("", "st-1").Group("st").Obj())
	e.waitBound(20*time.Second, "st-0", "st-1")
	e.waitPodGroup("st", func(s schedv1alpha1.PodGroupStatus) bool {
		return s.Phase == schedv1alpha1.PodGroupScheduling && !s.ScheduleStartTime.IsZero()
	})
	// Play the kubelet: the pods run, then succeed.
	for _, phase := range []v1.PodPhase{v1.PodRunning, v1.PodSucceeded} {
		for _, name := range []string{"st-0", "st-1"} {
			p := e.get(name)
			p.Status.Phase = phase
			if _, err := e.c.Client.CoreV1().Pods(e.ns).UpdateStatus(e.ctx, p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		want := map[v1.PodPhase]schedv1alpha1.PodGroupPhase{v1.PodRunning: schedv1alpha1.PodGroupRunning, v1.PodSucceeded: schedv1alpha1.PodGroupFinished}[phase]
		e.waitPodGroup("st", func(s schedv1alpha1.PodGroupStatus) bool {
			return s.Phase == want && (phase != v1.PodRunning || s.Running == 2) && (phase != v1.PodSucceeded || s.Succeeded == 2)
		})
	}
}

func (e *env) waitPodGroup(name string, ok func(schedv1alpha1.PodGroupStatus) bool) {
	e.t.Helper()
	var last schedv1alpha1.PodGroupStatus
	if err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		pg, err := e.c.PodGroups.SchedulingV1alpha1().PodGroups(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = pg.Status
		return ok(pg.Status), nil
	}); err != nil {
		e.t.Fatalf("PodGroup %s status %+v never matched", name, last)
	}
}
