package podgroup_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2/ktesting"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// runElastic puts a PodGroup of minMember min with n pods of one CPU,
// each created a second after the one before, bound on the node: the
// pods past min are what dynamic allocation added.
func (c *cluster) runElastic(m *podgroup.Manager, ns, name string, min, n int, prio int32) []*v1.Pod {
	m.UpsertPodGroup(w.MakePodGroup(ns, name).MinMember(int32(min)).Obj())
	var pods []*v1.Pod
	for i := 0; i < n; i++ {
		p := w.MakePod(ns, fmt.Sprintf("%s-%d", name, i)).Group(name).Req("cpu", "1").Priority(prio).
			Created(start.Add(time.Duration(i) * time.Second)).Node("n").Obj()
		m.UpsertPod(p)
		pods = append(pods, p)
	}
	c.pods = append(c.pods, pods...)
	return pods
}

// pendingGroup declares a group of one pod of cpu cores and returns its pod.
func pendingGroup(m *podgroup.Manager, ns, name, cpu string, prio int32) *v1.Pod {
	m.UpsertPodGroup(w.MakePodGroup(ns, name).MinMember(1).Obj())
	p := w.MakePod(ns, name+"-0").Group(name).Req("cpu", cpu).Priority(prio).Obj()
	m.UpsertPod(p)
	return p
}

func podNames(vs []podgroup.Victim) []string {
	var out []string
	for _, v := range vs {
		for _, p := range v.Pods {
			out = append(out, p.Name)
		}
	}
	return out
}

// Preemption takes the members a group holds beyond its gang, newest
// first, before any whole group.
func TestPreemptTakesExtraMembersNewestFirst(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	c := &cluster{cpu: 8}
	c.runElastic(m, "ns", "elastic", 2, 5, 1)
	c.runGroup(m, "ns", "whole", 2, "1", 1)
	urgent := pendingGroup(m, "ns", "urgent", "3", 10)
	if adm := m.Admit(logger, urgent, c); adm.Admitted {
		t.Fatalf("admitted with 1 CPU free: %+v", adm)
	}
	plan, acts := m.Preempt(logger, urgent, c, allow)
	if got, want := podNames(plan.Victims), []string{"elastic-4", "elastic-3"}; !slices.Equal(got, want) {
		t.Fatalf("evicted %v (%s), want the two newest members beyond the gang %v", got, plan.Message, want)
	}
	for _, v := range plan.Victims {
		if !v.Extra || v.Group == nil || v.Group.Name != "elastic" {
			t.Errorf("victim %+v, want a member beyond the gang of elastic", v)
		}
	}
	if !slices.ContainsFunc(acts.Events, func(e podgroup.Event) bool {
		return e.Reason == podgroup.ReasonPreempted && strings.Contains(e.Message, "beyond the gang")
	}) {
		t.Errorf("events %+v, want Preempted saying the member was beyond the gang", acts.Events)
	}
}

// When the members beyond gangs are not enough, whole groups go too, and
// the group whose extras went first is not also taken whole.
func TestPreemptExtraMembersThenWholeGroups(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	c := &cluster{cpu: 8}
	c.runElastic(m, "ns", "elastic", 2, 5, 1)
	c.runGroup(m, "ns", "whole", 2, "1", 1)
	urgent := pendingGroup(m, "ns", "urgent", "6", 10)
	m.Admit(logger, urgent, c)
	plan, _ := m.Preempt(logger, urgent, c, allow)
	got := podNames(plan.Victims)
	slices.Sort(got)
	if want := []string{"elastic-2", "elastic-3", "elastic-4", "whole-0", "whole-1"}; !slices.Equal(got, want) {
		t.Fatalf("evicted %v (%s), want the 3 members beyond elastic's gang and the whole group %v", got, plan.Message, want)
	}
}

