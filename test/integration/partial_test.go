package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	configv1 "github.com/gangsched/gangsched/apis/config/v1"
	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// bind binds a pod to a node through the API (pods/binding), as a
// scheduler does.
func (e *env) bind(name, node string) {
	e.t.Helper()
	p := e.get(name)
	if err := e.c.Client.CoreV1().Pods(e.ns).Bind(e.ctx, &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: p.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("binding %s to %s: %v", name, node, err)
	}
}

// waitDeleted waits until the pod is being deleted (there is no kubelet to
// finish the deletion) or gone, and returns it as last seen.
func (e *env) waitDeleted(name string) *v1.Pod {
	e.t.Helper()
	last := e.get(name)
	if err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := e.c.Client.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, nil
		}
		last = p
		return p.DeletionTimestamp != nil, nil
	}); err != nil {
		e.t.Fatalf("pod %s was not deleted: %s", name, e.describe(name))
	}
	return last
}

// crashedMidBinding plays a scheduler that crashed while binding a PodGroup
// of three 1-CPU pods: with no scheduler running, the quorum record of the
// three is written on the PodGroup (as PreBind does before the first
// member binds), trio-0 is bound to node n-0 and the others are left
// pending. Then a new scheduler starts.
func crashedMidBinding(t *testing.T, cpu string, args func(*configv1.GangArgs)) *env {
	e := newEnv(t, gangConfig(args))
	e.stop()
	e.nodes("n", 1, cpu)
	var uids []string
	for _, name := range []string{"trio-0", "trio-1", "trio-2"} {
		uids = append(uids, string(e.create(w.MakePod("", name).Group("trio").Req("cpu", "1").Obj())[0].UID))
	}
	e.createPodGroup(w.MakePodGroup("", "trio").MinMember(3).
		Annotation(podgroup.AnnotationQuorum, time.Now().UTC().Format(time.RFC3339)+" "+strings.Join(uids, ",")).Obj())
	e.bind("trio-0", "n-0")
	startScheduler(t, e.c, e.config)
	return e
}

// A group bound half way by a scheduler that crashed is completed by the
// next one when the rest fits: the rest binds, and trio-0 stays.
func TestPartialBindingCompletedAfterRestart(t *testing.T) {
	e := crashedMidBinding(t, "4", nil)
	e.waitBound(20*time.Second, "trio-0", "trio-1", "trio-2")
	if p := e.get("trio-0"); p.DeletionTimestamp != nil {
		t.Error("trio-0 was deleted although its group bound whole")
	}
}

// When the rest does not fit within the permit timeout, the group is
// released whole: the bound member is deleted (marked DisruptionTarget
// first), with an Event on the PodGroup and on the pod saying why, and
// nothing of the rest is bound.
func TestPartialBindingReleasedAfterPermitTimeout(t *testing.T) {
	e := crashedMidBinding(t, "1", func(a *configv1.GangArgs) { a.PermitTimeoutSeconds = ptr.To[int64](3) })
	e.waitEvent("PodGroup", "trio", podgroup.ReasonReleased, "only 1/3 members bound (by an earlier scheduler) and the rest not placed within 3s; deleting bound members trio-0")
	e.waitEvent("Pod", "trio-0", podgroup.ReasonReleased, "deleting member trio-0")
	p := e.waitDeleted("trio-0")
	marked := false
	for _, c := range p.Status.Conditions {
		marked = marked || (c.Type == v1.DisruptionTarget && c.Status == v1.ConditionTrue && c.Reason == podgroup.DisruptionReasonReleased)
	}
	if !marked {
		t.Errorf("trio-0 has no DisruptionTarget condition with reason %s: %+v", podgroup.DisruptionReasonReleased, p.Status.Conditions)
	}
	e.stayUnbound(time.Second, "trio-1", "trio-2")
}

// Members of groups that ran whole are evicted through the Eviction API (as
// kubectl drain and the descheduler do), some while the scheduler runs and
// some while it is down. The scheduler that starts after finds fewer than
// the minimum bound, tells from the quorum record that the groups ran
// whole, and deletes none of their running pods, for a PodGroup and for a
// Spark app alike; the executor Spark creates in place of the evicted ones
// is placed.
func TestEvictionsAfterAGroupRanNeverReleaseIt(t *testing.T) {
	e := newEnv(t, gangConfig(func(a *configv1.GangArgs) { a.PermitTimeoutSeconds = ptr.To[int64](2) }))
	e.kubelet(e.ns)
	e.nodes("n", 2, "4")
	e.createPodGroup(w.MakePodGroup("", "trio").MinMember(3).Timeout(2).Obj())
	for _, name := range []string{"trio-0", "trio-1", "trio-2"} {
		e.create(w.MakePod("", name).Group("trio").Req("cpu", "1").Obj())
	}
	driver, execs := sparkApp("pi", 2)
	d := e.create(driver)[0]
	e.sparkDriver(d, execs...)
	e.waitBound(20*time.Second, append(names(execs...), "trio-0", "trio-1", "trio-2", driver.Name)...)

	evict := func(name string) {
		t.Helper()
		if err := e.c.Client.CoreV1().Pods(e.ns).EvictV1(e.ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}}); err != nil {
			t.Fatalf("evicting %s: %v", name, err)
		}
		e.waitGone(name)
	}
	evict("trio-2")
	evict(execs[0].Name)
	time.Sleep(3 * time.Second) // past the groups' 2 s permit timeout
	e.stop()
	evict("trio-1")
	evict(execs[1].Name)
	startScheduler(t, e.c, e.config)
	time.Sleep(5 * time.Second)
	for _, name := range []string{"trio-0", driver.Name} {
		if p, err := e.c.Client.CoreV1().Pods(e.ns).Get(e.ctx, name, metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
			t.Errorf("%s was deleted (%v): its group ran whole before its members were evicted", name, err)
		}
	}
	e.create(w.MakeSparkExecutor("", "pi", 3, d).Req("cpu", "1", "memory", "2Gi").Obj())
	e.waitBound(20*time.Second, "pi-exec-3")
}

// waitGone waits until the pod is deleted.
func (e *env) waitGone(name string) {
	e.t.Helper()
	if err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := e.c.Client.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		e.t.Fatalf("%s not gone: %v", name, err)
	}
}
