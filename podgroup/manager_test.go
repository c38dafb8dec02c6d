package podgroup_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2/ktesting"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

var start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newManager() (*podgroup.Manager, *testingclock.FakeClock) {
	clk := testingclock.NewFakeClock(start)
	return podgroup.NewManager(podgroup.Config{
		PermitTimeout:      time.Minute,
		ReservationTimeout: 5 * time.Minute,
		RetryBackoff:       time.Second,
		MaxRetryBackoff:    time.Minute,
	}, clk), clk
}

// nodes lists n nodes with cpu cores and 64Gi each.
func nodes(n int, cpu int64) podgroup.Nodes { return w.EmptyNodes(n, cpu) }

// fixed is a Nodes of rooms, whose version is their count.
func fixed(rooms []podgroup.NodeRoom) podgroup.Nodes { return &w.Nodes{List: rooms} }

func nodeRooms(n int, cpu int64) []podgroup.NodeRoom { return w.EmptyNodes(n, cpu).List }

func uids(pods ...*v1.Pod) []types.UID {
	out := make([]types.UID, len(pods))
	for i, p := range pods {
		out[i] = p.UID
	}
	return out
}

func rejectedUIDs(rs []podgroup.Rejection) []types.UID {
	out := make([]types.UID, len(rs))
	for i, r := range rs {
		out[i] = r.UID
	}
	return out
}

func TestPodGroupAllOrNothing(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	m.UpsertPodGroup(w.MakePodGroup("ns", "pg").MinMember(3).Obj())
	var pods []*v1.Pod
	for _, name := range []string{"p1", "p2", "p3"} {
		pods = append(pods, w.MakePod("ns", name).Group("pg").Req("cpu", "2").Obj())
	}

	// Members arrive one by one: gated until all three exist.
	m.UpsertPod(pods[0])
	m.UpsertPod(pods[1])
	msg, notify := m.Gate(pods[1])
	if want := "pod group ns/pg has fewer than its 3 members"; !strings.HasPrefix(msg, want) || !notify {
		t.Fatalf("Gate = %q, %v; want prefix %q, notify", msg, notify, want)
	}
	if _, notify := m.Gate(pods[1]); notify {
		t.Error("Gate notified twice for the same pod")
	}
	m.UpsertPod(pods[2])
	if msg, _ := m.Gate(pods[0]); msg != "" {
		t.Fatalf("Gate = %q after all members exist", msg)
	}

	// Room for two members only: nothing is admitted.
	adm := m.Admit(logger, pods[0], nodes(1, 4))
	if adm.Admitted || !strings.Contains(adm.Message, "needs cpu 6 for 3 pods, cpu 4") {
		t.Fatalf("Admit = %+v, want a shortfall", adm)
	}
	if m.HasReservations() {
		t.Fatal("a group that does not fit reserved room")
	}

	// A second node: the whole group fits, and its room is reserved.
	adm = m.Admit(logger, pods[0], nodes(2, 4))
	if !adm.Admitted {
		t.Fatalf("Admit = %q, want admitted", adm.Message)
	}
	if diff := cmp.Diff(uids(pods[1], pods[2]), uids(adm.Activate...)); diff != "" {
		t.Errorf("activated (-want,+got):\n%s", diff)
	}
	if got := m.OwnReservation(adm.Key); len(got) != 2 {
		t.Errorf("reserved on %d nodes, want 2: %v", len(got), got)
	}

	// Members are placed one by one and wait until the third.
	for i, p := range pods {
		m.Assume(p, "a")
		d := m.Permit(p)
		if i < 2 {
			if d.Allow || d.Wait != time.Minute {
				t.Fatalf("Permit(%s) = %+v, want wait 1m", p.Name, d)
			}
			continue
		}
		if !d.Allow {
			t.Fatalf("Permit(%s) = %+v, want allow", p.Name, d)
		}
		if diff := cmp.Diff(uids(pods[0], pods[1]), d.Actions.Allow, sortUIDs); diff != "" {
			t.Errorf("allowed (-want,+got):\n%s", diff)
		}
	}
	if m.HasReservations() {
		t.Error("room stays reserved after every member was placed")
	}
}

