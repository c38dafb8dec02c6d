package podgroup

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"

	"github.com/gangsched/gangsched/resources"
)

// maxVirtualMembers caps how many pieces the undeclared part of a group is cut
// into, so a tiny member shape cannot make admission slow.
const maxVirtualMembers = 1000

// Spec is what a group needs before any of it may hold resources.
type Spec struct {
	// MinMember is how many members must be placed together; Permit holds
	// placed members until this many are placed.
	MinMember int32
	// MinResources is the total the group needs at once, members not yet
	// created included. Nil means the sum of the members that exist.
	MinResources resources.List
	// MemberRequests is what one member not yet created requests; nil when
	// unknown (see memberShape).
	MemberRequests resources.List
	// Executors is how many executors a Spark driver declares
	// (AnnotationExecutors); the members to come of a Spark app are those
	// not created yet of them, whatever their size.
	Executors int64
	// MaxExecutors caps the live executors of a Spark app
	// (AnnotationMaxExecutors); 0 caps nothing.
	MaxExecutors int64
	// MemberTemplate is what a member not yet created looks like beyond its
	// requests (node selector, tolerations, affinity, labels); nil when not
	// declared (see Group.memberTemplate).
	MemberTemplate *v1.Pod
	// Topology asks for the group inside one domain of a node label (see
	// AnnotationRequiredTopology); nil places it anywhere.
	Topology *Topology
	// ScheduleTimeout overrides the plugin's permit timeout when positive.
	ScheduleTimeout time.Duration
	// Errs lists what is wrong with the declaration; a group with errors is
	// not scheduled, and every error names its field.
	Errs field.ErrorList
}

// Valid reports whether the spec has no errors.
func (s *Spec) Valid() bool { return len(s.Errs) == 0 }

// SpecFromPodGroup reads a scheduler-plugins PodGroup, validating every field
// gangsched relies on.
func SpecFromPodGroup(pg *schedv1alpha1.PodGroup) Spec {
	s := Spec{MinMember: pg.Spec.MinMember}
	spec := field.NewPath("spec")
	if pg.Spec.MinMember < 1 {
		s.Errs = append(s.Errs, field.Invalid(spec.Child("minMember"), pg.Spec.MinMember, "must be at least 1"))
	}
	if len(pg.Spec.MinResources) > 0 {
		for _, name := range sortedNames(pg.Spec.MinResources) {
			q := pg.Spec.MinResources[name]
			if q.Sign() < 0 {
				s.Errs = append(s.Errs, field.Invalid(spec.Child("minResources").Key(string(name)), q.String(), "must not be negative"))
			}
		}
		s.MinResources = resources.FromResourceList(pg.Spec.MinResources)
	}
	if t := pg.Spec.ScheduleTimeoutSeconds; t != nil {
		if *t < 0 {
			s.Errs = append(s.Errs, field.Invalid(spec.Child("scheduleTimeoutSeconds"), *t, "must not be negative"))
		} else {
			s.ScheduleTimeout = time.Duration(*t) * time.Second
		}
	}
	if v, ok := pg.Annotations[AnnotationMemberRequests]; ok {
		rl, err := resources.Parse(v)
		if err != nil {
			s.Errs = append(s.Errs, field.Invalid(field.NewPath("metadata", "annotations").Key(AnnotationMemberRequests), v, err.Error()))
		} else {
			s.MemberRequests = rl
		}
	}
	s.MemberTemplate = templateOf(pg.Annotations, AnnotationMemberTemplate, &s.Errs)
	s.Topology = topologyOf(pg.Annotations, &s.Errs)
	return s
}

// templateOf parses the template annotation key, if set, adding an error
// naming it when it is not a pod.
func templateOf(annotations map[string]string, key string, errs *field.ErrorList) *v1.Pod {
	v, ok := annotations[key]
	if !ok {
		return nil
	}
	pod, err := parseTemplate(v)
	if err != nil {
		*errs = append(*errs, field.Invalid(field.NewPath("metadata", "annotations").Key(key), v, err.Error()))
		return nil
	}
	return pod
}

// SpecFromSparkDriver reads a Spark driver's gangsched annotations. The group
// needs the driver plus AnnotationExecutors executors of
// AnnotationExecutorRequests each; without the annotations it needs the driver
// alone (and executors are not reserved).
func SpecFromSparkDriver(driver *v1.Pod) Spec { return sparkSpec(driver, true) }

// SpecFromSparkExecutor reads the gang of a Spark app whose driver runs
// outside the cluster (client mode) from one of its executors, which carry
// the driver's annotations (spark.kubernetes.executor.annotation.*): the
// group needs AnnotationExecutors executors, this one among them, of
// AnnotationExecutorRequests each, or of this executor's own requests when
// that annotation is missing. Without AnnotationExecutors every executor is
// placed on its own, as before.
func SpecFromSparkExecutor(executor *v1.Pod) Spec { return sparkSpec(executor, false) }

