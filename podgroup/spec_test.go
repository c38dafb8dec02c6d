package podgroup_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

var ignoreErrDetail = cmpopts.IgnoreFields(field.Error{}, "BadValue", "Detail", "Origin", "CoveredByDeclarative")

func TestSpecFromPodGroup(t *testing.T) {
	tests := map[string]struct {
		pg       *w.PodGroupWrapper
		want     podgroup.Spec
		wantErrs field.ErrorList
	}{
		"minMember and minResources": {
			pg:   w.MakePodGroup("ns", "pg").MinMember(3).MinResources("cpu", "6", "memory", "12Gi").Timeout(30),
			want: podgroup.Spec{MinMember: 3, MinResources: resources.List{"cpu": 6000, "memory": 12 << 30}, ScheduleTimeout: 30 * time.Second},
		},
		"minMember omitted reads as zero": {
			pg:       w.MakePodGroup("ns", "pg").MinMember(0),
			wantErrs: field.ErrorList{{Type: field.ErrorTypeInvalid, Field: "spec.minMember"}},
		},
		"negative minMember": {
			pg:       w.MakePodGroup("ns", "pg").MinMember(-2),
			wantErrs: field.ErrorList{{Type: field.ErrorTypeInvalid, Field: "spec.minMember"}},
		},
		"negative timeout and resources": {
			pg: w.MakePodGroup("ns", "pg").MinResources("cpu", "-1").Timeout(-5),
			wantErrs: field.ErrorList{
				{Type: field.ErrorTypeInvalid, Field: "spec.minResources[cpu]"},
				{Type: field.ErrorTypeInvalid, Field: "spec.scheduleTimeoutSeconds"},
			},
		},
		"bad member-requests annotation": {
			pg:       w.MakePodGroup("ns", "pg").Annotation(podgroup.AnnotationMemberRequests, "cpu:1"),
			wantErrs: field.ErrorList{{Type: field.ErrorTypeInvalid, Field: "metadata.annotations[gangsched.io/member-requests]"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := podgroup.SpecFromPodGroup(tc.pg.Obj())
			if diff := cmp.Diff(tc.wantErrs, got.Errs, ignoreErrDetail); diff != "" {
				t.Errorf("errors (-want,+got):\n%s", diff)
			}
			if len(tc.wantErrs) == 0 {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("spec (-want,+got):\n%s", diff)
				}
			}
		})
	}
}

func TestSpecFromSparkDriver(t *testing.T) {
	tests := map[string]struct {
		driver   *w.PodWrapper
		want     resources.List
		wantErrs field.ErrorList
	}{
		"no annotations: the driver alone": {
			driver: w.MakeSparkDriver("ns", "a").Req("cpu", "1", "memory", "1Gi"),
		},
		"driver plus four executors": {
			driver: w.MakeSparkDriver("ns", "a").Req("cpu", "1", "memory", "1Gi").Executors(4, "cpu=2,memory=4Gi"),
			want:   resources.List{"cpu": 9000, "memory": 17 << 30, "pods": 5},
		},
		"count is not a number": {
			driver:   w.MakeSparkDriver("ns", "a").Annotation(podgroup.AnnotationExecutors, "four").Annotation(podgroup.AnnotationExecutorRequests, "cpu=1"),
			wantErrs: field.ErrorList{{Type: field.ErrorTypeInvalid, Field: "metadata.annotations[gangsched.io/executors]"}},
		},
		"negative count": {
			driver:   w.MakeSparkDriver("ns", "a").Executors(-1, "cpu=1"),
			wantErrs: field.ErrorList{{Type: field.ErrorTypeInvalid, Field: "metadata.annotations[gangsched.io/executors]"}},
		},
		"count without requests": {
			driver:   w.MakeSparkDriver("ns", "a").Annotation(podgroup.AnnotationExecutors, "3"),
			wantErrs: field.ErrorList{{Type: field.ErrorTypeRequired, Field: "metadata.annotations[gangsched.io/executor-requests]"}},
		},
		"dynamic allocation: the larger of minExecutors and initialExecutors": {
			driver: w.MakeSparkDriver("ns", "a").Req("cpu", "1").Annotation(podgroup.AnnotationExecutorRequests, "cpu=2").
				Annotation(podgroup.AnnotationMinExecutors, "1").Annotation(podgroup.AnnotationInitialExecutors, "3").
				Annotation(podgroup.AnnotationMaxExecutors, "10"),
			want: resources.List{"cpu": 7000, "pods": 4},
		},
		"gangsched.io/executors wins over minExecutors": {
			driver: w.MakeSparkDriver("ns", "a").Req("cpu", "1").Executors(2, "cpu=1").Annotation(podgroup.AnnotationMinExecutors, "5"),
			want:   resources.List{"cpu": 3000, "pods": 3},
		},
		"maxExecutors below the gang": {
			driver: w.MakeSparkDriver("ns", "a").Annotation(podgroup.AnnotationExecutorRequests, "cpu=1").
				Annotation(podgroup.AnnotationMinExecutors, "4").Annotation(podgroup.AnnotationMaxExecutors, "2"),
			wantErrs: field.ErrorList{{Type: field.ErrorTypeInvalid, Field: "metadata.annotations[spark.dynamicAllocation.maxExecutors]"}},
		},
		"minExecutors not a number": {
			driver: w.MakeSparkDriver("ns", "a").Annotation(podgroup.AnnotationExecutorRequests, "cpu=1").
				Annotation(podgroup.AnnotationMinExecutors, "some"),
			wantErrs: field.ErrorList{{Type: field.ErrorTypeInvalid, Field: "metadata.annotations[spark.dynamicAllocation.minExecutors]"}},
		},
		"malformed requests": {
			driver:   w.MakeSparkDriver("ns", "a").Executors(2, "cpu=lots"),
			wantErrs: field.ErrorList{{Type: field.ErrorTypeInvalid, Field: "metadata.annotations[gangsched.io/executor-requests]"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := podgroup.SpecFromSparkDriver(tc.driver.Obj())
			if diff := cmp.Diff(tc.wantErrs, got.Errs, ignoreErrDetail); diff != "" {
				t.Errorf("errors (-want,+got):\n%s", diff)
			}
			if got.MinMember != 1 {
				t.Errorf("MinMember = %d, want 1", got.MinMember)
			}
			if diff := cmp.Diff(tc.want, got.MinResources); diff != "" {
				t.Errorf("MinResources (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestParseResources(t *testing.T) {
	got, err := resources.Parse("cpu=1500m, memory=4505Mi,nvidia.com/gpu=1")
	if err != nil {
		t.Fatal(err)
	}
	want := resources.List{"cpu": 1500, "memory": 4505 << 20, "nvidia.com/gpu": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want,+got):\n%s", diff)
	}
	for _, bad := range []string{"", "cpu", "cpu=x", "=1", "cpu=-1"} {
		if _, err := resources.Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
	q := resource.MustParse("2Gi")
	if got := resources.FromResourceList(v1.ResourceList{"memory": q}).String(); got != "memory 2Gi" {
		t.Errorf("String() = %q", got)
	}
}
