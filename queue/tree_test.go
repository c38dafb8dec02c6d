package queue

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/resources"
)

func q(name, parent string, weight int32, opts ...func(*v1alpha1.Queue)) *v1alpha1.Queue {
	out := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.QueueSpec{Parent: parent, Weight: &weight}}
	for _, o := range opts {
		o(out)
	}
	return out
}

func guaranteed(cpu string) func(*v1alpha1.Queue) {
	return func(q *v1alpha1.Queue) { q.Spec.Guaranteed = v1.ResourceList{"cpu": resource.MustParse(cpu)} }
}

func maxCPU(cpu string) func(*v1alpha1.Queue) {
	return func(q *v1alpha1.Queue) { q.Spec.Max = v1.ResourceList{"cpu": resource.MustParse(cpu)} }
}

func TestBuildValidates(t *testing.T) {
	tree := Build([]*v1alpha1.Queue{
		q("ok", "", 1),
		q("child", "ok", 2),
		q("orphan", "missing", 1),
		q("loop-a", "loop-b", 1),
		q("loop-b", "loop-a", 1),
		q("under-loop", "loop-a", 1),
		q("greedy", "", 1, guaranteed("8"), maxCPU("4")),
		q("negative", "", -1),
		q("under-negative", "negative", 1),
	})
	want := map[Name]string{
		"ok":             "",
		"default":        "",
		"child":          "",
		"orphan":         `spec.parent: Not found: "missing"`,
		"loop-a":         `spec.parent: Invalid value: "loop-b": forms a cycle of parents`,
		"loop-b":         `spec.parent: Invalid value: "loop-a": forms a cycle of parents`,
		"under-loop":     `spec.parent: Invalid value: "loop-a": ancestor queue loop-a is invalid`,
		"greedy":         `spec.guaranteed[cpu]: Invalid value: "8": must not exceed spec.max[cpu] (4)`,
		"negative":       `spec.weight: Invalid value: -1: must not be negative`,
		"under-negative": `spec.parent: Invalid value: "negative": ancestor queue negative is invalid`,
	}
	got := map[Name]string{}
	for _, name := range tree.Names() {
		got[name] = ""
		if errs := tree.Get(name).Errs; len(errs) > 0 {
			got[name] = errs.ToAggregate().Error()
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want,+got):\n%s", diff)
	}
}

func TestFairSharesHierarchy(t *testing.T) {
	// root pool 12: P and Q share it 1:1; P's children C1 and C2 share P's 1:2.
	tree := Build([]*v1alpha1.Queue{
		q("p", "", 1), q("c1", "p", 1), q("c2", "p", 2), q("q", "", 1),
		q("idle", "", 1, guaranteed("4")),
	})
	got := tree.FairShares(cpu(12), map[Name]resources.List{"c1": cpu(100), "c2": cpu(100), "q": cpu(100)})
	want := map[Name]resources.List{"p": cpu(6), "c1": cpu(2), "c2": cpu(4), "q": cpu(6), "idle": {}, "default": {}}
	for name := range got {
		got[name] = nonZero(got[name])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want,+got):\n%s", diff)
	}
}

func TestNamespaceQueue(t *testing.T) {
	a := q("a", "", 1)
	a.Spec.Namespaces = []string{"team-a", "shared"}
	b := q("b", "", 1)
	b.Spec.Namespaces = []string{"shared"}
	tree := Build([]*v1alpha1.Queue{b, a})
	if got, _ := tree.NamespaceQueue("shared"); got != "a" {
		t.Errorf("shared belongs to %q, want a (first by name)", got)
	}
	if _, ok := tree.NamespaceQueue("other"); ok {
		t.Error("an unclaimed namespace has a queue")
	}
}
