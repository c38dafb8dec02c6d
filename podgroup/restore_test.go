package podgroup_test

import (
	"testing"
	"time"

	"k8s.io/klog/v2/ktesting"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// A new instance takes up a reservation on the nodes the previous one held
// it on (AnnotationReservation), not where it would plan it today; where
// that room was taken meanwhile, it plans the room anew and writes where it
// now is with the next member's binding, under the same quorum record.
func TestRestoreTakesUpTheRoomWhereItWasHeld(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	held := map[string]resources.List{"c": {"cpu": 2000, "pods": 2}}
	quorum := start.Format(time.RFC3339) + " driver-uid"
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(2, "cpu=1").Node("a").
		Annotation(podgroup.AnnotationReservedUntil, start.Add(5*time.Minute).Format(time.RFC3339)).
		Annotation(podgroup.AnnotationQuorum, quorum).
		Annotation(podgroup.AnnotationReservation, podgroup.FormatReservation(held)).Obj()
	key, _ := podgroup.KeyOf(driver)

	for _, tc := range []struct {
		name string
		// free CPU of nodes a, b and c
		free      [3]int64
		wantNode  string
		rewritten bool
	}{
		// b fits best, but c held the room.
		{name: "held room still free", free: [3]int64{3, 2, 4}, wantNode: "c"},
		{name: "held room taken meanwhile", free: [3]int64{3, 2, 0}, wantNode: "b", rewritten: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newManager()
			m.UpsertPod(driver)
			rooms := fixed([]podgroup.NodeRoom{cpuRoom("a", tc.free[0]), cpuRoom("b", tc.free[1]), cpuRoom("c", tc.free[2])})
			acts := m.Restore(logger, rooms)
			if got := eventReasons(acts); len(got) != 1 || got[0] != podgroup.ReasonRestored {
				t.Fatalf("events %v, want ReservationRestored", got)
			}
			got := m.OwnReservation(key)
			if len(got) != 1 || got[tc.wantNode]["cpu"] != 2000 {
				t.Fatalf("restored %v, want 2 CPU on %s", got, tc.wantNode)
			}
			p, ok := m.Unpersisted(driver)
			if ok != tc.rewritten {
				t.Fatalf("record to write again: %v, want %v (%+v)", ok, tc.rewritten, p)
			}
			if ok && (p.Quorum != quorum || p.Reservation[tc.wantNode]["cpu"] != 2000 || !p.ReservedUntil.Equal(start.Add(5*time.Minute))) {
				t.Errorf("record written again %+v, want the same quorum and deadline with the room on %s", p, tc.wantNode)
			}
		})
	}
}

// Room planned anew while the first record is being written is written
// too: the write of the older record does not clear the newer one.
func TestRecordOfReplannedRoomIsWrittenAfterTheFirst(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	driver := w.MakeSparkDriver("ns", "app").Req("cpu", "1").Executors(2, "cpu=1").Obj()
	m.UpsertPod(driver)
	if adm := m.Admit(logger, driver, fixed([]podgroup.NodeRoom{cpuRoom("a", 4), cpuRoom("b", 4)})); !adm.Admitted {
		t.Fatal(adm.Message)
	}
	m.Assume(driver, "a")
	m.Permit(driver)
	first, ok := m.Unpersisted(driver)
	if !ok || first.Reservation["a"]["cpu"] != 2000 {
		t.Fatalf("first record %+v, want 2 CPU on a", first)
	}
	// Another scheduler's pod takes a's room before the record is written.
	m.UpsertForeignPod(w.MakePod("ns", "daemon").Scheduler("default-scheduler").Node("a").Req("cpu", "3").Obj())
	m.Restore(logger, fixed([]podgroup.NodeRoom{cpuRoom("a", 0), cpuRoom("b", 4)}))
	m.Persisted(driver, first)
	again, ok := m.Unpersisted(driver)
	if !ok || again.Quorum != first.Quorum || again.Reservation["b"]["cpu"] != 2000 || again.Reservation["a"] != nil {
		t.Fatalf("record after the replan %+v (to write: %v), want the same quorum with 2 CPU on b", again, ok)
	}
	if got := again.Annotations()[podgroup.AnnotationReservation]; got == first.Annotations()[podgroup.AnnotationReservation] {
		t.Errorf("the record to write again says %s, as the first", got)
	}
}

