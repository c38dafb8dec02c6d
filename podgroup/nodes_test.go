package podgroup_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2/ktesting"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

func cpuRoom(name string, cpu int64) podgroup.NodeRoom {
	return podgroup.NodeRoom{Name: name, Node: w.MakeNode(name).Obj(), Free: resources.List{"cpu": cpu * 1000, "pods": 110}}
}

// runningDriver admits a Spark driver of 1 CPU with two executors of 2 CPU
// on nodes a (1 CPU) and b (4 CPU), and binds it: the executors' room is
// reserved on b.
func runningDriver(t *testing.T, m *podgroup.Manager) (podgroup.Key, *v1.Pod) {
	t.Helper()
	logger, _ := ktesting.NewTestContext(t)
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(2, "cpu=2").Obj()
	m.UpsertPod(driver)
	if adm := m.Admit(logger, driver, fixed([]podgroup.NodeRoom{cpuRoom("a", 1), cpuRoom("b", 4)})); !adm.Admitted {
		t.Fatalf("Admit = %q", adm.Message)
	}
	m.Assume(driver, "a")
	if !m.Permit(driver).Allow {
		t.Fatal("driver not allowed")
	}
	key, _ := podgroup.KeyOf(driver)
	if got := m.OwnReservation(key); got["b"] == nil || len(got) != 1 {
		t.Fatalf("reserved %v, want the executors' room on b", got)
	}
	return key, driver
}

func reservedNodes(m *podgroup.Manager, key podgroup.Key) map[string]int64 {
	out := map[string]int64{}
	for n, r := range m.OwnReservation(key) {
		out[n] = r["cpu"]
	}
	return out
}

func eventReasons(acts podgroup.Actions) []string {
	var out []string
	for _, e := range acts.Events {
		out = append(out, e.Reason)
	}
	return out
}

// A running group's room on a node that is deleted is reserved again on
// another node at the next scheduling cycle, never on the deleted node
// (which the cycle's snapshot may still hold).
func TestNodeDeletedReservationReplanned(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	key, _ := runningDriver(t, m)

	m.DeleteNode(w.MakeNode("b").Obj())
	if got := m.OwnReservation(key); len(got) != 0 {
		t.Errorf("still reserved on a deleted node: %v", got)
	}
	if !m.NeedsRestore() {
		t.Fatal("the lost room waits for no scheduling cycle")
	}
	acts := m.Restore(logger, fixed([]podgroup.NodeRoom{cpuRoom("a", 0), cpuRoom("b", 4), cpuRoom("c", 4)}))
	if diff := cmp.Diff(map[string]int64{"c": 4000}, reservedNodes(m, key)); diff != "" {
		t.Errorf("reserved (-want,+got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{podgroup.ReasonReservationReplanned}, eventReasons(acts)); diff != "" {
		t.Errorf("events (-want,+got):\n%s", diff)
	} else if !strings.Contains(acts.Events[0].Message, "node b was deleted with cpu 4") {
		t.Errorf("message %q", acts.Events[0].Message)
	}
	if m.NeedsRestore() {
		t.Error("restore still pending")
	}
}

// When no other node has room, the group is told its room is lost, and
// holds nothing on the node that is gone.
func TestNodeDeletedReservationLost(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	key, _ := runningDriver(t, m)
	m.DeleteNode(w.MakeNode("b").Obj())
	acts := m.Restore(logger, fixed([]podgroup.NodeRoom{cpuRoom("a", 0), cpuRoom("c", 2)}))
	if got := m.OwnReservation(key); len(got) != 0 {
		t.Errorf("reserved %v, want nothing", got)
	}
	if diff := cmp.Diff([]string{podgroup.ReasonReservationLost}, eventReasons(acts)); diff != "" {
		t.Errorf("events (-want,+got):\n%s", diff)
	} else if !strings.Contains(acts.Events[0].Message, "no other node has room") {
		t.Errorf("message %q", acts.Events[0].Message)
	}
}

// Deleting a node no group holds room on changes no reservation.
func TestNodeDeletedElsewhere(t *testing.T) {
	m, _ := newManager()
	key, _ := runningDriver(t, m)
	if acts := m.DeleteNode(w.MakeNode("a").Obj()); !acts.Empty() {
		t.Errorf("DeleteNode did %+v", acts)
	}
	if m.NeedsRestore() {
		t.Error("a restore is pending for a node with no reservation")
	}
	if diff := cmp.Diff(map[string]int64{"b": 4000}, reservedNodes(m, key)); diff != "" {
		t.Errorf("reserved (-want,+got):\n%s", diff)
	}
}

// An admitted group whose plan used a deleted node is released whole (its
// waiting members rejected), to be admitted again on the nodes left.
func TestNodeDeletedReleasesAdmittedGroup(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	m.UpsertPodGroup(w.MakePodGroup("ns", "duo").MinMember(2).Obj())
	p0 := w.MakePod("ns", "duo-0").Group("duo").Req("cpu", "2").Obj()
	p1 := w.MakePod("ns", "duo-1").Group("duo").Req("cpu", "2").Obj()
	m.UpsertPod(p0)
	m.UpsertPod(p1)
	if !m.Admit(logger, p0, fixed([]podgroup.NodeRoom{cpuRoom("a", 2), cpuRoom("b", 2)})).Admitted {
		t.Fatal("not admitted")
	}
	m.Assume(p0, "a")
	m.Permit(p0)
	acts := m.DeleteNode(w.MakeNode("b").Obj())
	if diff := cmp.Diff([]types.UID{p0.UID}, rejectedUIDs(acts.Reject)); diff != "" {
		t.Errorf("rejected (-want,+got):\n%s", diff)
	}
	if len(acts.Events) != 1 || acts.Events[0].Reason != podgroup.ReasonReleased || !strings.Contains(acts.Events[0].Message, "node b of its plan was deleted") {
		t.Errorf("events %+v", acts.Events)
	}
	if m.HasReservations() {
		t.Error("a released group still holds room")
	}
}
