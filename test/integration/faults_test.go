package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/test/cluster"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// A member deleted while its group waits in Permit (fewer than minMember
// placed) releases the group at once, not at the permit timeout, with an
// Event naming the deleted member; the member placed with it is not bound.
// Once the member is recreated, the group binds whole.
func TestMemberDeletedInPermitReleasesGroup(t *testing.T) {
	e := newEnv(t, gangConfig(nil)) // permit timeout 60 s
	e.nodes("n", 1, "8")
	e.createPodGroup(w.MakePodGroup("", "trio").MinMember(3).Obj())
	trio := []*v1.Pod{w.MakePod("", "trio-0").Group("trio").Obj(), w.MakePod("", "trio-1").Group("trio").Obj(), w.MakePod("", "trio-2").Group("trio").Obj()}
	held := trio[2].DeepCopy()
	held.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/hold"}}
	e.create(trio[0], trio[1], held)
	e.waitPermit("trio-0", "trio-1")

	if err := e.c.Client.CoreV1().Pods(e.ns).Delete(e.ctx, "trio-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitEvent("PodGroup", "trio", podgroup.ReasonReleased, "member "+e.ns+"/trio-1 was deleted")
	e.waitPermit()
	// Whether trio-0 still shows the rejection or has been retried short of
	// a member, its reason names the deleted member.
	e.waitCondition("trio-0", "member "+e.ns+"/trio-1 was deleted")
	e.stayUnbound(time.Second, "trio-0")

	// The member comes back (as a controller would recreate it) and the
	// held one is let go: the group binds whole.
	e.create(trio[1])
	p := e.get("trio-2")
	p.Spec.SchedulingGates = nil
	if _, err := e.c.Client.CoreV1().Pods(e.ns).Update(e.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitBound(30*time.Second, "trio-0", "trio-1", "trio-2")
}

// The API server is stopped and started again, on the same etcd, while
// groups are in flight (inFlight), with two members of the PodGroup waiting
// in Permit for the held third. The scheduler follows the server across the
// restart, and nothing in flight is lost (finish).
func TestAPIServerRestartMidRun(t *testing.T) {
	e := newEnvWithOptions(t, gangConfig(nil), cluster.Options{Restartable: true})
	f := e.startInFlight()
	e.waitPermit("trio-0", "trio-1")

	// Down for a few seconds: the scheduler's watches are cut and its
	// requests fail meanwhile.
	e.c.StopAPIServer()
	time.Sleep(3 * time.Second)
	if err := e.c.StartAPIServer(e.ctx); err != nil {
		t.Fatal(err)
	}
	f.finish(e)
}

// inFlight is what the fault tests leave in flight on 2 nodes of 8 CPU: a
// Spark app whose driver is bound and whose executors are not created yet
// (a), one whose executors are created but held by a scheduling gate (b), a
// PodGroup of 3 with two members created and the third held (trio), and a
// gang that does not fit (big).
type inFlight struct {
	drivers []*v1.Pod // a's and b's, as created
	xa, xb  []*v1.Pod
	big     []*v1.Pod
}

// startInFlight creates the groups in flight and waits for the drivers to
// bind and the gang that does not fit to be told so; the caller waits for
// the trio as it can observe it.
func (e *env) startInFlight() *inFlight {
	e.t.Helper()
	f := &inFlight{}
	e.nodes("n", 2, "8")       // 16 CPU
	da, xa := sparkApp("a", 4) // 1 + 4 CPU
	db, xb := sparkApp("b", 4) // 1 + 4 CPU
	f.xa, f.xb = xa, xb
	f.drivers = e.create(da, db)
	e.waitBound(30*time.Second, da.Name, db.Name)
	e.createHeld(executorsOf(f.drivers[1], xb)...)

	e.createPodGroup(w.MakePodGroup("", "trio").MinMember(3).Obj()) // 3 CPU
	e.create(w.MakePod("", "trio-0").Group("trio").Req("cpu", "1").Obj(), w.MakePod("", "trio-1").Group("trio").Req("cpu", "1").Obj())
	e.createHeld(w.MakePod("", "trio-2").Group("trio").Req("cpu", "1").Obj())

	e.createPodGroup(w.MakePodGroup("", "big").MinMember(2).Obj()) // 8 CPU: does not fit
	f.big = []*v1.Pod{w.MakePod("", "big-0").Group("big").Req("cpu", "4").Obj(), w.MakePod("", "big-1").Group("big").Req("cpu", "4").Obj()}
	e.create(f.big...)
	e.waitEvent("PodGroup", "big", podgroup.ReasonWaiting, "")
	return f
}

// finish sends a flood of 16 one-CPU pods in no group, waits until each was
// tried, then lets the apps' executors and the trio's third member come:
// the flood gets only the 3 CPUs nobody reserved, every app and the trio
// bind whole, and the gang that does not fit stays unbound whole.
func (f *inFlight) finish(e *env) {
	e.t.Helper()
	var flood []*v1.Pod
	for i := 0; i < 16; i++ {
		flood = append(flood, w.MakePod("", fmt.Sprintf("flood-%d", i)).Req("cpu", "1").Obj())
	}
	e.create(flood...)
	e.waitTried(names(flood...)...)

	e.sparkDriver(f.drivers[0], f.xa...)
	e.ungate(append(names(f.xb...), "trio-2")...)
	e.waitBound(30*time.Second, names(f.xa...)...)
	e.waitBound(30*time.Second, append(names(f.xb...), "trio-0", "trio-1", "trio-2")...)
	// 16 CPU - 13 for the apps and the trio: the flood gets 3.
	if err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return e.bound(names(flood...)...) == 3, nil
	}); err != nil {
		e.t.Errorf("%d flood pods bound, want 3", e.bound(names(flood...)...))
	}
	if n := e.bound(names(f.big...)...); n != 0 {
		e.t.Errorf("%d of the gang that does not fit were bound", n)
	}
}

// executorsOf returns copies of execs owned by the created driver.
func executorsOf(driver *v1.Pod, execs []*v1.Pod) []*v1.Pod {
	out := make([]*v1.Pod, len(execs))
	for i, ex := range execs {
		ex = ex.DeepCopy()
		ex.OwnerReferences[0].UID = driver.UID
		out[i] = ex
	}
	return out
}

// createHeld creates pods held by a scheduling gate: they exist, and count
// as members, but are not scheduled until ungate.
func (e *env) createHeld(pods ...*v1.Pod) {
	e.t.Helper()
	for _, p := range pods {
		p = p.DeepCopy()
		p.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/hold"}}
		e.create(p)
	}
}

// ungate lets the named pods be scheduled.
func (e *env) ungate(names ...string) {
	e.t.Helper()
	for _, name := range names {
		p := e.get(name)
		p.Spec.SchedulingGates = nil
		if _, err := e.c.Client.CoreV1().Pods(e.ns).Update(e.ctx, p, metav1.UpdateOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// waitTried waits until the scheduler tried every named pod: it is bound,
// or marked unschedulable.
func (e *env) waitTried(names ...string) {
	e.t.Helper()
	tried := func(p *v1.Pod) bool {
		if p.Spec.NodeName != "" {
			return true
		}
		for _, c := range p.Status.Conditions {
			if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse {
				return true
			}
		}
		return false
	}
	if err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, name := range names {
			if p, err := e.c.Client.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{}); err != nil || !tried(p) {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		e.t.Fatalf("not every pod was tried: %s", e.describe(names...))
	}
}
