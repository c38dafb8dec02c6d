// Package metrics holds gangsched's Prometheus metrics, served with
// kube-scheduler's own on the scheduler's /metrics endpoint. All are ALPHA
// and registered once, through kube-scheduler's RegisterMetrics (meant for
// out-of-tree plugins).
package metrics

import (
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/component-base/metrics"
	schedmetrics "k8s.io/kubernetes/pkg/scheduler/metrics"

	"github.com/gangsched/gangsched/resources"
)

// Subsystem prefixes every metric: gangsched_*.
const Subsystem = "gangsched"

// Release reasons, the values of the reason label of GroupReleases.
const (
	ReleasePermitTimeout = "permit_timeout"
	ReleaseUnplaceable   = "unplaceable"
	ReleaseUnbound       = "unbound"
	ReleaseVictims       = "victims_timeout"
	ReleaseDeleted       = "podgroup_deleted"
	// ReleasePartial: members found bound without the rest of their group
	// (a scheduler that crashed while binding), the rest not placed within
	// the permit timeout; the bound members are deleted.
	ReleasePartial = "partially_bound"
	// ReleaseNodeDeleted: a node of an admitted group's plan was deleted.
	ReleaseNodeDeleted   = "node_deleted"
	ReleaseMemberDeleted = "member_deleted"
	// ReleaseRoomLost: room of an admitted group's plan was taken or
	// closed, and the group fit nowhere else.
	ReleaseRoomLost = "room_lost"
)

// Outcomes of a conflict over reserved room, the values of the outcome
// label of ReservationConflicts.
const (
	ConflictReplanned = "replanned"
	ConflictLost      = "lost"
)

// Ends of a reservation, the values of the outcome label of ReservationHold.
const (
	ReservationUsed    = "used"
	ReservationExpired = "expired"
	ReservationFreed   = "freed"
)

var (
	// AdmissionLatency is how long groups waited, from their first
	// scheduling attempt to admission. Buckets from 0.1s to ~1h, since
	// batch groups may wait long under contention.
	AdmissionLatency = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Subsystem:      Subsystem,
		Name:           "group_admission_duration_seconds",
		Help:           "Time from a pod group's first scheduling attempt until the whole group was admitted.",
		Buckets:        metrics.ExponentialBuckets(0.1, 2, 16),
		StabilityLevel: metrics.ALPHA,
	}, []string{"queue"})

	// GroupReleases counts admitted groups rolled back whole, by reason.
	GroupReleases = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      Subsystem,
		Name:           "group_releases_total",
		Help:           "Admitted pod groups released whole before their minimum was placed, by reason (permit_timeout, unplaceable, unbound, victims_timeout, podgroup_deleted, partially_bound, node_deleted, member_deleted, room_lost).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"reason"})

	// PreemptedGroups and PreemptedPods count preemption victims.
	PreemptedGroups = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      Subsystem,
		Name:           "preemption_victim_groups_total",
		Help:           "Groups (and pods in no group) evicted whole to make room for a pod group, by the victim's queue.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"queue"})
	PreemptedPods = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      Subsystem,
		Name:           "preemption_victim_pods_total",
		Help:           "Pods evicted to make room for a pod group, by the victim's queue.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"queue"})

	// ReservationHold is how long room reserved for a group was held, by
	// how the reservation ended. Buckets from 0.1s to ~1h.
	ReservationHold = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Subsystem:      Subsystem,
		Name:           "reservation_hold_duration_seconds",
		Help:           "How long a pod group's reserved room was held, by how it ended (used, expired, freed).",
		Buckets:        metrics.ExponentialBuckets(0.1, 2, 16),
		StabilityLevel: metrics.ALPHA,
	}, []string{"outcome"})

	// ReservationConflicts counts reserved room that went away under a
	// group: its node deleted (node_deleted), cordoned or tainted against
	// the members (node_closed), or taken by pods that never passed
	// gangsched's Filter (taken), by whether it was planned again elsewhere
	// (replanned) or lost.
	ReservationConflicts = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      Subsystem,
		Name:           "reservation_conflicts_total",
		Help:           "Reserved room that went away under a pod group, by cause (node_deleted, node_closed, taken) and outcome (replanned, lost).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"cause", "outcome"})

	// PendingGroups is how many groups wait for admission, by queue.
	PendingGroups = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Subsystem:      Subsystem,
		Name:           "pending_groups",
		Help:           "Pod groups waiting for admission, by queue.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"queue"})

	// QueueResources is each queue's allocated, fair share, guaranteed and
	// borrowed amount of each resource (CPU in cores, memory in bytes).
	QueueResources = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Subsystem:      Subsystem,
		Name:           "queue_resources",
		Help:           "A queue's resources by kind: allocated, fair_share, guaranteed, borrowed (cpu in cores, other resources in their base unit).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"queue", "kind", "resource"})

	// Groups is how many pod groups the scheduler tracks, by phase: a
	// Spark app is forgotten once its pods are gone, a PodGroup once it is
	// deleted, so after a workload drains this falls back (no leak).
	Groups = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Subsystem:      Subsystem,
		Name:           "groups",
		Help:           "Pod groups the scheduler tracks, by phase (Pending, Admitted, Running, Finished, Failed).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"phase"})
)

var registerOnce sync.Once

// Register registers the metrics once.
func Register() {
	registerOnce.Do(func() {
		schedmetrics.RegisterMetrics(AdmissionLatency, GroupReleases, PreemptedGroups, PreemptedPods,
			ReservationHold, ReservationConflicts, PendingGroups, QueueResources, Groups)
	})
}

// QueueState is what SetQueue reports of one queue.
type QueueState struct {
	Allocated, FairShare, Guaranteed, Borrowed resources.List
	Pending                                    int32
}

// SetQueue reports a queue's state.
func SetQueue(queue string, st QueueState) {
	PendingGroups.WithLabelValues(queue).Set(float64(st.Pending))
	for kind, l := range map[string]resources.List{"allocated": st.Allocated, "fair_share": st.FairShare, "guaranteed": st.Guaranteed, "borrowed": st.Borrowed} {
		for _, name := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
			QueueResources.WithLabelValues(queue, kind, string(name)).Set(value(name, l[name]))
		}
		for name, v := range l {
			if name != v1.ResourceCPU && name != v1.ResourceMemory && name != resources.Pods {
				QueueResources.WithLabelValues(queue, kind, string(name)).Set(value(name, v))
			}
		}
	}
}

// ClearQueue removes a deleted queue's series.
func ClearQueue(queue string) {
	PendingGroups.DeleteLabelValues(queue)
	QueueResources.DeletePartialMatch(map[string]string{"queue": queue})
}

func value(name v1.ResourceName, v int64) float64 {
	if name == v1.ResourceCPU {
		return float64(v) / 1000
	}
	return float64(v)
}

// Since is the seconds elapsed since t, for histograms.
func Since(now, t time.Time) float64 { return now.Sub(t).Seconds() }
