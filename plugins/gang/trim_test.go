package gang

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// trimMember drops what no scheduling decision reads and keeps what the
// filters and the Manager do.
func TestTrimMember(t *testing.T) {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "exec-1", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "spark"}},
			Annotations: map[string]string{"a": "b"}},
		Spec: v1.PodSpec{Containers: []v1.Container{{
			Name: "executor", Image: "spark:4", Env: []v1.EnvVar{{Name: "SPARK_EXECUTOR_ID", Value: "1"}},
			Args:           []string{"executor"},
			Ports:          []v1.ContainerPort{{ContainerPort: 7079, HostPort: 7079}},
			Resources:      v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("1")}},
			ReadinessProbe: &v1.Probe{},
		}}},
	}
	obj, err := trimMember(pod)
	if err != nil {
		t.Fatal(err)
	}
	got := obj.(*v1.Pod)
	c := got.Spec.Containers[0]
	if got.ManagedFields != nil || c.Env != nil || c.Args != nil || c.ReadinessProbe != nil {
		t.Errorf("kept what no decision reads: %+v", got)
	}
	if c.Image != "spark:4" || len(c.Ports) != 1 || c.Resources.Requests.Cpu().MilliValue() != 1000 || got.Annotations["a"] != "b" {
		t.Errorf("dropped what the filters or the Manager read: %+v", got)
	}
}
