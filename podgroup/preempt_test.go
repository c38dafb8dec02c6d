package podgroup_test

import (
	"fmt"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2/ktesting"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// cluster is a one-node Nodes whose room follows the pods bound on it.
type cluster struct {
	cpu  int64
	pods []*v1.Pod
}

func (c *cluster) Version() uint64 { return uint64(len(c.pods)) }
func (c *cluster) Rooms() []podgroup.NodeRoom {
	free := resources.List{"cpu": c.cpu * 1000, "pods": 110}
	for _, p := range c.pods {
		free.Sub(resources.PodRequests(p))
	}
	return []podgroup.NodeRoom{{Name: "n", Node: w.MakeNode("n").Obj(), Free: free}}
}
func (c *cluster) Pods() map[string][]*v1.Pod { return map[string][]*v1.Pod{"n": c.pods} }

// runGroup puts a PodGroup of n pods of cpu cores, priority prio, in
// namespace ns, bound on the node.
func (c *cluster) runGroup(m *podgroup.Manager, ns, name string, n int, cpu string, prio int32) []*v1.Pod {
	m.UpsertPodGroup(w.MakePodGroup(ns, name).MinMember(int32(n)).Obj())
	var pods []*v1.Pod
	for i := 0; i < n; i++ {
		p := w.MakePod(ns, fmt.Sprintf("%s-%d", name, i)).Group(name).Req("cpu", cpu).Priority(prio).Node("n").Obj()
		m.UpsertPod(p)
		pods = append(pods, p)
	}
	c.pods = append(c.pods, pods...)
	return pods
}

func allow([]*v1.Pod) bool { return true }

func victimNames(vs []podgroup.Victim) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Group.Name)
	}
	return out
}

func TestPreemptLowerPriorityWholeGroups(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	c := &cluster{cpu: 8}
	c.runGroup(m, "ns", "low", 2, "2", 1)
	c.runGroup(m, "ns", "mid", 2, "1", 2)
	c.runGroup(m, "ns", "top", 1, "2", 50)
	m.UpsertPodGroup(w.MakePodGroup("ns", "urgent").MinMember(2).Obj())
	urgent := w.MakePod("ns", "urgent-0").Group("urgent").Req("cpu", "2").Priority(10).Obj()
	m.UpsertPod(urgent)
	m.UpsertPod(w.MakePod("ns", "urgent-1").Group("urgent").Req("cpu", "2").Priority(10).Obj())

	adm := m.Admit(logger, urgent, c)
	if adm.Admitted || !adm.NoRoom {
		t.Fatalf("Admit = %+v, want no room", adm)
	}
	plan, acts := m.Preempt(logger, urgent, c, allow)
	if got := victimNames(plan.Victims); len(got) != 1 || got[0] != "low" {
		t.Fatalf("victims %v (%s), want the whole low-priority group", got, plan.Message)
	}
	if n := len(plan.Victims[0].Pods); n != 2 {
		t.Errorf("%d pods of the victim evicted, want both", n)
	}
	if !strings.Contains(plan.Victims[0].Why, "priority 1 below the preemptor's 10") {
		t.Errorf("why = %q", plan.Victims[0].Why)
	}
	reasons := map[string]bool{}
	for _, e := range acts.Events {
		reasons[e.Reason] = true
	}
	if !reasons[podgroup.ReasonPreempted] || !reasons[podgroup.ReasonPreempting] {
		t.Errorf("events %+v, want Preempted and GangPreempting", acts.Events)
	}
	// The preemptor holds the room; its members wait for the victims to go.
	if adm := m.Admit(logger, urgent, c); adm.Admitted || !strings.Contains(adm.Message, "waits for 2 preempted pods to exit") {
		t.Errorf("while the victims exit: %+v", adm)
	}
	if m.OwnReservation(adm.Key) == nil {
		t.Error("the preemptor holds no room")
	}
	if acts := m.Unplaceable(urgent, "victims still there"); len(acts.Reject) != 0 || m.OwnReservation(adm.Key) == nil {
		t.Error("the preemptor was released while its victims exit")
	}
	for _, p := range plan.Victims[0].Pods {
		acts = m.DeletePod(p)
	}
	if len(acts.Activate) != 2 {
		t.Errorf("activated %d pods when the last victim went, want the preemptor's 2", len(acts.Activate))
	}
	c.pods = c.pods[2:] // the victims are gone from the node
	if !m.Admit(logger, urgent, c).Admitted {
		t.Error("the preemptor is not admitted once its victims are gone")
	}
}

func TestPreemptNothingOfEqualPriority(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	c := &cluster{cpu: 4}
	c.runGroup(m, "ns", "same", 2, "2", 5)
	m.UpsertPodGroup(w.MakePodGroup("ns", "late").MinMember(1).Obj())
	late := w.MakePod("ns", "late-0").Group("late").Req("cpu", "2").Priority(5).Obj()
	m.UpsertPod(late)
	m.Admit(logger, late, c)
	if plan, _ := m.Preempt(logger, late, c, allow); len(plan.Victims) != 0 {
		t.Errorf("preempted %v of equal priority", victimNames(plan.Victims))
	}
	never := v1.PreemptNever
	late.Spec.PreemptionPolicy = &never
	late.Spec.Priority = new(int32)
	*late.Spec.Priority = 100
	m.UpsertPod(late)
	if plan, _ := m.Preempt(logger, late, c, allow); len(plan.Victims) != 0 || plan.Message != "preemptionPolicy is Never" {
		t.Errorf("preemptionPolicy Never: %+v", plan)
	}
}

// A queue's guaranteed share is reclaimed from a queue that borrowed it,
// whole groups of the borrower and none of its own.
func TestReclaimGuaranteedFromBorrower(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	owner := makeQueue("owner", 1, "")
	owner.Spec.Guaranteed = v1.ResourceList{"cpu": resourceMust("8")}
	owner.Spec.Namespaces = []string{"team-owner"}
	borrower := makeQueue("borrower", 1, "")
	borrower.Spec.Namespaces = []string{"team-borrower"}
	m.SetQueues([]*v1alpha1.Queue{owner, borrower})
	m.UpsertNode(w.MakeNode("n", "cpu", "8").Obj())
	c := &cluster{cpu: 8}
	c.runGroup(m, "team-borrower", "b1", 2, "2", 0)
	c.runGroup(m, "team-borrower", "b2", 2, "2", 0)
	m.UpsertPodGroup(w.MakePodGroup("team-owner", "own").MinMember(2).Obj())
	first := w.MakePod("team-owner", "own-0").Group("own").Req("cpu", "2").Obj()
	m.UpsertPod(first)
	m.UpsertPod(w.MakePod("team-owner", "own-1").Group("own").Req("cpu", "2").Obj())
	m.Admit(logger, first, c)
	plan, _ := m.Preempt(logger, first, c, allow)
	if len(plan.Victims) != 1 || plan.Victims[0].Queue != "borrower" || len(plan.Victims[0].Pods) != 2 {
		t.Fatalf("plan %+v, want one whole group of the borrower", plan)
	}
	if !strings.Contains(plan.Victims[0].Why, "queue borrower holds cpu 8, above its fair share of cpu 4") {
		t.Errorf("why = %q", plan.Victims[0].Why)
	}
}