// A queue that borrowed by growing an app past its gang gives the room
// back by shrinking it when the owner of a guarantee comes: the app loses
// executors, newest first, and keeps its driver and its declared one.
func TestGuaranteeReclaimedByShrinkingAnApp(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	owner := makeQueue("owner", 1, "")
	owner.Spec.Guaranteed = v1.ResourceList{"cpu": resourceMust("4")}
	owner.Spec.Namespaces = []string{"team-owner"}
	borrower := makeQueue("borrower", 1, "")
	borrower.Spec.Namespaces = []string{"team-borrower"}
	m.SetQueues([]*v1alpha1.Queue{owner, borrower})
	m.UpsertNode(w.MakeNode("n", "cpu", "8").Obj())
	c := &cluster{cpu: 8}
	driver := w.MakeSparkDriver("team-borrower", "etl").Req("cpu", "1").Executors(1, "cpu=1").Created(start).Node("n").Obj()
	m.UpsertPod(driver)
	c.pods = append(c.pods, driver)
	for i := 1; i <= 7; i++ {
		x := w.MakeSparkExecutor("team-borrower", "etl", i, driver).Req("cpu", "1").Created(start.Add(time.Duration(i) * time.Second)).Node("n").Obj()
		m.UpsertPod(x)
		c.pods = append(c.pods, x)
	}
	own := pendingGroup(m, "team-owner", "own", "4", 0)
	m.Admit(logger, own, c)
	plan, _ := m.Preempt(logger, own, c, allow)
	if got, want := podNames(plan.Victims), []string{"etl-exec-7", "etl-exec-6", "etl-exec-5", "etl-exec-4"}; !slices.Equal(got, want) {
		t.Fatalf("evicted %v (%s), want the 4 newest executors %v", got, plan.Message, want)
	}
	if !strings.Contains(plan.Victims[0].Why, "queue borrower holds cpu 8, above its fair share of cpu 4") {
		t.Errorf("why = %q", plan.Victims[0].Why)
	}
}

// A member beyond its group's gang is placed within its queue's fair share
// while another queue waits, and freely while none does.
func TestExtraMemberWaitsAtItsFairShare(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	a, b := makeQueue("a", 1, ""), makeQueue("b", 1, "")
	a.Spec.Namespaces, b.Spec.Namespaces = []string{"team-a"}, []string{"team-b"}
	m.SetQueues([]*v1alpha1.Queue{a, b})
	m.UpsertNode(w.MakeNode("n", "cpu", "8").Obj())
	c := &cluster{cpu: 8}
	c.runElastic(m, "team-a", "grow", 1, 4, 0)
	extra := w.MakePod("team-a", "grow-4").Group("grow").Req("cpu", "1").Obj()
	m.UpsertPod(extra)
	if adm := m.Admit(logger, extra, c); !adm.Admitted {
		t.Fatalf("with no other queue waiting the member beyond the gang waits: %s", adm.Message)
	}

	// Queue b's group does not fit in the 4 CPU left; a holds its share.
	big := pendingGroup(m, "team-b", "big", "5", 0)
	if adm := m.Admit(logger, big, c); adm.Admitted {
		t.Fatalf("b's group of 5 CPU admitted on 4 free")
	}
	adm := m.Admit(logger, extra, c)
	if want := "queue a is at its fair share while queue b waits: holds cpu 4 of its share of 4, the member needs cpu 1 more"; adm.Admitted || !strings.Contains(adm.Message, want) {
		t.Fatalf("Admit = %+v, want the member beyond the gang to wait saying %q", adm, want)
	}

	if slices.Contains(m.Tick(logger).Activate, extra) {
		t.Error("the timer activated the member held back while nothing changed")
	}

	// The app shrinks: the member beyond its share is tried, and placed.
	m.DeletePod(c.pods[3])
	c.pods = c.pods[:3]
	if !slices.Contains(m.Tick(logger).Activate, extra) {
		t.Error("the timer did not activate the member held back once its queue shrank")
	}
	if adm := m.Admit(logger, extra, c); !adm.Admitted {
		t.Errorf("after the app shrank to 3 CPU its member beyond the gang waits: %s", adm.Message)
	}
}

