package podgroup

import (
	"fmt"

	schedv1beta1 "k8s.io/api/scheduling/v1beta1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
)

// KindSchedulingPodGroup is a PodGroup of Kubernetes' own gang API
// (scheduling.k8s.io/v1beta1, GenericWorkload): its pods join it with
// spec.schedulingGroup.podGroupName, as Jobs, JobSets and LeaderWorkerSets
// that use Workloads create them.
const KindSchedulingPodGroup Kind = "scheduling.k8s.io/PodGroup"

// Reasons of the PodGroupInitiallyScheduled condition gangsched writes on a
// scheduling.k8s.io PodGroup, besides the API's own Unschedulable.
const (
	// ReasonScheduled: the group was admitted whole and its members placed.
	ReasonScheduled = "Scheduled"
	// ReasonInvalidPodGroup: its spec asks for what gangsched cannot do.
	ReasonInvalidPodGroup = "InvalidSpec"
)

// podGroupView is a scheduling.k8s.io PodGroup as the scheduler-plugins
// PodGroup the rest of the Manager reads: its metadata (labels, the
// gangsched annotations, creation time) and its gang's minCount as
// minMember (1 for the basic policy, whose pods are placed one by one).
func podGroupView(pg *schedv1beta1.PodGroup) *schedv1alpha1.PodGroup {
	min := int32(1)
	if gang := pg.Spec.SchedulingPolicy.Gang; gang != nil {
		min = gang.MinCount
	}
	return &schedv1alpha1.PodGroup{ObjectMeta: *pg.ObjectMeta.DeepCopy(), Spec: schedv1alpha1.PodGroupSpec{MinMember: min}}
}

// SpecFromSchedulingPodGroup reads a scheduling.k8s.io PodGroup: the gang
// policy's minCount, its topology constraint (a required one, of one
// label), and the gangsched annotations a scheduler-plugins PodGroup takes.
func SpecFromSchedulingPodGroup(pg *schedv1beta1.PodGroup) Spec {
	s := SpecFromPodGroup(podGroupView(pg))
	spec := field.NewPath("spec")
	for i, err := range s.Errs {
		if err.Field == "spec.minMember" {
			s.Errs[i].Field = spec.Child("schedulingPolicy", "gang", "minCount").String()
		}
	}
	if p := pg.Spec.SchedulingPolicy; p.Gang == nil && p.Basic == nil {
		s.Errs = append(s.Errs, field.Required(spec.Child("schedulingPolicy"), "one of basic or gang"))
	}
	if c := pg.Spec.SchedulingConstraints; c != nil && len(c.Topology) > 0 {
		path := spec.Child("schedulingConstraints", "topology")
		switch {
		case len(c.Topology) > 1:
			s.Errs = append(s.Errs, field.TooMany(path, len(c.Topology), 1))
		case s.Topology != nil && s.Topology.Key != c.Topology[0].Key:
			s.Errs = append(s.Errs, field.Invalid(path.Index(0).Child("key"), c.Topology[0].Key,
				fmt.Sprintf("differs from the topology annotation's %s", s.Topology.Key)))
		default:
			s.Topology = &Topology{Key: c.Topology[0].Key, Required: true}
		}
	}
	return s
}

// UpsertSchedulingPodGroup records a new or changed scheduling.k8s.io
// PodGroup: the same admission, reservations, queues and preemption as a
// scheduler-plugins PodGroup (its queue from the gangsched.io/queue label).
func (m *Manager) UpsertSchedulingPodGroup(pg *schedv1beta1.PodGroup) Actions {
	m.mu.Lock()
	defer m.unlock()
	key := Key{Kind: KindSchedulingPodGroup, Namespace: pg.Namespace, Name: pg.Name}
	g := m.groupLocked(key)
	g.upstream = pg
	return m.upsertPodGroupLocked(g, podGroupView(pg), func() Spec { return SpecFromSchedulingPodGroup(pg) })
}

// DeleteSchedulingPodGroup forgets a scheduling.k8s.io PodGroup; its pods
// then wait for it again.
func (m *Manager) DeleteSchedulingPodGroup(pg *schedv1beta1.PodGroup) Actions {
	m.mu.Lock()
	defer m.unlock()
	key := Key{Kind: KindSchedulingPodGroup, Namespace: pg.Namespace, Name: pg.Name}
	if g := m.groups[key]; g != nil {
		g.upstream = nil
	}
	return m.deletePodGroupLocked(key, "scheduling.k8s.io PodGroup")
}

// SetSchedulingPodGroupAPI tells the Manager whether the API server serves
// scheduling.k8s.io/v1beta1 PodGroups, for the message of a pod whose group
// is missing.
func (m *Manager) SetSchedulingPodGroupAPI(served bool) {
	m.mu.Lock()
	defer m.unlock()
	m.schedulingAPI = served
}

// SchedulingPodGroupConditions returns the conditions a scheduling.k8s.io
// PodGroup should show and the object they belong on; ok is false for any
// other group. PodGroupInitiallyScheduled is True, reason Scheduled, once
// the group ran whole (and stays so, as the API defines it); until then
// False, reason Unschedulable with why it waits, or InvalidSpec naming the
// field gangsched cannot serve.
func (m *Manager) SchedulingPodGroupConditions(key Key) (*schedv1beta1.PodGroup, []metav1.Condition, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[key]
	if g == nil || g.upstream == nil {
		return nil, nil, false
	}
	conds := append([]metav1.Condition(nil), g.upstream.Status.Conditions...)
	c := metav1.Condition{Type: schedv1beta1.PodGroupInitiallyScheduled, ObservedGeneration: g.upstream.Generation}
	if old := meta.FindStatusCondition(conds, c.Type); old != nil && old.Status == metav1.ConditionTrue {
		return g.upstream, conds, true
	}
	_, ranWhole := g.onNodes()
	switch {
	case !g.spec.Valid():
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, ReasonInvalidPodGroup, g.invalidMessage()
	case g.phase == PhaseRunning || ranWhole:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, ReasonScheduled,
			fmt.Sprintf("pod group %s admitted whole: %d members placed", g.key, g.placedCount())
	default:
		why := g.waitMessage
		if why == "" {
			why = fmt.Sprintf("pod group %s is pending", g.key)
		}
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, schedv1beta1.PodGroupReasonUnschedulable, why
	}
	meta.SetStatusCondition(&conds, c)
	return g.upstream, conds, true
}

// placedCount counts the live placed members.
func (g *Group) placedCount() int {
	_, placed := g.counts()
	return placed
}
