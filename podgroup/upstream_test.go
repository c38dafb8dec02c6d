package podgroup_test

import (
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	schedv1beta1 "k8s.io/api/scheduling/v1beta1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/utils/ptr"

	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// gangPodGroup is a scheduling.k8s.io PodGroup of the gang policy.
func gangPodGroup(ns, name string, minCount int32) *schedv1beta1.PodGroup {
	return &schedv1beta1.PodGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec: schedv1beta1.PodGroupSpec{SchedulingPolicy: schedv1beta1.PodGroupSchedulingPolicy{
			Gang: &schedv1beta1.GangSchedulingPolicy{MinCount: minCount}}},
	}
}

// member is a pod that joins the scheduling.k8s.io PodGroup group.
func member(ns, name, group string) *v1.Pod {
	p := w.MakePod(ns, name).Req("cpu", "1").Obj()
	p.Spec.SchedulingGroup = &v1.PodSchedulingGroup{PodGroupName: ptr.To(group)}
	return p
}

func TestSpecFromSchedulingPodGroup(t *testing.T) {
	if s := podgroup.SpecFromSchedulingPodGroup(gangPodGroup("ns", "g", 3)); s.MinMember != 3 || !s.Valid() {
		t.Errorf("gang of 3: %+v", s)
	}
	basic := gangPodGroup("ns", "b", 1)
	basic.Spec.SchedulingPolicy = schedv1beta1.PodGroupSchedulingPolicy{Basic: &schedv1beta1.BasicSchedulingPolicy{}}
	if s := podgroup.SpecFromSchedulingPodGroup(basic); s.MinMember != 1 || !s.Valid() {
		t.Errorf("basic: %+v", s)
	}
	zoned := gangPodGroup("ns", "z", 2)
	zoned.Spec.SchedulingConstraints = &schedv1beta1.PodGroupSchedulingConstraints{Topology: []schedv1beta1.TopologyConstraint{{Key: zone}}}
	if s := podgroup.SpecFromSchedulingPodGroup(zoned); s.Topology == nil || s.Topology.Key != zone || !s.Topology.Required {
		t.Errorf("topology constraint: %+v", s.Topology)
	}
	zoned.Spec.SchedulingConstraints.Topology = append(zoned.Spec.SchedulingConstraints.Topology, schedv1beta1.TopologyConstraint{Key: "rack"})
	if s := podgroup.SpecFromSchedulingPodGroup(zoned); s.Valid() || s.Errs[0].Field != "spec.schedulingConstraints.topology" {
		t.Errorf("two topology levels: errors %v, want one on spec.schedulingConstraints.topology", s.Errs)
	}
}

// A Job-shaped group of Kubernetes' own gang API is admitted whole once
// minCount pods exist, and its PodGroupInitiallyScheduled condition says
// why it waits, then that it was admitted.
func TestSchedulingPodGroupAdmittedWhole(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	c := &cluster{cpu: 4}
	first := member("ns", "job-0", "job")
	m.UpsertPod(first)
	key, _ := podgroup.KeyOf(first)
	if key.Kind != podgroup.KindSchedulingPodGroup {
		t.Fatalf("key %+v, want a scheduling.k8s.io PodGroup", key)
	}
	if adm := m.Admit(logger, first, c); adm.Admitted || !strings.Contains(adm.Message, "create scheduling.k8s.io PodGroup job") {
		t.Fatalf("without its PodGroup: %+v", adm)
	}
	m.UpsertSchedulingPodGroup(gangPodGroup("ns", "job", 2))
	if adm := m.Admit(logger, first, c); adm.Admitted || !strings.Contains(adm.Message, "has 1/2 members") {
		t.Fatalf("one of two members: %+v", adm)
	}
	_, conds, ok := m.SchedulingPodGroupConditions(key)
	cond := meta.FindStatusCondition(conds, schedv1beta1.PodGroupInitiallyScheduled)
	if !ok || cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != schedv1beta1.PodGroupReasonUnschedulable || !strings.Contains(cond.Message, "has 1/2 members") {
		t.Fatalf("conditions %+v, want Unschedulable saying it lacks a member", conds)
	}

	second := member("ns", "job-1", "job")
	m.UpsertPod(second)
	adm := m.Admit(logger, first, c)
	if !adm.Admitted {
		t.Fatalf("both members: %s", adm.Message)
	}
	if !slices.Contains(adm.Statuses, key) {
		t.Errorf("statuses %v, want the group's conditions written again", adm.Statuses)
	}
	for _, p := range []*v1.Pod{first, second} {
		m.Assume(p, "n")
		m.Permit(p)
	}
	_, conds, _ = m.SchedulingPodGroupConditions(key)
	if cond := meta.FindStatusCondition(conds, schedv1beta1.PodGroupInitiallyScheduled); cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != podgroup.ReasonScheduled {
		t.Errorf("conditions %+v, want Scheduled once both are placed", conds)
	}
}