// sparkSpec reads the annotations of a Spark pod: a driver, whose group
// is it and its executors, or an executor of a client-mode app, whose group
// is its executors.
func sparkSpec(pod *v1.Pod, driver bool) Spec {
	s := Spec{MinMember: 1}
	annotations := field.NewPath("metadata", "annotations")
	reqStr, hasReq := pod.Annotations[AnnotationExecutorRequests]
	s.MemberTemplate = templateOf(pod.Annotations, AnnotationExecutorTemplate, &s.Errs)
	s.Topology = topologyOf(pod.Annotations, &s.Errs)
	count, hasCount := executorCount(pod.Annotations, AnnotationExecutors, &s.Errs)
	if !hasCount {
		// Dynamic allocation: the gang is what Spark asks for first.
		minimum, hasMin := executorCount(pod.Annotations, AnnotationMinExecutors, &s.Errs)
		initial, hasInitial := executorCount(pod.Annotations, AnnotationInitialExecutors, &s.Errs)
		count, hasCount = max(minimum, initial), hasMin || hasInitial
	}
	if mx, ok := executorCount(pod.Annotations, AnnotationMaxExecutors, &s.Errs); ok {
		if mx < count {
			s.Errs = append(s.Errs, field.Invalid(annotations.Key(AnnotationMaxExecutors), pod.Annotations[AnnotationMaxExecutors],
				fmt.Sprintf("must not be below the gang's %d executors", count)))
		}
		s.MaxExecutors = mx
	}
	if !hasCount && (!hasReq || !driver) {
		return s
	}
	switch {
	case hasReq:
		rl, err := resources.Parse(reqStr)
		if err != nil {
			s.Errs = append(s.Errs, field.Invalid(annotations.Key(AnnotationExecutorRequests), reqStr, err.Error()))
		} else {
			rl[resources.Pods] = 1
			s.MemberRequests = rl
		}
	case !driver:
		s.MemberRequests = resources.PodRequests(pod)
	case count > 0:
		s.Errs = append(s.Errs, field.Required(annotations.Key(AnnotationExecutorRequests),
			fmt.Sprintf("needed when the gang has executors (%s, or %s)", AnnotationExecutors, AnnotationMinExecutors)))
	}
	if !s.Valid() {
		return s
	}
	s.Executors = count
	total := resources.List{}
	if driver {
		total = resources.PodRequests(pod)
	}
	if count > 0 {
		total.Add(s.MemberRequests.Scaled(count))
	}
	s.MinResources = total
	return s
}

// executorCount reads a count of executors from annotation key, adding an
// error naming it when it is not a whole number of at least zero.
func executorCount(annotations map[string]string, key string, errs *field.ErrorList) (int64, bool) {
	v, ok := annotations[key]
	if !ok {
		return 0, false
	}
	path := field.NewPath("metadata", "annotations").Key(key)
	n, err := strconv.ParseInt(v, 10, 32)
	switch {
	case err != nil:
		*errs = append(*errs, field.Invalid(path, v, "must be a whole number"))
	case n < 0:
		*errs = append(*errs, field.Invalid(path, v, "must not be negative"))
	default:
		return n, true
	}
	return 0, true
}

// splitRemainder cuts the room a group still needs into pieces of one
// member's shape; the last piece takes what is left. Resources the shape does
// not name are spread evenly over the pieces. Every piece counts one pod. ok
// is false when the shape does not measure rem (no resource in common) or
// would cut it into more than maxVirtualMembers pieces: rem is then planned
// as a total (see Item.Total).
func splitRemainder(rem, shape resources.List) (pieces []resources.List, ok bool) {
	rem = rem.NonNegative()
	delete(rem, resources.Pods)
	if rem.IsZero() {
		return nil, true
	}
	count := int64(0)
	for name, v := range rem {
		if s := shape[name]; s > 0 && v > 0 {
			count = max(count, (v+s-1)/s)
		}
	}
	if count == 0 || count > maxVirtualMembers {
		return nil, false
	}
	pieces = make([]resources.List, 0, count)
	left := rem.Clone()
	for i := int64(0); i < count; i++ {
		piece := resources.List{resources.Pods: 1}
		last := i == count-1
		for name, v := range left {
			if v <= 0 {
				continue
			}
			take := v
			if s := shape[name]; s > 0 && !last {
				take = min(s, v)
			} else if s <= 0 && !last {
				take = v / (count - i)
			}
			if take > 0 {
				piece[name] = take
				left[name] -= take
			}
		}
		pieces = append(pieces, piece)
	}
	return pieces, true
}

func sortedNames(rl v1.ResourceList) []v1.ResourceName {
	return slices.Sorted(maps.Keys(rl))
}
