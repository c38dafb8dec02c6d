// Package wrappers builds test objects (pods, Spark drivers and executors,
// PodGroups, nodes) with chained setters, in the manner of kube-scheduler's
// pkg/scheduler/testing/wrappers.go.
package wrappers

import (
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"

	"github.com/gangsched/gangsched/podgroup"
)

// SchedulerName is the scheduler name pods built here opt in to.
const SchedulerName = "gang-scheduler"

// PodWrapper builds a pod.
type PodWrapper struct{ v1.Pod }

// MakePod starts a pod with one container "main" and no requests, scheduled
// by SchedulerName.
func MakePod(namespace, name string) *PodWrapper {
	return &PodWrapper{v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID(namespace + "/" + name), Labels: map[string]string{}, Annotations: map[string]string{}},
		Spec: v1.PodSpec{
			SchedulerName: SchedulerName,
			RestartPolicy: v1.RestartPolicyNever,
			Containers:    []v1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10"}},
		},
	}}
}

// MakeSparkDriver starts a Spark driver pod of app, shaped as Spark 3.5
// creates it (labels spark-app-selector, spark-app-name, spark-role).
func MakeSparkDriver(namespace, app string) *PodWrapper {
	p := MakePod(namespace, app+"-driver")
	p.Labels[podgroup.LabelSparkAppSelector] = "spark-" + app
	p.Labels["spark-app-name"] = app
	p.Labels["spark-version"] = "3.5.3"
	p.Labels[podgroup.LabelSparkRole] = podgroup.SparkRoleDriver
	p.Spec.Containers[0].Name = "spark-kubernetes-driver"
	return p
}

// MakeSparkExecutor starts executor id of app, owned by its driver, shaped as
// Spark 3.5 creates it.
func MakeSparkExecutor(namespace, app string, id int, driver *v1.Pod) *PodWrapper {
	p := MakePod(namespace, fmt.Sprintf("%s-exec-%d", app, id))
	p.Labels[podgroup.LabelSparkAppSelector] = "spark-" + app
	p.Labels["spark-app-name"] = app
	p.Labels["spark-version"] = "3.5.3"
	p.Labels[podgroup.LabelSparkRole] = podgroup.SparkRoleExecutor
	p.Labels[podgroup.LabelSparkExecID] = fmt.Sprint(id)
	p.Labels["spark-exec-resourceprofile-id"] = "0"
	p.Spec.Containers[0].Name = "spark-kubernetes-executor"
	if driver != nil {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: driver.Name, UID: driver.UID, Controller: ptr(true)}}
	}
	return p
}

func ptr[T any](v T) *T { return &v }