var sortUIDs = cmp.Transformer("sort", func(in []types.UID) []string {
	out := make([]string, len(in))
	for i, u := range in {
		out[i] = string(u)
	}
	sortStrings(out)
	return out
})

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestSparkDriverReservesExecutors(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := newManager()
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(3, "cpu=2").Obj()
	m.UpsertPod(driver)

	// 1 + 3×2 = 7 CPU: two 3-CPU nodes are not enough.
	if adm := m.Admit(logger, driver, nodes(2, 3)); adm.Admitted {
		t.Fatal("driver admitted although its executors do not fit")
	} else if !strings.Contains(adm.Message, "needs cpu 7 for 4 pods, cpu 6 free") {
		t.Errorf("message = %q", adm.Message)
	}
	adm := m.Admit(logger, driver, nodes(3, 3))
	if !adm.Admitted {
		t.Fatalf("Admit = %q", adm.Message)
	}
	m.Assume(driver, "a")
	if d := m.Permit(driver); !d.Allow {
		t.Fatalf("driver not permitted: %+v", d)
	}
	key, _ := podgroup.KeyOf(driver)
	reserved := resources.List{}
	for _, r := range m.OwnReservation(key) {
		reserved.Add(r)
	}
	if want := (resources.List{"cpu": 6000, "pods": 3}); !reserved.Equal(want) {
		t.Fatalf("reserved %v, want %v", reserved, want)
	}

	// Another app cannot take the executors' room.
	other := w.MakeSparkDriver("ns", "other").Req("cpu", "2").Obj()
	m.UpsertPod(other)
	if adm := m.Admit(logger, other, fixed([]podgroup.NodeRoom{
		{Name: "a", Free: resources.List{"cpu": 2000, "pods": 109}},
		{Name: "b", Free: resources.List{"cpu": 3000, "pods": 110}},
		{Name: "c", Free: resources.List{"cpu": 3000, "pods": 110}},
	})); adm.Admitted {
		t.Fatal("another app was admitted into reserved room")
	}

	// Executors land in the reserved room and consume it.
	for i := 1; i <= 3; i++ {
		exec := w.MakeSparkExecutor("ns", "pi", i, driver).Req("cpu", "2").Obj()
		m.UpsertPod(exec)
		if adm := m.Admit(logger, exec, nil); !adm.Admitted {
			t.Fatalf("executor %d not admitted: %s", i, adm.Message)
		}
		m.Assume(exec, "b")
		if d := m.Permit(exec); !d.Allow {
			t.Fatalf("executor %d not permitted", i)
		}
	}
	if m.HasReservations() {
		t.Errorf("reservation left after all executors: %v", m.OwnReservation(key))
	}
	_ = clk
}

func TestReservationExpires(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := newManager()
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(2, "cpu=1").Obj()
	m.UpsertPod(driver)
	if !m.Admit(logger, driver, nodes(1, 4)).Admitted {
		t.Fatal("not admitted")
	}
	m.Assume(driver, "a")
	m.Permit(driver)
	clk.Step(4 * time.Minute)
	if acts := m.Tick(logger); !acts.Empty() {
		t.Fatalf("Tick before the timeout did %+v", acts)
	}
	m.NoteBlocked(w.MakePod("ns", "plain").Obj())
	clk.Step(time.Minute)
	acts := m.Tick(logger)
	if m.HasReservations() {
		t.Fatal("reservation not freed after the timeout")
	}
	if len(acts.Events) != 1 || acts.Events[0].Reason != podgroup.ReasonReservationExpired {
		t.Errorf("events = %+v", acts.Events)
	}
	if len(acts.Activate) != 1 || acts.Activate[0].Name != "plain" {
		t.Errorf("activated %v, want the blocked pod", acts.Activate)
	}
}

