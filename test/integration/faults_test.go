package integration

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gangsched/gangsched/podgroup"
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
	e.waitCondition("trio-0", "released")
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
