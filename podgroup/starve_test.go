package podgroup_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/klog/v2/ktesting"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// roomsWithUse lists 4-CPU nodes with the given CPU in use on each.
func roomsWithUse(used map[string]int64) podgroup.Nodes {
	var rooms []podgroup.NodeRoom
	version := uint64(1)
	for _, u := range used {
		version += uint64(u) << 8
	}
	for _, name := range []string{"a", "b"} {
		rooms = append(rooms, podgroup.NodeRoom{
			Name: name, Node: w.MakeNode(name).Obj(),
			Allocatable: resources.List{"cpu": 4000, "pods": 110},
			Free:        resources.List{"cpu": 4000 - used[name]*1000, "pods": 100},
		})
	}
	return &w.Nodes{List: rooms, Ver: version}
}

// A group that waited past the threshold gets the nodes it needs as they
// drain: small groups no longer take that room, and it starts once the
// pods already there leave.
func TestStarvingGroupDrainsNodes(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	clk := testingclock.NewFakeClock(start)
	m := podgroup.NewManager(podgroup.Config{PermitTimeout: time.Minute, ReservationTimeout: time.Minute, StarvationThreshold: 10 * time.Second}, clk)
	m.UpsertPodGroup(w.MakePodGroup("ns", "big").MinMember(2).Obj())
	big := w.MakePod("ns", "big-0").Group("big").Req("cpu", "4").Obj()
	m.UpsertPod(big)
	m.UpsertPod(w.MakePod("ns", "big-1").Group("big").Req("cpu", "4").Obj())
	busy := roomsWithUse(map[string]int64{"a": 3, "b": 1})

	if adm := m.Admit(logger, big, busy); adm.Admitted || strings.Contains(adm.Message, "drain") {
		t.Fatalf("before the threshold: %+v", adm)
	}
	// Meanwhile a younger, smaller group fits.
	clk.Step(time.Second)
	early := w.MakeSparkDriver("ns", "early").Req("cpu", "1").Obj()
	m.UpsertPod(early)
	if !m.Admit(logger, early, busy).Admitted {
		t.Fatal("the small group did not fit")
	}
	m.Assume(early, "b")
	m.Permit(early)
	busy = roomsWithUse(map[string]int64{"a": 3, "b": 2})
	clk.Step(10 * time.Second)
	adm := m.Admit(logger, big, busy)
	if adm.Admitted || !strings.HasSuffix(adm.Message, "nodes are reserved for it as they drain") {
		t.Fatalf("after the threshold: %q", adm.Message)
	}
	if len(adm.Events) == 0 || adm.Events[0].Reason != podgroup.ReasonStarving {
		t.Errorf("events %+v", adm.Events)
	}

	// A small group that would fit on the free room may not take it.
	small := w.MakeSparkDriver("ns", "small").Req("cpu", "1").Obj()
	m.UpsertPod(small)
	if adm := m.Admit(logger, small, busy); adm.Admitted {
		t.Error("a small group took room a starving group waits for")
	}
	// The nodes drain; the starving group starts and stops draining.
	if adm := m.Admit(logger, big, roomsWithUse(nil)); !adm.Admitted {
		t.Fatalf("drained nodes did not admit the starving group: %s", adm.Message)
	}
}

// zonesWithUse lists 4-CPU nodes a-0 and a-1 in zone x, b-0 and b-1 in
// zone y, with the given CPU in use on each.
func zonesWithUse(used map[string]int64) podgroup.Nodes {
	var rooms []podgroup.NodeRoom
	for _, n := range []struct{ name, zone string }{{"a-0", "x"}, {"a-1", "x"}, {"b-0", "y"}, {"b-1", "y"}} {
		rooms = append(rooms, podgroup.NodeRoom{
			Name: n.name, Node: w.MakeNode(n.name).Label(zone, n.zone).Obj(),
			Allocatable: resources.List{"cpu": 4000, "pods": 110},
			Free:        resources.List{"cpu": 4000 - used[n.name]*1000, "pods": 100},
		})
	}
	return &w.Nodes{List: rooms, Ver: 1}
}

// A starving group that requires one zone drains nodes of one zone: the
// one with the most room free now, though the nodes with the most room
// free are in two zones.
func TestStarvingGroupDrainsOneZone(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	clk := testingclock.NewFakeClock(start)
	m := podgroup.NewManager(podgroup.Config{PermitTimeout: time.Minute, ReservationTimeout: time.Minute, StarvationThreshold: 10 * time.Second}, clk)
	m.UpsertPodGroup(w.MakePodGroup("ns", "big").MinMember(2).Annotation(podgroup.AnnotationRequiredTopology, zone).Obj())
	big := w.MakePod("ns", "big-0").Group("big").Req("cpu", "4").Obj()
	m.UpsertPod(big)
	m.UpsertPod(w.MakePod("ns", "big-1").Group("big").Req("cpu", "4").Obj())
	// Free now: a-0 3, a-1 2 (zone x: 5); b-0 4, b-1 0 (zone y: 4).
	busy := zonesWithUse(map[string]int64{"a-0": 1, "a-1": 2, "b-1": 4})
	m.Admit(logger, big, busy)
	clk.Step(11 * time.Second)
	adm := m.Admit(logger, big, busy)
	if adm.Admitted || !strings.HasSuffix(adm.Message, "nodes are reserved for it as they drain") {
		t.Fatalf("after the threshold: %q", adm.Message)
	}
	got := slices.Sorted(maps.Keys(m.OwnReservation(adm.Key)))
	if want := []string{"a-0", "a-1"}; !slices.Equal(got, want) {
		t.Errorf("draining %v, want %v: zone x, which has the most room free now", got, want)
	}
	if !contains(adm.Events, "reserving nodes a-0, a-1 of "+zone+"=x as they drain") {
		t.Errorf("events %+v, want the Starving Event to name the zone", adm.Events)
	}
}
