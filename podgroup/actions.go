package podgroup

import (
	"encoding/json"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gangsched/gangsched/queue"
	"github.com/gangsched/gangsched/resources"
)

// Event reasons gangsched records, on the PodGroup (or the Spark driver) and on pods.
const (
	// ReasonAdmitted: the whole group fits and its room is reserved.
	ReasonAdmitted = "GangAdmitted"
	// ReasonWaiting: the group cannot be admitted yet; the message says why.
	ReasonWaiting = "GangWaiting"
	// ReasonInvalid: the group's declaration has an invalid field; the message names it.
	ReasonInvalid = "GangInvalid"
	// ReasonReleased: an admitted group was rolled back whole.
	ReasonReleased = "GangReleased"
	// ReasonReservationExpired: room held for members not yet created was freed.
	ReasonReservationExpired = "ReservationExpired"
	// ReasonReservationReplanned: room reserved on a node that was deleted
	// was reserved again on other nodes.
	ReasonReservationReplanned = "ReservationReplanned"
	// ReasonReservationLost: room reserved on a node that was deleted fits
	// on no other node, and is no longer reserved.
	ReasonReservationLost = "ReservationLost"

	// DisruptionReasonReleased is the reason of the DisruptionTarget
	// condition on a member deleted because its group was released whole
	// with the member bound (see Actions.Delete).
	DisruptionReasonReleased = "GangReleasedByScheduler"
)

// Actions are what the caller must carry out after a Manager call, outside
// the Manager's lock: the Manager decides, the plugin acts.
type Actions struct {
	// Reject lists waiting pods (in Permit) to reject.
	Reject []Rejection
	// Allow lists waiting pods to let through Permit.
	Allow []types.UID
	// Activate lists pods to move back to the active queue.
	Activate []*v1.Pod
	// Events lists Events to record.
	Events []Event
	// Statuses lists groups whose PodGroup status may need writing.
	Statuses []Key
	// Queues lists queues whose status may need writing.
	Queues []queue.Name
	// Delete lists pods to delete: bound members of groups released whole,
	// and preemption victims.
	Delete []Deletion
}

// Deletion is a pod to delete: a bound member of a group released whole,
// or a preemption victim; Reason and Message are those of its
// DisruptionTarget condition (Reason "" is DisruptionReasonReleased).
type Deletion struct {
	Pod     *v1.Pod
	Reason  string
	Message string
}

// Persist is what to write on a group's object (its PodGroup, or its Spark
// driver) when it reaches quorum, before its members bind: the quorum
// record (AnnotationQuorum) and, while room stays reserved for members not
// placed, its deadline (AnnotationReservedUntil; zero for none) and where
// it is (AnnotationReservation).
type Persist struct {
	Object        runtime.Object
	ReservedUntil time.Time
	Quorum        string
	// Reservation is the room reserved by node; nil for none to write,
	// empty when a room written before is no longer held.
	Reservation map[string]resources.List
	// Domain is the topology domain (AnnotationDomain) of a group that asks
	// for one, "" when it was spread; nil for a group that asks for none.
	Domain *string
}

// Annotations returns the annotations to write.
func (p Persist) Annotations() map[string]string {
	out := map[string]string{AnnotationQuorum: p.Quorum}
	if !p.ReservedUntil.IsZero() {
		out[AnnotationReservedUntil] = p.ReservedUntil.UTC().Format(time.RFC3339)
	}
	if v := FormatReservation(p.Reservation); v != "" {
		out[AnnotationReservation] = v
	} else if p.Reservation != nil && len(p.Reservation) == 0 {
		out[AnnotationReservation] = "{}" // the room held before is all gone
	}
	if p.Domain != nil {
		out[AnnotationDomain] = *p.Domain
	}
	return out
}

// FormatReservation renders room by node as AnnotationReservation holds
// it, or "" when there is none or it would exceed
// MaxReservationAnnotation bytes.
func FormatReservation(byNode map[string]resources.List) string {
	if len(byNode) == 0 {
		return ""
	}
	rl := make(map[string]v1.ResourceList, len(byNode))
	for node, r := range byNode {
		rl[node] = r.ToResourceList()
	}
	b, err := json.Marshal(rl) // map keys come out sorted
	if err != nil || len(b) > MaxReservationAnnotation {
		return ""
	}
	return string(b)
}

// ParseReservation reads AnnotationReservation.
func ParseReservation(v string) (map[string]resources.List, error) {
	var rl map[string]v1.ResourceList
	if err := json.Unmarshal([]byte(v), &rl); err != nil {
		return nil, fmt.Errorf("%s: %w", AnnotationReservation, err)
	}
	out := make(map[string]resources.List, len(rl))
	for node, l := range rl {
		out[node] = resources.FromResourceList(l)
	}
	return out, nil
}

// Rejection is a waiting pod to reject, with the reason.
type Rejection struct {
	UID     types.UID
	Message string
}

// Event is an Event to record on an object (a PodGroup or a pod).
type Event struct {
	Object  runtime.Object
	Type    string
	Reason  string
	Message string
}

// merge appends o's actions to a.
func (a *Actions) merge(o Actions) {
	a.Reject = append(a.Reject, o.Reject...)
	a.Allow = append(a.Allow, o.Allow...)
	a.Activate = append(a.Activate, o.Activate...)
	a.Events = append(a.Events, o.Events...)
	a.Statuses = append(a.Statuses, o.Statuses...)
	a.Queues = append(a.Queues, o.Queues...)
	a.Delete = append(a.Delete, o.Delete...)
}

// Empty reports whether there is nothing to do.
func (a *Actions) Empty() bool {
	return len(a.Reject) == 0 && len(a.Allow) == 0 && len(a.Activate) == 0 && len(a.Events) == 0 && len(a.Statuses) == 0 && len(a.Queues) == 0 &&
		len(a.Delete) == 0
}