// Groups of another queue that room alone would not let in (short of
// members, or over their queue's max) hold no member beyond a gang back:
// the room it would leave would serve nobody.
func TestExtraMemberNotHeldBackByGroupsRoomWouldNotAdmit(t *testing.T) {
	for name, tc := range map[string]struct {
		maxB string // queue b's max CPU
		wait func(m *podgroup.Manager)
	}{
		"short of members": {wait: func(m *podgroup.Manager) {
			m.UpsertPodGroup(w.MakePodGroup("team-b", "pair").MinMember(2).Obj())
			m.UpsertPod(w.MakePod("team-b", "pair-0").Group("pair").Req("cpu", "4").Obj())
		}},
		"over its queue's max": {maxB: "4", wait: func(m *podgroup.Manager) { pendingGroup(m, "team-b", "big", "5", 0) }},
	} {
		t.Run(name, func(t *testing.T) {
			logger, _ := ktesting.NewTestContext(t)
			m, _ := newManager()
			a, b := makeQueue("a", 1, ""), makeQueue("b", 1, tc.maxB)
			a.Spec.Namespaces, b.Spec.Namespaces = []string{"team-a"}, []string{"team-b"}
			m.SetQueues([]*v1alpha1.Queue{a, b})
			m.UpsertNode(w.MakeNode("n", "cpu", "8").Obj())
			c := &cluster{cpu: 8}
			c.runElastic(m, "team-a", "grow", 1, 4, 0)
			tc.wait(m)
			extra := w.MakePod("team-a", "grow-4").Group("grow").Req("cpu", "1").Obj()
			m.UpsertPod(extra)
			if adm := m.Admit(logger, extra, c); !adm.Admitted {
				t.Errorf("the member beyond the gang waits for a group room would not admit: %s", adm.Message)
			}
		})
	}
}

// An app declared with Spark's dynamic allocation settings is a gang of
// its driver and minExecutors; executors beyond are placed up to
// maxExecutors.
func TestDynamicAllocationAnnotations(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	c := &cluster{cpu: 8}
	driver := w.MakeSparkDriver("ns", "dyn").Req("cpu", "1").Annotation(podgroup.AnnotationExecutorRequests, "cpu=1").
		Annotation(podgroup.AnnotationMinExecutors, "1").Annotation(podgroup.AnnotationMaxExecutors, "2").Obj()
	m.UpsertPod(driver)
	adm := m.Admit(logger, driver, c)
	if !adm.Admitted || len(m.OwnReservation(adm.Key)) == 0 {
		t.Fatalf("the driver was not admitted with room for its one executor: %+v", adm)
	}
	place := func(p *v1.Pod) *v1.Pod {
		m.Assume(p, "n")
		m.Permit(p)
		p = p.DeepCopy()
		p.Spec.NodeName = "n"
		m.Bound(p, "n")
		m.UpsertPod(p)
		c.pods = append(c.pods, p)
		return p
	}
	driver = place(driver)
	var execs []*v1.Pod
	for i := 1; i <= 3; i++ {
		x := w.MakeSparkExecutor("ns", "dyn", i, driver).Req("cpu", "1").Obj()
		m.UpsertPod(x)
		execs = append(execs, x)
	}
	for _, x := range execs[:2] {
		if adm := m.Admit(logger, x, c); !adm.Admitted {
			t.Fatalf("executor %s waits: %s", x.Name, adm.Message)
		}
		place(x)
	}
	want := "2 executors are placed, the most spark.dynamicAllocation.maxExecutors allows"
	if adm := m.Admit(logger, execs[2], c); adm.Admitted || !strings.Contains(adm.Message, want) {
		t.Errorf("the third executor: %+v, want it to wait saying %q", adm, want)
	}
}
