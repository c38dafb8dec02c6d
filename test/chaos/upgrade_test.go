package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gangsched/gangsched/bench/sim"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/test/cluster"
)

// handover is the moment a leader left during a rolling upgrade, and the
// groups that held room for members still to come then, as the API server
// shows them.
type handover struct {
	at time.Time
	// reserving maps the object the scheduler persists a group's
	// reservation on ("PodGroup/name" or "Pod/driver") to its app.
	reserving map[string]string
}

// reservationSlack is how long a reservation must still run at a handover
// for the next leader to be expected to take it up: one whose deadline
// falls during the handover may rightly expire.
const reservationSlack = 10 * time.Second

// reservingGroups lists the apps whose gang runs (the driver is bound) and
// holds room for members not bound yet: a reserved-until deadline
// (podgroup.AnnotationReservedUntil) at least reservationSlack ahead, fewer
// of the gang's members bound than it declares, and its work not started
// (started apps ran whole: what they lack now is not members to come).
func reservingGroups(ctx context.Context, c *cluster.Cluster, s *sim.Simulator, namespace string, wl sim.Workload) (map[string]string, error) {
	pods, err := c.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods at a handover: %w", err)
	}
	bound := map[string]int{}
	drivers := map[string]*v1.Pod{}
	for i := range pods.Items {
		p := &pods.Items[i]
		app := p.Labels["spark-app-name"]
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || app == "" {
			continue
		}
		bound[app]++
		if podgroup.IsSparkDriver(p) {
			drivers[app] = p
		}
	}
	out := map[string]string{}
	for _, a := range wl.Apps {
		driver := drivers[a.Name]
		gang := 1 + a.Executors
		if a.MinExecutors > 0 {
			gang = 1 + a.MinExecutors
		}
		if driver == nil || bound[a.Name] >= gang || s.Started(a.Name) {
			continue
		}
		object, annotations := "Pod/"+driver.Name, driver.Annotations
		if a.PodGroup {
			pg, err := c.PodGroups.SchedulingV1alpha1().PodGroups(namespace).Get(ctx, a.Name+"-pg", metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("reading the PodGroup of %s at a handover: %w", a.Name, err)
			}
			object, annotations = "PodGroup/"+pg.Name, pg.Annotations
		}
		until, err := time.Parse(time.RFC3339, annotations[podgroup.AnnotationReservedUntil])
		if err != nil || time.Until(until) < reservationSlack {
			continue
		}
		out[object] = a.Name
	}
	return out, nil
}

// waitReserving waits, up to timeout, until some group holds room for
// members to come (reservingGroups).
func waitReserving(ctx context.Context, c *cluster.Cluster, s *sim.Simulator, namespace string, wl sim.Workload, timeout time.Duration) {
	_ = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		groups, err := reservingGroups(ctx, c, s, namespace, wl)
		return err == nil && len(groups) > 0, nil
	})
}

// checkHandovers fails t unless the upgrade replaced both old replicas, at
// least one of them the leader, and every group that held room at a
// handover got it back from the next leader (a ReservationRestored Event
// on its object, after the handover).
func checkHandovers(ctx context.Context, t *testing.T, c *cluster.Cluster, namespace string, steps int, handovers []handover) {
	t.Helper()
	if steps < 2 || len(handovers) == 0 {
		t.Fatalf("the upgrade did not happen mid-run: %d of 2 replicas replaced, %d leader handovers", steps, len(handovers))
	}
	events, err := c.Client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: labels.SelectorFromSet(labels.Set{"reason": podgroup.ReasonRestored}).String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	restored := map[string][]time.Time{}
	for _, e := range events.Items {
		object := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
		restored[object] = append(restored[object], latest(e))
	}
	var lost []string
	total := 0
	for _, h := range handovers {
		for object, app := range h.reserving {
			total++
			taken := false
			for _, at := range restored[object] {
				// Event times are in whole seconds in places.
				taken = taken || !at.Before(h.at.Add(-time.Second))
			}
			if !taken {
				lost = append(lost, fmt.Sprintf("%s (app %s, handover at %s)", object, app, h.at.Format("15:04:05.000")))
			}
		}
	}
	sort.Strings(lost)
	t.Logf("upgrade: %d leader handovers, %d groups held room for members to come at them, %d reservations not taken up", len(handovers), total, len(lost))
	if len(lost) > 0 {
		t.Errorf("reservations lost across the upgrade (no ReservationRestored Event after the handover):\n  %s", strings.Join(lost, "\n  "))
	}
}

// latest is when an Event was last seen, whichever API wrote it.
func latest(e v1.Event) time.Time {
	at := e.LastTimestamp.Time
	if e.EventTime.After(at) {
		at = e.EventTime.Time
	}
	if e.Series != nil && e.Series.LastObservedTime.After(at) {
		at = e.Series.LastObservedTime.Time
	}
	return at
}