// Req sets the container's requests, e.g. Req("cpu", "1", "memory", "2Gi").
func (p *PodWrapper) Req(kv ...string) *PodWrapper {
	rl := v1.ResourceList{}
	for i := 0; i < len(pairs(kv)); i += 2 {
		rl[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	p.Spec.Containers[0].Resources.Requests = rl
	return p
}

// Label sets a label.
func (p *PodWrapper) Label(k, v string) *PodWrapper { p.Labels[k] = v; return p }

// Annotation sets an annotation.
func (p *PodWrapper) Annotation(k, v string) *PodWrapper { p.Annotations[k] = v; return p }

// Group makes the pod a member of PodGroup name.
func (p *PodWrapper) Group(name string) *PodWrapper {
	return p.Label(podgroup.LabelPodGroup, name)
}

// Executors declares, on a driver, n executors of the given requests.
func (p *PodWrapper) Executors(n int, requests string) *PodWrapper {
	p.Annotations[podgroup.AnnotationExecutors] = fmt.Sprint(n)
	p.Annotations[podgroup.AnnotationExecutorRequests] = requests
	return p
}

// Priority sets the pod's priority.
func (p *PodWrapper) Priority(v int32) *PodWrapper { p.Spec.Priority = &v; return p }

// PriorityClass names the pod's PriorityClass, for an API server to resolve.
func (p *PodWrapper) PriorityClass(name string) *PodWrapper {
	p.Spec.PriorityClassName = name
	return p
}

// Node sets spec.nodeName (a bound pod).
func (p *PodWrapper) Node(n string) *PodWrapper { p.Spec.NodeName = n; return p }

// Phase sets status.phase.
func (p *PodWrapper) Phase(ph v1.PodPhase) *PodWrapper { p.Status.Phase = ph; return p }

// Created sets the creation timestamp.
func (p *PodWrapper) Created(t time.Time) *PodWrapper {
	p.CreationTimestamp = metav1.NewTime(t)
	return p
}

// UID sets the UID.
func (p *PodWrapper) UID(uid string) *PodWrapper { p.ObjectMeta.UID = types.UID(uid); return p }

// Scheduler sets spec.schedulerName.
func (p *PodWrapper) Scheduler(name string) *PodWrapper { p.Spec.SchedulerName = name; return p }

// NodeSelector sets spec.nodeSelector.
func (p *PodWrapper) NodeSelector(kv ...string) *PodWrapper {
	p.Spec.NodeSelector = map[string]string{}
	for i := 0; i < len(pairs(kv)); i += 2 {
		p.Spec.NodeSelector[kv[i]] = kv[i+1]
	}
	return p
}

// Toleration adds a toleration of the taint key=value:effect.
func (p *PodWrapper) Toleration(key, value string, effect v1.TaintEffect) *PodWrapper {
	p.Spec.Tolerations = append(p.Spec.Tolerations, v1.Toleration{Key: key, Operator: v1.TolerationOpEqual, Value: value, Effect: effect})
	return p
}

// Obj returns the pod.
func (p *PodWrapper) Obj() *v1.Pod { return &p.Pod }

// PodGroupWrapper builds a scheduler-plugins PodGroup.
type PodGroupWrapper struct{ schedv1alpha1.PodGroup }

// MakePodGroup starts a PodGroup with minMember 1.
func MakePodGroup(namespace, name string) *PodGroupWrapper {
	return &PodGroupWrapper{schedv1alpha1.PodGroup{
		TypeMeta:   metav1.TypeMeta{APIVersion: schedv1alpha1.SchemeGroupVersion.String(), Kind: "PodGroup"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Annotations: map[string]string{}, Generation: 1},
		Spec:       schedv1alpha1.PodGroupSpec{MinMember: 1},
	}}
}

// MinMember sets spec.minMember.
func (w *PodGroupWrapper) MinMember(n int32) *PodGroupWrapper { w.Spec.MinMember = n; return w }

// MinResources sets spec.minResources, e.g. MinResources("cpu", "8").
func (w *PodGroupWrapper) MinResources(kv ...string) *PodGroupWrapper {
	w.Spec.MinResources = v1.ResourceList{}
	for i := 0; i < len(pairs(kv)); i += 2 {
		w.Spec.MinResources[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return w
}

// Timeout sets spec.scheduleTimeoutSeconds.
func (w *PodGroupWrapper) Timeout(seconds int32) *PodGroupWrapper {
	w.Spec.ScheduleTimeoutSeconds = &seconds
	return w
}

// Annotation sets an annotation.
func (w *PodGroupWrapper) Annotation(k, v string) *PodGroupWrapper { w.Annotations[k] = v; return w }

// Label sets a label on the PodGroup.
func (w *PodGroupWrapper) Label(k, v string) *PodGroupWrapper {
	if w.Labels == nil {
		w.Labels = map[string]string{}
	}
	w.Labels[k] = v
	return w
}

// Obj returns the PodGroup.
func (w *PodGroupWrapper) Obj() *schedv1alpha1.PodGroup { return &w.PodGroup }

// NodeWrapper builds a node.
type NodeWrapper struct{ v1.Node }

// MakeNode starts a Ready node with capacity and allocatable set to the
// given amounts, e.g. MakeNode("n1", "cpu", "4", "memory", "16Gi"); pods
// defaults to 110.
func MakeNode(name string, kv ...string) *NodeWrapper {
	rl := v1.ResourceList{v1.ResourcePods: resource.MustParse("110")}
	for i := 0; i < len(pairs(kv)); i += 2 {
		rl[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return &NodeWrapper{v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: v1.NodeStatus{
			Capacity: rl, Allocatable: rl.DeepCopy(),
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}}
}

// Label sets a label.
func (n *NodeWrapper) Label(k, v string) *NodeWrapper { n.Labels[k] = v; return n }

// Taint adds a taint.
func (n *NodeWrapper) Taint(key, value string, effect v1.TaintEffect) *NodeWrapper {
	n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: key, Value: value, Effect: effect})
	return n
}

// Unschedulable cordons the node.
func (n *NodeWrapper) Unschedulable() *NodeWrapper { n.Spec.Unschedulable = true; return n }

// Obj returns the node.
func (n *NodeWrapper) Obj() *v1.Node { return &n.Node }

// pairs returns kv, a list of name, value pairs; it panics on an odd
// length, a mistake in the test that calls it.
func pairs(kv []string) []string {
	if len(kv)%2 != 0 {
		panic(fmt.Sprintf("wrappers: odd list of name, value pairs: %q", kv))
	}
	return kv
}