func TestPermitTimeoutReleasesWholeGroup(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, clk := newManager()
	m.UpsertPodGroup(w.MakePodGroup("ns", "pg").MinMember(3).Timeout(10).Obj())
	var pods []*v1.Pod
	for _, name := range []string{"p1", "p2", "p3"} {
		p := w.MakePod("ns", name).Group("pg").Req("cpu", "1").Obj()
		pods = append(pods, p)
		m.UpsertPod(p)
	}
	if !m.Admit(logger, pods[0], nodes(1, 4)).Admitted {
		t.Fatal("not admitted")
	}
	m.Assume(pods[0], "a")
	if d := m.Permit(pods[0]); d.Wait != 10*time.Second {
		t.Fatalf("wait = %v, want the PodGroup's 10s", d.Wait)
	}
	m.Assume(pods[1], "a")
	m.Permit(pods[1])

	// The framework's permit timer rejects pods[0]: Unreserve releases the group.
	clk.Step(10 * time.Second)
	acts := m.Forget(pods[0])
	if diff := cmp.Diff([]types.UID{pods[1].UID}, rejectedUIDs(acts.Reject)); diff != "" {
		t.Errorf("rejected (-want,+got):\n%s", diff)
	}
	if m.HasReservations() {
		t.Error("released group still holds room")
	}
	if acts := m.Forget(pods[1]); len(acts.Reject) != 0 {
		t.Errorf("second Unreserve rejected again: %+v", acts.Reject)
	}
	// It backs off before the next admission, then is activated.
	if adm := m.Admit(logger, pods[2], nodes(1, 4)); adm.Admitted || !strings.Contains(adm.Message, "retries in") {
		t.Errorf("Admit during backoff = %+v", adm)
	}
	clk.Step(time.Second)
	if acts := m.Tick(logger); len(acts.Activate) != 3 {
		t.Errorf("activated %d pods after backoff, want 3", len(acts.Activate))
	}
	if !m.Admit(logger, pods[2], nodes(1, 4)).Admitted {
		t.Error("not admitted after backoff")
	}
}

func TestUnplaceableMemberReleasesGroup(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	m.UpsertPodGroup(w.MakePodGroup("ns", "pg").MinMember(2).Obj())
	p1 := w.MakePod("ns", "p1").Group("pg").Obj()
	p2 := w.MakePod("ns", "p2").Group("pg").Obj()
	m.UpsertPod(p1)
	m.UpsertPod(p2)
	m.Admit(logger, p1, nodes(1, 4))
	m.Assume(p1, "a")
	m.Permit(p1)
	acts := m.Unplaceable(p2, "0/1 nodes are available")
	if diff := cmp.Diff([]types.UID{p1.UID}, rejectedUIDs(acts.Reject)); diff != "" {
		t.Errorf("rejected (-want,+got):\n%s", diff)
	}
	if len(acts.Events) != 1 || acts.Events[0].Reason != podgroup.ReasonReleased {
		t.Errorf("events = %+v", acts.Events)
	}
}

func TestBadInputWaitsWithReason(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	orphan := w.MakePod("ns", "orphan").Group("missing").Obj()
	if adm := m.Admit(logger, orphan, nodes(1, 4)); adm.Admitted || !strings.Contains(adm.Message, "pod group ns/missing not found") {
		t.Errorf("missing group: %+v", adm)
	}

	acts := m.UpsertPodGroup(w.MakePodGroup("ns", "zero").MinMember(0).Obj())
	if len(acts.Events) != 1 || acts.Events[0].Reason != podgroup.ReasonInvalid || !strings.Contains(acts.Events[0].Message, "spec.minMember") {
		t.Errorf("events = %+v", acts.Events)
	}
	p := w.MakePod("ns", "p").Group("zero").Obj()
	if adm := m.Admit(logger, p, nodes(1, 4)); adm.Admitted || !strings.Contains(adm.Message, "spec.minMember: Invalid value: 0: must be at least 1") {
		t.Errorf("invalid group: %+v", adm)
	}

	driver := w.MakeSparkDriver("ns", "bad").Annotation(podgroup.AnnotationExecutors, "many").Obj()
	acts = m.UpsertPod(driver)
	if len(acts.Events) != 1 || !strings.Contains(acts.Events[0].Message, "gangsched.io/executors") {
		t.Errorf("events = %+v", acts.Events)
	}
	if adm := m.Admit(logger, driver, nodes(1, 4)); adm.Admitted {
		t.Error("driver with malformed annotations admitted")
	}
}

