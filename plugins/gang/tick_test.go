package gang

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
	testingclock "k8s.io/utils/clock/testing"

	gangconfig "github.com/gangsched/gangsched/apis/config"
	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// A replica not yet active runs no group timers: a group found bound half
// way past its permit timeout is released by the active replica's Tick,
// with its deletions and Events, not consumed by a standby that could
// carry out neither.
func TestStandbyRunsNoTimers(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	fw, _ := filtersFramework(t, []*v1.Node{w.MakeNode("n-0", "cpu", "1").Obj()}, nil)
	clk := testingclock.NewFakeClock(time.Now())
	args := &gangconfig.GangArgs{PermitTimeoutSeconds: 3, ReservationTimeoutSeconds: 300, RetryBackoffSeconds: 1, MaxRetryBackoffSeconds: 60}
	pl, err := newWithClock(ctx, args, fw, clk)
	if err != nil {
		t.Fatal(err)
	}
	// The test framework's informers sync at once: let activation finish,
	// then play a replica that has not resynced yet.
	for !pl.resynced.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	pl.resynced.Store(false)
	trio := []*v1.Pod{
		w.MakePod("ns", "trio-0").Group("trio").Req("cpu", "1").Node("n-0").Obj(),
		w.MakePod("ns", "trio-1").Group("trio").Req("cpu", "1").Obj(),
		w.MakePod("ns", "trio-2").Group("trio").Req("cpu", "1").Obj(),
	}
	var uids []string
	for _, p := range trio {
		uids = append(uids, string(p.UID))
	}
	pl.manager.UpsertPodGroup(w.MakePodGroup("ns", "trio").MinMember(3).
		Annotation(podgroup.AnnotationQuorum, clk.Now().UTC().Format(time.RFC3339)+" "+strings.Join(uids, ",")).Obj())
	for _, p := range []*v1.Pod{trio[1], trio[2], trio[0]} { // trio-0 bound last, as in a crash mid-binding
		pl.manager.UpsertPod(p)
	}
	clk.Step(5 * time.Second)

	pl.tick(ctx) // not resynced: a standby
	acts := pl.manager.Tick(klog.FromContext(ctx))
	if len(acts.Delete) != 1 || acts.Delete[0].Pod.Name != "trio-0" {
		t.Errorf("the active replica's Tick deletes %v, want trio-0 (the standby must not have released the group)", acts.Delete)
	}
}
