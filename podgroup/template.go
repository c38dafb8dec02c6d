package podgroup

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/gangsched/gangsched/resources"
)

// parseTemplate reads a member template annotation: a pod in YAML or JSON,
// as in a Spark executor pod template file (apiVersion and kind may be
// left out). Unknown fields are errors, so that a misspelt field is named
// rather than ignored.
func parseTemplate(s string) (*v1.Pod, error) {
	pod := &v1.Pod{}
	if err := yaml.UnmarshalStrict([]byte(s), pod); err != nil {
		return nil, fmt.Errorf("not a pod template: %w", err)
	}
	if pod.Kind != "" && pod.Kind != "Pod" {
		return nil, fmt.Errorf("kind %q: want a Pod", pod.Kind)
	}
	return pod, nil
}

// memberTemplate returns the pod that members of g not created yet
// will look like, apart from their requests: the newest live member that
// is not a Spark driver (once one exists, the real pod wins); else the
// declared template (the PodGroup's AnnotationMemberTemplate, or the Spark
// driver's AnnotationExecutorTemplate); else a pod with no node constraints
// at all. Members not created yet are never constrained like the driver:
// Spark executors usually go to another pool than their driver.
func (g *Group) memberTemplate() *v1.Pod {
	var newest *v1.Pod
	for _, mb := range g.members {
		if !mb.live() || IsSparkDriver(mb.pod) {
			continue
		}
		if newest == nil || newest.CreationTimestamp.Before(&mb.pod.CreationTimestamp) ||
			(newest.CreationTimestamp.Equal(&mb.pod.CreationTimestamp) && mb.pod.Name > newest.Name) {
			newest = mb.pod
		}
	}
	if newest != nil {
		return newest
	}
	if g.spec.MemberTemplate != nil {
		return g.spec.MemberTemplate
	}
	if g.driver != nil {
		if s := SpecFromSparkDriver(g.driver); s.Valid() && s.MemberTemplate != nil {
			return s.MemberTemplate
		}
	}
	return &v1.Pod{}
}

// identity returns a pod whose scheduler name, priority and namespace a
// member not created yet shares: the driver, else any member.
func (g *Group) identity() *v1.Pod {
	if g.driver != nil {
		return g.driver
	}
	for _, uid := range sortedUIDs(g.members) {
		return g.members[uid].pod
	}
	return nil
}

// virtualMember builds the pod a member not created yet is planned as: the
// template's spec and labels, with the group's labels, the identity's
// scheduler name and priority, and requests as its main (first) container's
// requests; other containers of a template (sidecars) are kept. Volumes are
// left out (each member's claims are its own, and do not exist yet), and so
// are resource claims.
//
// A real member (the template is a member of the group) keeps its
// containers when requests are what it requests. Limits follow the
// template's: a resource it limits is limited to what is requested; a
// Spark executor's memory is always limited to its request, as Spark sets
// it.
func (g *Group) virtualMember(template *v1.Pod, requests resources.List, n int) *v1.Pod {
	pod := &v1.Pod{}
	pod.Namespace = g.key.Namespace
	pod.Name = fmt.Sprintf("%s-member-to-come-%d", g.key.Name, n)
	pod.UID = types.UID(fmt.Sprintf("gangsched-virtual-%s-%s-%d", g.key.Namespace, g.key.Name, n))
	pod.Labels = map[string]string{}
	for k, v := range template.Labels {
		pod.Labels[k] = v
	}
	delete(pod.Labels, LabelSparkExecID)
	switch g.key.Kind {
	case KindPodGroup:
		pod.Labels[LabelPodGroup] = g.key.Name
	case KindSparkApp:
		pod.Labels[LabelSparkAppSelector] = g.key.Name
		pod.Labels[LabelSparkRole] = SparkRoleExecutor
	}
	spec := template.Spec.DeepCopy()
	if g.key.Kind == KindSchedulingPodGroup {
		spec.SchedulingGroup = &v1.PodSchedulingGroup{PodGroupName: &g.key.Name}
	}
	spec.NodeName = ""
	spec.Volumes = nil
	spec.ResourceClaims = nil
	if id := g.identity(); id != nil {
		spec.SchedulerName = id.Spec.SchedulerName
		spec.Priority = id.Spec.Priority
		spec.PriorityClassName = id.Spec.PriorityClassName
		spec.PreemptionPolicy = id.Spec.PreemptionPolicy
	}
	real := len(template.Spec.Containers) > 0 && template.UID != "" && resources.PodRequests(template).Equal(withPod(requests))
	if !real {
		main := v1.Container{Name: "member"}
		if len(spec.Containers) > 0 {
			main = spec.Containers[0]
		}
		limited := map[v1.ResourceName]bool{}
		for name := range main.Resources.Limits {
			limited[name] = true
		}
		if g.key.Kind == KindSparkApp || g.driver != nil {
			limited[v1.ResourceMemory] = true
		}
		reqs := requests.Clone()
		delete(reqs, resources.Pods)
		main.Resources.Requests = reqs.ToResourceList()
		main.Resources.Limits = v1.ResourceList{}
		for name, q := range main.Resources.Requests {
			if limited[name] {
				main.Resources.Limits[name] = q
			}
		}
		if len(spec.Containers) == 0 {
			spec.Containers = []v1.Container{main}
		} else {
			spec.Containers[0] = main
		}
		if template.UID != "" {
			spec.Containers = spec.Containers[:1] // a real member's size is all in requests
		}
		spec.InitContainers = nil
	}
	for i := range spec.Containers {
		spec.Containers[i].VolumeMounts = nil
	}
	pod.Spec = *spec
	return pod
}

// withPod returns l counting one pod.
func withPod(l resources.List) resources.List {
	out := l.Clone()
	out[resources.Pods] = 1
	return out
}