func TestPodsWithoutGroupAreIgnored(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	p := w.MakePod("ns", "plain").Obj()
	if acts := m.UpsertPod(p); !acts.Empty() {
		t.Errorf("UpsertPod did %+v", acts)
	}
	if adm := m.Admit(logger, p, nil); adm.InGroup {
		t.Errorf("Admit = %+v", adm)
	}
	if d := m.Permit(p); !d.Allow {
		t.Error("plain pod not permitted")
	}
}

func TestFinishedGroupFreesReservation(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(2, "cpu=1").Obj()
	m.UpsertPod(driver)
	m.Admit(logger, driver, nodes(1, 4))
	m.Assume(driver, "a")
	m.Permit(driver)
	done := driver.DeepCopy()
	done.Spec.NodeName = "a"
	done.Status.Phase = v1.PodFailed
	m.UpsertPod(done)
	if m.HasReservations() {
		t.Error("a driver that ended still holds its executors' room")
	}
}

// A reservation outlives a restart: the deadline goes on the driver before
// it binds, and a new Manager that finds the driver running with it
// reserves the room again.
func TestReservationRestoredAfterRestart(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(2, "cpu=1").Obj()
	m.UpsertPod(driver)
	m.Admit(logger, driver, nodes(1, 4))
	m.Assume(driver, "a")
	if _, ok := m.Unpersisted(driver); ok {
		t.Fatal("a deadline to write before the group reached minMember")
	}
	m.Permit(driver)
	p, ok := m.Unpersisted(driver)
	if !ok || !p.ReservedUntil.Equal(start.Add(5*time.Minute)) {
		t.Fatalf("unpersisted = %+v, %v; want the reservation deadline", p, ok)
	}
	m.Persisted(driver, p)
	if _, ok := m.Unpersisted(driver); ok {
		t.Error("the deadline is still to write after it was written")
	}

	restarted, _ := newManager()
	bound := driver.DeepCopy()
	bound.Spec.NodeName = "a"
	bound.Annotations[podgroup.AnnotationReservedUntil] = p.ReservedUntil.Format(time.RFC3339)
	restarted.UpsertPod(bound)
	if !restarted.NeedsRestore() {
		t.Fatal("the new instance does not see the reservation to restore")
	}
	acts := restarted.Restore(logger, nodes(1, 4))
	key, _ := podgroup.KeyOf(driver)
	total := resources.List{}
	for _, r := range restarted.OwnReservation(key) {
		total.Add(r)
	}
	if want := (resources.List{"cpu": 2000, "pods": 2}); !total.Equal(want) {
		t.Errorf("restored %v, want %v", total, want)
	}
	if len(acts.Events) != 1 || acts.Events[0].Reason != podgroup.ReasonRestored {
		t.Errorf("events %+v", acts.Events)
	}
}

