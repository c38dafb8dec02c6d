package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// driverSlot is an extended resource only node a-0 offers, so the driver
// can land nowhere else.
const driverSlot = "example.com/driver-slot"

// A Spark driver is bound and its two executors' room (2 CPU each) is
// reserved on node b-0; b-0 is deleted before the executors exist. The room
// is reserved again on c-0, so that pods arriving first (a flood of 1-CPU
// pods in no group) do not take it, and the executors land there.
func TestNodeDeletedUnderReservation(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	for _, n := range []struct {
		prefix string
		rl     v1.ResourceList
	}{
		{"a", v1.ResourceList{v1.ResourceCPU: resource.MustParse("1"), v1.ResourceMemory: resource.MustParse("32Gi"), driverSlot: resource.MustParse("1")}},
		{"b", v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("32Gi")}},
		{"c", v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("32Gi")}},
	} {
		if _, err := e.c.CreateNodes(e.ctx, n.prefix, 1, n.rl, nil); err != nil {
			t.Fatal(err)
		}
	}
	driver := w.MakeSparkDriver("", "pi").Req("cpu", "1", "memory", "1Gi", driverSlot, "1").Executors(2, "cpu=2,memory=2Gi").Obj()
	driver.Spec.Containers[0].Resources.Limits = v1.ResourceList{driverSlot: resource.MustParse("1")}
	var execs []*v1.Pod
	for i := 1; i <= 2; i++ {
		execs = append(execs, w.MakeSparkExecutor("", "pi", i, driver).Req("cpu", "2", "memory", "2Gi").Obj())
	}
	d := e.create(driver)[0]
	e.waitBound(20*time.Second, driver.Name)
	// The plan put both executors on b-0 (best fit, then name order).
	e.waitEvent("Pod", driver.Name, podgroup.ReasonAdmitted, "3 pods planned on 2 nodes")

	if err := e.c.Client.CoreV1().Nodes().Delete(e.ctx, "b-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Any pod's scheduling cycle plans the room again once the scheduler
	// has seen the deletion: send pods that request nothing until it has.
	probes := 0
	if err := wait.PollUntilContextTimeout(e.ctx, 500*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if e.hasEvent("Pod", driver.Name, podgroup.ReasonReservationReplanned, "node b-0 was deleted with cpu 4") {
			return true, nil
		}
		e.create(w.MakePod("", fmt.Sprintf("probe-%d", probes)).Obj())
		probes++
		return false, nil
	}); err != nil {
		t.Fatalf("the room reserved on b-0 was not planned again after %d probes", probes)
	}

	var flood []*v1.Pod
	for i := 0; i < 4; i++ {
		flood = append(flood, w.MakePod("", fmt.Sprintf("flood-%d", i)).Req("cpu", "1").Obj())
	}
	e.create(flood...)
	e.sparkDriver(d, execs...)
	e.waitBound(20*time.Second, names(execs...)...)
	for _, ex := range execs {
		if node := e.get(ex.Name).Spec.NodeName; node != "c-0" {
			t.Errorf("executor %s on %s, want c-0", ex.Name, node)
		}
	}
	if got := e.bound(names(flood...)...); got != 0 {
		t.Errorf("%d flood pods bound in the executors' room", got)
	}
}

// hasEvent reports whether an Event like waitEvent's exists now.
func (e *env) hasEvent(kind, name, reason, want string) bool {
	list, err := e.c.Client.EventsV1().Events(e.ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, ev := range list.Items {
		if ev.Regarding.Kind == kind && ev.Regarding.Name == name && ev.Reason == reason && strings.Contains(ev.Note, want) {
			return true
		}
	}
	return false
}

// A running Spark app loses executors, one that fails and one that is
// deleted; the driver creates replacements, which are placed in the room
// the lost ones freed. The app is not released, nothing of it is deleted,
// and its queue counts it once, with its live pods only.
func TestExecutorRecreatedAfterFailure(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 1, "3")
	driver, execs := sparkApp("pi", 2) // 1 + 2 CPU: the node is full
	d := e.create(driver)[0]
	e.sparkDriver(d, execs...)
	e.waitBound(20*time.Second, append(names(execs...), driver.Name)...)
	e.waitQueueStatus(v1alpha1.DefaultQueue, allocatedCPU("3", 1))

	// Play the kubelet: executor 1 fails. Executor 2 is deleted.
	p := e.get(execs[0].Name)
	p.Status.Phase = v1.PodFailed
	if _, err := e.c.Client.CoreV1().Pods(e.ns).UpdateStatus(e.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Client.CoreV1().Pods(e.ns).Delete(e.ctx, execs[1].Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	e.waitQueueStatus(v1alpha1.DefaultQueue, allocatedCPU("1", 1))

	// The driver replaces both.
	var replacements []*v1.Pod
	for i := 3; i <= 4; i++ {
		replacements = append(replacements, w.MakeSparkExecutor("", "pi", i, d).Req("cpu", "1", "memory", "2Gi").Obj())
	}
	e.sparkDriver(d, replacements...)
	e.waitBound(20*time.Second, names(replacements...)...)
	e.waitQueueStatus(v1alpha1.DefaultQueue, allocatedCPU("3", 1))
	if p := e.get(driver.Name); p.DeletionTimestamp != nil {
		t.Error("the driver is being deleted")
	}
	if e.hasEvent("Pod", driver.Name, podgroup.ReasonReleased, "") {
		t.Error("the app was released")
	}
}

// allocatedCPU matches a queue status with cpu allocated to groups admitted.
func allocatedCPU(cpu string, groups int32) func(v1alpha1.QueueStatus) bool {
	want := resource.MustParse(cpu)
	return func(s v1alpha1.QueueStatus) bool {
		got := s.Allocated[v1.ResourceCPU]
		return got.Cmp(want) == 0 && s.AdmittedGroups == groups
	}
}