// A gang asked into one zone keeps its zone across a restart: the new
// instance reads it from where its members run, plans the room there when
// the room it held is gone, and keeps its members there (Domain).
func TestRestoreKeepsTheGangInItsDomain(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(2, "cpu=1").Node("a-0").
		Annotation(podgroup.AnnotationRequiredTopology, zone).
		Annotation(podgroup.AnnotationReservedUntil, start.Add(5*time.Minute).Format(time.RFC3339)).
		Annotation(podgroup.AnnotationQuorum, start.Format(time.RFC3339)+" driver-uid").Obj()
	key, _ := podgroup.KeyOf(driver)
	m, _ := newManager()
	m.UpsertPod(driver)
	// c-0 would fit best, a-1 is the driver's zone.
	m.Restore(logger, fixed([]podgroup.NodeRoom{zoneRoom("a-0", "a", 0), zoneRoom("a-1", "a", 4), zoneRoom("c-0", "c", 2)}))
	if got := m.OwnReservation(key); len(got) != 1 || got["a-1"]["cpu"] != 2000 {
		t.Errorf("restored %v, want 2 CPU on a-1, in the driver's zone", got)
	}
	if label, value, ok := m.Domain(key); !ok || label+"="+value != zone+"=a" {
		t.Errorf("domain %s=%s (%v), want %s=a", label, value, ok, zone)
	}
}

// A gang that prefers one zone, and was admitted in one, keeps its zone
// across a restart from the record (AnnotationDomain): its room, planned
// anew where the room it held is gone, stays in that zone, and the record
// written again names it.
func TestRestoreKeepsAPreferredGangInItsRecordedDomain(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(2, "cpu=1").Node("a-0").
		Annotation(podgroup.AnnotationPreferredTopology, zone).
		Annotation(podgroup.AnnotationReservedUntil, start.Add(5*time.Minute).Format(time.RFC3339)).
		Annotation(podgroup.AnnotationQuorum, start.Format(time.RFC3339)+" driver-uid").
		Annotation(podgroup.AnnotationReservation, podgroup.FormatReservation(map[string]resources.List{"a-2": {"cpu": 2000, "pods": 2}})).
		Annotation(podgroup.AnnotationDomain, zone+"=a").Obj()
	key, _ := podgroup.KeyOf(driver)
	m, _ := newManager()
	m.UpsertPod(driver)
	// a-2's room was taken; c-0 would fit best, a-1 is in the gang's zone.
	m.Restore(logger, fixed([]podgroup.NodeRoom{zoneRoom("a-0", "a", 0), zoneRoom("a-1", "a", 4), zoneRoom("a-2", "a", 0), zoneRoom("c-0", "c", 2)}))
	if got := m.OwnReservation(key); len(got) != 1 || got["a-1"]["cpu"] != 2000 {
		t.Errorf("restored %v, want 2 CPU on a-1, in the recorded zone", got)
	}
	p, ok := m.Unpersisted(driver)
	if !ok || p.Annotations()[podgroup.AnnotationDomain] != zone+"=a" {
		t.Errorf("record written again %v (%v), want it to name %s=a", p.Annotations(), ok, zone)
	}
}

// The record a group with a topology writes at quorum names its domain,
// empty when it was spread; a group with none writes no domain.
func TestQuorumRecordNamesTheDomain(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	for _, tc := range []struct {
		name, annotation string
		rooms            []podgroup.NodeRoom
		want             string
		written          bool
	}{
		{name: "in one zone", annotation: podgroup.AnnotationPreferredTopology, rooms: zones, want: zone + "=b", written: true},
		{name: "spread", annotation: podgroup.AnnotationPreferredTopology, rooms: []podgroup.NodeRoom{zoneRoom("a-0", "a", 3), zoneRoom("b-0", "b", 3)}, written: true},
		{name: "no topology", rooms: zones},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newManager()
			d := w.MakeSparkDriver("ns", "shuffle").Req("cpu", "1").Executors(4, "cpu=1")
			if tc.annotation != "" {
				d = d.Annotation(tc.annotation, zone)
			}
			driver := d.Obj()
			m.UpsertPod(driver)
			if adm := m.Admit(logger, driver, fixed(tc.rooms)); !adm.Admitted {
				t.Fatal(adm.Message)
			}
			m.Assume(driver, tc.rooms[0].Name)
			m.Permit(driver)
			p, ok := m.Unpersisted(driver)
			if !ok {
				t.Fatal("no record to write")
			}
			if got, written := p.Annotations()[podgroup.AnnotationDomain]; written != tc.written || got != tc.want {
				t.Errorf("domain recorded %q (written %v), want %q (%v)", got, written, tc.want, tc.written)
			}
		})
	}
}