// The instance that admitted a group does not take its own deadline
// annotation for a reservation to restore, when it sees the annotated
// object again after the executors used the room or ended.
func TestOwnReservationNotRestored(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(1, "cpu=1").Obj()
	m.UpsertPod(driver)
	m.Admit(logger, driver, nodes(1, 4))
	m.Assume(driver, "a")
	m.Permit(driver)
	p, _ := m.Unpersisted(driver)
	exec := w.MakeSparkExecutor("ns", "pi", 1, driver).Req("cpu", "1").Obj()
	m.UpsertPod(exec)
	m.Admit(logger, exec, nodes(1, 4))
	m.Assume(exec, "a")
	annotated := driver.DeepCopy()
	annotated.Spec.NodeName = "a"
	annotated.Annotations[podgroup.AnnotationReservedUntil] = p.ReservedUntil.Format(time.RFC3339)
	m.UpsertPod(annotated)
	if m.NeedsRestore() {
		t.Error("the admitting instance restores its own, used reservation")
	}
}

// Executors created but not yet placed when the scheduler restarts (or fails
// over) keep their room too: the new instance reserves it for them, not only
// for executors not created yet, and they take it when placed.
func TestRestoreReservesCreatedUnplacedMembers(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(3, "cpu=1").Node("a").
		Annotation(podgroup.AnnotationReservedUntil, start.Add(5*time.Minute).Format(time.RFC3339)).Obj()
	execs := []*v1.Pod{
		w.MakeSparkExecutor("ns", "pi", 1, driver).Req("cpu", "1").Obj(),
		w.MakeSparkExecutor("ns", "pi", 2, driver).Req("cpu", "1").Obj(),
	}
	restarted, _ := newManager()
	restarted.UpsertPod(driver)
	for _, x := range execs {
		restarted.UpsertPod(x)
	}
	restarted.Restore(logger, nodes(1, 4))
	key, _ := podgroup.KeyOf(driver)
	total := resources.List{}
	for _, r := range restarted.OwnReservation(key) {
		total.Add(r)
	}
	if want := (resources.List{"cpu": 3000, "pods": 3}); !total.Equal(want) {
		t.Fatalf("restored %v, want %v (two executors created, one to come)", total, want)
	}
	for _, x := range execs {
		if adm := restarted.Admit(logger, x, nodes(1, 4)); !adm.Admitted {
			t.Fatalf("executor %s not admitted: %s", x.Name, adm.Message)
		}
		restarted.Assume(x, "a")
	}
	total = resources.List{}
	for _, r := range restarted.OwnReservation(key) {
		total.Add(r)
	}
	if want := (resources.List{"cpu": 1000, "pods": 1}); !total.Equal(want) {
		t.Errorf("after placing the two executors %v is reserved, want %v", total, want)
	}
}

// A member deleted while its group waits in Permit releases the group at
// once, with an Event naming it, whichever the Manager hears of first: the
// deletion (DeletePod) or the scheduler's Unreserve (ForgetDeleted).
func TestMemberDeletedInPermitReleasesGroup(t *testing.T) {
	for _, first := range []string{"DeletePod", "ForgetDeleted"} {
		t.Run(first, func(t *testing.T) {
			logger, _ := ktesting.NewTestContext(t)
			m, _ := newManager()
			m.UpsertPodGroup(w.MakePodGroup("ns", "pg").MinMember(3).Obj())
			var pods []*v1.Pod
			for _, name := range []string{"p1", "p2", "p3"} {
				p := w.MakePod("ns", name).Group("pg").Req("cpu", "1").Obj()
				pods = append(pods, p)
				m.UpsertPod(p)
			}
			if !m.Admit(logger, pods[0], nodes(1, 4)).Admitted {
				t.Fatal("not admitted")
			}
			for _, p := range pods[:2] {
				m.Assume(p, "a")
				if d := m.Permit(p); d.Allow || d.Wait == 0 {
					t.Fatalf("%s does not wait in Permit: %+v", p.Name, d)
				}
			}

			var acts podgroup.Actions
			if first == "DeletePod" {
				acts = m.DeletePod(pods[1])
				if later := m.Forget(pods[1]); !later.Empty() {
					t.Errorf("Unreserve after the deletion did %+v", later)
				}
			} else {
				acts = m.ForgetDeleted(pods[1])
				if later := m.DeletePod(pods[1]); len(later.Reject) > 0 || len(later.Events) > 0 {
					t.Errorf("deletion after Unreserve did %+v", later)
				}
			}
			// The member left waiting is rejected; the deleted one is left to
			// kube-scheduler, which rejects a waiting pod it sees deleted.
			if got := rejectedUIDs(acts.Reject); !slices.Equal(got, []types.UID{pods[0].UID}) {
				t.Errorf("rejected %v, want only %s", got, pods[0].UID)
			}
			if len(acts.Events) != 1 || acts.Events[0].Reason != podgroup.ReasonReleased ||
				!strings.Contains(acts.Events[0].Message, "member ns/p2 was deleted before the group was bound, with 2/3 members placed") {
				t.Errorf("events = %+v", acts.Events)
			}
			if m.HasReservations() {
				t.Error("released group still holds room")
			}
			// The member left waits, short of one, and says why.
			if adm := m.Admit(logger, pods[0], nodes(1, 4)); adm.Admitted ||
				!strings.Contains(adm.Message, "has 2/3 members (released: member ns/p2 was deleted") {
				t.Errorf("Admit after the release = %+v", adm)
			}
		})
	}
}

