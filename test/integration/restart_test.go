package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// The scheduler is restarted after a Spark driver was bound and before its
// executors exist: the new instance reserves their room again from what the
// old one wrote on the driver, so a flood of other pods arriving first does
// not take it, and the executors land.
func TestRestartKeepsReservations(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 2, "4")               // 8 CPU
	driver, execs := sparkApp("pi", 4) // 1 + 4 CPU
	d := e.create(driver)[0]
	e.waitBound(20*time.Second, driver.Name)
	if err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return e.get(driver.Name).Annotations[podgroup.AnnotationReservedUntil] != "", nil
	}); err != nil {
		t.Fatal("the reservation deadline was not written on the driver")
	}

	// A new instance takes over.
	e.stop()
	startScheduler(t, e.c, e.config)

	var flood []*v1.Pod
	for i := 0; i < 8; i++ {
		flood = append(flood, w.MakePod("", fmt.Sprintf("flood-%d", i)).Req("cpu", "1").Obj())
	}
	e.create(flood...)
	time.Sleep(2 * time.Second)
	e.sparkDriver(d, execs...)
	e.waitBound(20*time.Second, names(execs...)...)
	if got := e.bound(names(flood...)...); got != 3 {
		t.Errorf("%d flood pods bound, want 3 (8 CPU - 5 for the app)", got)
	}
	e.waitEvent("Pod", driver.Name, podgroup.ReasonRestored, "reserved again")
}
