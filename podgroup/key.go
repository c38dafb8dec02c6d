package podgroup

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
)

// Labels and annotations gangsched reads. Spark's labels are spelled as Spark
// writes them (resource-managers/kubernetes/core Constants.scala).
const (
	// LabelPodGroup names the scheduler-plugins PodGroup a pod joins (same namespace).
	LabelPodGroup = schedv1alpha1.PodGroupLabel
	// LabelSparkAppSelector carries the Spark application id on the driver and every executor.
	LabelSparkAppSelector = "spark-app-selector"
	// LabelSparkRole is "driver" or "executor".
	LabelSparkRole = "spark-role"
	// LabelSparkExecID numbers executors 1, 2, ...
	LabelSparkExecID = "spark-exec-id"
	// SparkRoleDriver is the LabelSparkRole value of a driver pod.
	SparkRoleDriver = "driver"
	// SparkRoleExecutor is the LabelSparkRole value of an executor pod.
	SparkRoleExecutor = "executor"

	// AnnotationExecutors, on a Spark driver, is how many executors the
	// driver will create that the gang needs (spark.executor.instances, or
	// spark.dynamicAllocation.minExecutors): the driver is admitted only when
	// it and all of them fit, and their room is reserved until they bind.
	AnnotationExecutors = "gangsched.io/executors"
	// AnnotationExecutorRequests, on a Spark driver, gives the requests of one
	// executor as "cpu=1,memory=4505Mi[,nvidia.com/gpu=1]" (memory including
	// Spark's overhead). Required when AnnotationExecutors is above zero.
	AnnotationExecutorRequests = "gangsched.io/executor-requests"
	// AnnotationMinExecutors, AnnotationInitialExecutors and
	// AnnotationMaxExecutors are Spark's dynamic allocation settings, set
	// as driver annotations under their own names
	// (spark.kubernetes.driver.annotation.spark.dynamicAllocation.minExecutors=2).
	// Without AnnotationExecutors the gang is the larger of the first two
	// (as Spark's first request is); executors beyond it are placed without
	// reservation within their queue's max and fair share, and never more
	// than AnnotationMaxExecutors of them live at once.
	AnnotationMinExecutors     = "spark.dynamicAllocation.minExecutors"
	AnnotationInitialExecutors = "spark.dynamicAllocation.initialExecutors"
	AnnotationMaxExecutors     = "spark.dynamicAllocation.maxExecutors"
	// AnnotationMemberRequests, on a PodGroup, gives the requests of one member
	// not yet created, in the format of AnnotationExecutorRequests. It tells
	// the planner how to cut the part of minResources that no existing pod
	// covers; without it the planner uses the requests of an existing executor
	// or member, or the driver's AnnotationExecutorRequests.
	AnnotationMemberRequests = "gangsched.io/member-requests"
	// AnnotationExecutorTemplate, on a Spark driver, is what its executors
	// will look like beyond their requests: a pod in YAML or JSON, as in
	// Spark's executor pod template file (spark.kubernetes.executor.podTemplateFile),
	// with the node selector (spark.kubernetes.executor.node.selector.*),
	// tolerations, affinity and labels the executors get. The room reserved
	// for executors not created yet is planned for pods of that shape; without
	// it they are planned with no node constraints. Once an executor exists,
	// it is the template.
	AnnotationExecutorTemplate = "gangsched.io/executor-template"
	// AnnotationMemberTemplate is AnnotationExecutorTemplate on a PodGroup,
	// for its members not created yet; a PodGroup without it uses its Spark
	// driver's AnnotationExecutorTemplate.
	AnnotationMemberTemplate = "gangsched.io/member-template"
	// AnnotationReservedUntil, written by the scheduler on a PodGroup or
	// Spark driver (RFC 3339), is until when room for the group's members
	// not created yet is reserved; a new scheduler instance reserves it
	// again after a restart or failover.
	AnnotationReservedUntil = "gangsched.io/reserved-until"
	// AnnotationQuorum, written by the scheduler on a PodGroup or Spark
	// driver before the first member of a quorum binds, records that the
	// group was admitted whole: "<RFC 3339 time> <uid>,<uid>,..." names the
	// members placed together. A new scheduler instance that finds fewer
	// than minMember members bound tells from it a binding it must finish
	// (members it names still pending) from members lost after the group
	// ran whole; without it, it deletes nothing.
	AnnotationQuorum = "gangsched.io/quorum"
	// AnnotationReservation, written with AnnotationQuorum, is the room the
	// group held for its members still to place when it was admitted, by
	// node: JSON of node name to resource list ({"node-1":{"cpu":"2"}}).
	// A new scheduler instance takes the room up again on these nodes when
	// it is still free there; when it must plan it elsewhere, it writes the
	// new nodes with the next member's binding. kubectl gang describe and
	// the invariant checker read it. It is left out when it would exceed
	// MaxReservationAnnotation bytes.
	AnnotationReservation = "gangsched.io/reservation"
	// AnnotationDomain, written with AnnotationQuorum for a group that asks
	// for a topology, is the domain it was admitted in ("label=value"), or
	// empty when it was spread. A new scheduler instance keeps the group's
	// reservation, planned anew, in that domain.
	AnnotationDomain = "gangsched.io/domain"
)

// MaxReservationAnnotation caps AnnotationReservation, well inside the
// 256 KiB the API server allows all of an object's annotations.
const MaxReservationAnnotation = 32 << 10

// Kind says where a group is declared.
type Kind string

const (
	// KindPodGroup is a scheduler-plugins PodGroup object.
	KindPodGroup Kind = "PodGroup"
	// KindSparkApp is a Spark application known only from its pods' labels.
	KindSparkApp Kind = "SparkApp"
)

// Key identifies a group: its kind, namespace and name (the PodGroup name or
// the Spark application id).
type Key struct {
	Kind      Kind
	Namespace string
	Name      string
}

// String renders the key as people read it: "ns/name" for a PodGroup,
// "ns/spark-app-id" for a Spark app.
func (k Key) String() string {
	return fmt.Sprintf("%s/%s", k.Namespace, k.Name)
}

// KeyOf returns the group a pod belongs to: its scheduler-plugins PodGroup
// label, else its spec.schedulingGroup (a scheduling.k8s.io PodGroup), else
// Spark's labels, so Spark Operator apps with a PodGroup are one group, not
// two. A pod with none is in no group.
func KeyOf(pod *v1.Pod) (Key, bool) {
	if name := pod.Labels[LabelPodGroup]; name != "" {
		return Key{Kind: KindPodGroup, Namespace: pod.Namespace, Name: name}, true
	}
	if sg := pod.Spec.SchedulingGroup; sg != nil && sg.PodGroupName != nil && *sg.PodGroupName != "" {
		return Key{Kind: KindSchedulingPodGroup, Namespace: pod.Namespace, Name: *sg.PodGroupName}, true
	}
	if app := pod.Labels[LabelSparkAppSelector]; app != "" && pod.Labels[LabelSparkRole] != "" {
		return Key{Kind: KindSparkApp, Namespace: pod.Namespace, Name: app}, true
	}
	return Key{}, false
}

// IsSparkDriver reports whether the pod is a Spark driver.
func IsSparkDriver(pod *v1.Pod) bool {
	return pod.Labels[LabelSparkRole] == SparkRoleDriver
}