// A pending member deleted from an admitted group releases it when the group
// can no longer reach minMember, and not when enough members remain.
func TestPendingMemberDeletedFromAdmittedGroup(t *testing.T) {
	for _, tc := range []struct {
		members int
		release bool
	}{{members: 3, release: true}, {members: 4, release: false}} {
		t.Run(fmt.Sprintf("%d members", tc.members), func(t *testing.T) {
			logger, _ := ktesting.NewTestContext(t)
			m, _ := newManager()
			m.UpsertPodGroup(w.MakePodGroup("ns", "pg").MinMember(3).Obj())
			var pods []*v1.Pod
			for i := range tc.members {
				p := w.MakePod("ns", fmt.Sprintf("p%d", i)).Group("pg").Req("cpu", "1").Obj()
				pods = append(pods, p)
				m.UpsertPod(p)
			}
			if !m.Admit(logger, pods[0], nodes(1, 8)).Admitted {
				t.Fatal("not admitted")
			}
			m.Assume(pods[0], "a")
			m.Permit(pods[0])
			acts := m.DeletePod(pods[len(pods)-1])
			released := len(acts.Events) == 1 && acts.Events[0].Reason == podgroup.ReasonReleased
			if released != tc.release {
				t.Errorf("released = %v, want %v; events %+v", released, tc.release, acts.Events)
			}
		})
	}
}

// A finished Spark app is forgotten once its pods are deleted, and a
// PodGroup's group once the PodGroup is: nothing stays behind.
func TestFinishedGroupsAreForgotten(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	driver := w.MakeSparkDriver("ns", "pi").Req("cpu", "1").Executors(1, "cpu=1").Obj()
	m.UpsertPod(driver)
	m.Admit(logger, driver, nodes(1, 4))
	if got := m.GroupsByPhase(); got[podgroup.PhaseAdmitted] != 1 {
		t.Fatalf("groups %v, want one admitted", got)
	}
	m.DeletePod(driver)

	pg := w.MakePodGroup("ns", "pg").Obj()
	m.UpsertPodGroup(pg)
	pod := w.MakePod("ns", "p").Group("pg").Req("cpu", "1").Obj()
	m.UpsertPod(pod)
	m.UpsertPod(w.MakePod("ns", "p").Group("pg").Req("cpu", "1").Node("a").Phase(v1.PodSucceeded).Obj())
	if got := m.GroupsByPhase(); got[podgroup.PhaseFinished] != 1 || len(got) != 1 {
		t.Fatalf("groups %v, want one finished", got)
	}
	m.DeletePod(pod)
	m.DeletePodGroup(pg)
	if got := m.GroupsByPhase(); len(got) != 0 {
		t.Errorf("groups %v left after every pod and PodGroup was deleted", got)
	}
}
