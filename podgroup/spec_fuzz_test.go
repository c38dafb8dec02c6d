package podgroup_test

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// FuzzSpecFromSparkDriver feeds the driver annotations anything: no panic,
// and a valid spec needs at least the driver, never a negative amount.
func FuzzSpecFromSparkDriver(f *testing.F) {
	f.Add("4", "cpu=2,memory=4505Mi")
	f.Add("0", "cpu=1")
	f.Add("-3", "cpu=1")
	f.Add("four", "cpu=1")
	f.Add("2147483648", "cpu=1")
	f.Add("3", "cpu=lots")
	f.Fuzz(func(t *testing.T, count, requests string) {
		driver := w.MakeSparkDriver("ns", "app").Req("cpu", "1").
			Annotation(podgroup.AnnotationExecutors, count).Annotation(podgroup.AnnotationExecutorRequests, requests).Obj()
		s := podgroup.SpecFromSparkDriver(driver)
		if !s.Valid() {
			return
		}
		if s.MinResources["cpu"] < 1000 || s.MinResources["pods"] < 1 {
			t.Fatalf("spec %+v needs less than the driver", s)
		}
		for name, v := range s.MinResources {
			if v < 0 {
				t.Fatalf("negative %s in %+v", name, s)
			}
		}
	})
}

// FuzzSpecFromPodGroup feeds PodGroup fields anything: no panic, and a
// valid spec has minMember of at least 1 and no negative amount.
func FuzzSpecFromPodGroup(f *testing.F) {
	f.Add(int32(1), "9", int32(60), "cpu=2")
	f.Add(int32(0), "1", int32(-1), "")
	f.Add(int32(-5), "-1", int32(0), "cpu=x")
	f.Fuzz(func(t *testing.T, minMember int32, cpu string, timeout int32, memberRequests string) {
		pg := w.MakePodGroup("ns", "pg").MinMember(minMember).Timeout(timeout).Obj()
		if q, err := resource.ParseQuantity(cpu); err == nil {
			pg.Spec.MinResources = v1.ResourceList{v1.ResourceCPU: q}
		}
		if memberRequests != "" {
			pg.Annotations[podgroup.AnnotationMemberRequests] = memberRequests
		}
		s := podgroup.SpecFromPodGroup(pg)
		if !s.Valid() {
			return
		}
		if s.MinMember < 1 || s.ScheduleTimeout < 0 {
			t.Fatalf("valid spec %+v", s)
		}
		for name, v := range s.MinResources {
			if v < 0 {
				t.Fatalf("negative %s in %+v", name, s)
			}
		}
	})
}
