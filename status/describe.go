package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	pgclientset "sigs.k8s.io/scheduler-plugins/pkg/generated/clientset/versioned"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
)

// Description is everything kubectl gang describe shows of one group; its
// JSON form is `kubectl gang describe -o json`.
type Description struct {
	// Group is "namespace/name"; Kind says where it is declared.
	Group string        `json:"group"`
	Kind  podgroup.Kind `json:"kind"`
	// Queue is the queue the group names; "" for the namespace's or the
	// default one.
	Queue string `json:"queue,omitempty"`
	// MinMember is how many members are placed together, and
	// MinResources what the whole group needs at once when declared.
	MinMember    int32           `json:"minMember"`
	MinResources v1.ResourceList `json:"minResources,omitempty"`
	// Executors is how many executors a Spark app declares with its gang
	// (planned with it, created or not).
	Executors int64 `json:"executors,omitempty"`
	// Invalid lists what is wrong with the declaration, each naming its
	// field; a group with any is not scheduled.
	Invalid []string `json:"invalid,omitempty"`
	// Admitted is when the group was admitted whole (its quorum record),
	// and AdmittedMembers how many of its members existed and were placed
	// then (room for the rest was reserved).
	Admitted        *metav1.Time `json:"admitted,omitempty"`
	AdmittedMembers int          `json:"admittedMembers,omitempty"`
	// ReservedUntil is until when room stays reserved for members not
	// placed, and Reservation where it was reserved at admission.
	ReservedUntil *metav1.Time      `json:"reservedUntil,omitempty"`
	Reservation   []NodeReservation `json:"reservation,omitempty"`
	// Waiting is why the group waits (the scheduler's message on its oldest
	// pending member), "" when no member is pending.
	Waiting string   `json:"waiting,omitempty"`
	Members []Member `json:"members"`
	// Events are those of the group's object and of its members, oldest
	// first.
	Events []Event `json:"events"`
}

// NodeReservation is the room reserved on one node at admission, and how
// many of the group's members are bound there now.
type NodeReservation struct {
	Node     string          `json:"node"`
	Reserved v1.ResourceList `json:"reserved"`
	Bound    int             `json:"bound"`
}

// Member is one pod of the group.
type Member struct {
	Name     string          `json:"name"`
	Role     string          `json:"role,omitempty"`
	Phase    v1.PodPhase     `json:"phase"`
	Node     string          `json:"node,omitempty"`
	Requests v1.ResourceList `json:"requests,omitempty"`
	Created  metav1.Time     `json:"created"`
	// Reason is the scheduler's message on a pending member.
	Reason string `json:"reason,omitempty"`
}

// Event is one Event of the group or a member.
type Event struct {
	Last    metav1.Time `json:"last"`
	Type    string      `json:"type"`
	Reason  string      `json:"reason"`
	Object  string      `json:"object"`
	Count   int32       `json:"count"`
	Message string      `json:"message"`
}

// Describe finds the group named name in namespace: a scheduler-plugins
// PodGroup, an upstream scheduling.k8s.io PodGroup, a Spark app (its
// spark-app-selector), or the group of the pod called name. pgClient may be
// nil where the PodGroup CRD is not installed.
func Describe(ctx context.Context, client kubernetes.Interface, pgClient pgclientset.Interface, namespace, name string) (*Description, error) {
	pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	d := &Description{Group: namespace + "/" + name, Members: []Member{}, Events: []Event{}}
	var spec *podgroup.Spec
	var object metav1.Object
	if pgClient != nil {
		pg, err := pgClient.SchedulingV1alpha1().PodGroups(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			s := podgroup.SpecFromPodGroup(pg)
			spec, object, d.Kind = &s, pg, podgroup.KindPodGroup
		} else if !apierrors.IsNotFound(err) && !isNotServed(err) {
			return nil, fmt.Errorf("reading PodGroup %s/%s: %w", namespace, name, err)
		}
	}
	if spec == nil {
		pg, err := client.SchedulingV1beta1().PodGroups(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			s := podgroup.SpecFromSchedulingPodGroup(pg)
			spec, object, d.Kind = &s, pg, podgroup.KindSchedulingPodGroup
		} else if !apierrors.IsNotFound(err) && !isNotServed(err) {
			return nil, fmt.Errorf("reading scheduling.k8s.io PodGroup %s/%s: %w", namespace, name, err)
		}
	}
	// A Spark app is found by its app id, or any group by one of its pods.
	var key podgroup.Key
	found := spec != nil
	if found {
		key = podgroup.Key{Kind: d.Kind, Namespace: namespace, Name: name}
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		k, ok := podgroup.KeyOf(p)
		if !found && ok && (k.Name == name && k.Kind == podgroup.KindSparkApp || p.Name == name) {
			key, found = k, true
		}
	}
	if !found {
		return nil, fmt.Errorf("no group %s/%s: no PodGroup, Spark app or pod of that name", namespace, name)
	}
	d.Group, d.Kind = key.String(), key.Kind
	members := map[types.UID]string{}
	var oldestPending time.Time
	for i := range pods.Items {
		p := &pods.Items[i]
		if k, ok := podgroup.KeyOf(p); !ok || k != key {
			continue
		}
		members[p.UID] = "pod/" + p.Name
		m := Member{Name: p.Name, Role: p.Labels[podgroup.LabelSparkRole], Phase: p.Status.Phase, Node: p.Spec.NodeName,
			Requests: resources.PodRequests(p).ToResourceList(), Created: p.CreationTimestamp}
		if p.Spec.NodeName == "" && p.Status.Phase == v1.PodPending {
			m.Reason = reasonOf(p)
			if m.Reason == "" {
				m.Reason = "not tried yet"
			}
			if d.Waiting == "" || p.CreationTimestamp.Before(&metav1.Time{Time: oldestPending}) {
				d.Waiting, oldestPending = m.Reason, p.CreationTimestamp.Time
			}
		}
		if object == nil && key.Kind == podgroup.KindSparkApp && (m.Role == "driver" || m.Role == "executor" && spec == nil) {
			s := podgroup.SpecFromSparkExecutor(p)
			if m.Role == "driver" {
				s = podgroup.SpecFromSparkDriver(p)
				object = p
			}
			spec = &s
		}
		d.Members = append(d.Members, m)
	}
	slices.SortFunc(d.Members, func(a, b Member) int {
		return cmpOr(a.Created.Compare(b.Created.Time), strings.Compare(a.Name, b.Name))
	})
	if spec != nil {
		d.MinMember, d.Executors = spec.MinMember, spec.Executors
		if spec.MinResources != nil {
			d.MinResources = spec.MinResources.ToResourceList()
		}
		for _, e := range spec.Errs {
			d.Invalid = append(d.Invalid, e.Error())
		}
	}
	if object != nil {
		members[object.GetUID()] = objectName(d.Kind, object)
		describeObject(d, object)
	}
	if err := describeEvents(ctx, client, namespace, members, d); err != nil {
		return nil, err
	}
	return d, nil
}

// describeObject reads what the scheduler wrote on the group's object.
func describeObject(d *Description, object metav1.Object) {
	ann := object.GetAnnotations()
	d.Queue = object.GetLabels()[v1alpha1.QueueLabel]
	if at, members, ok := podgroup.ParseQuorum(ann[podgroup.AnnotationQuorum]); ok {
		d.Admitted = &metav1.Time{Time: at}
		d.AdmittedMembers = len(members)
	}
	if t, err := time.Parse(time.RFC3339, ann[podgroup.AnnotationReservedUntil]); err == nil {
		d.ReservedUntil = &metav1.Time{Time: t}
	}
	if v := ann[podgroup.AnnotationReservation]; v != "" {
		byNode, err := podgroup.ParseReservation(v)
		if err != nil {
			d.Invalid = append(d.Invalid, err.Error())
		}
		for node, r := range byNode {
			nr := NodeReservation{Node: node, Reserved: r.ToResourceList()}
			for _, m := range d.Members {
				if m.Node == node {
					nr.Bound++
				}
			}
			d.Reservation = append(d.Reservation, nr)
		}
		slices.SortFunc(d.Reservation, func(a, b NodeReservation) int { return strings.Compare(a.Node, b.Node) })
	}
}

// describeEvents adds the Events of the objects in names (by UID).
func describeEvents(ctx context.Context, client kubernetes.Interface, namespace string, names map[types.UID]string, d *Description) error {
	events, err := client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing events: %w", err)
	}
	for _, e := range events.Items {
		name, ok := names[e.InvolvedObject.UID]
		if !ok {
			continue
		}
		last := e.LastTimestamp
		if last.IsZero() {
			last = metav1.Time{Time: e.EventTime.Time}
		}
		count := max(e.Count, 1)
		if e.Series != nil {
			count = max(count, e.Series.Count)
			last = metav1.Time{Time: e.Series.LastObservedTime.Time}
		}
		d.Events = append(d.Events, Event{Last: last, Type: e.Type, Reason: e.Reason, Object: name, Count: count, Message: e.Message})
	}
	slices.SortStableFunc(d.Events, func(a, b Event) int { return a.Last.Compare(b.Last.Time) })
	return nil
}

func objectName(kind podgroup.Kind, o metav1.Object) string {
	switch kind {
	case podgroup.KindPodGroup:
		return "podgroup/" + o.GetName()
	case podgroup.KindSchedulingPodGroup:
		return "podgroup.scheduling.k8s.io/" + o.GetName()
	}
	return "pod/" + o.GetName()
}

// isNotServed reports whether err says the API server serves no such
// resource (the CRD is not installed, or the GenericWorkload gate is off).
func isNotServed(err error) bool {
	return apierrors.IsNotFound(err) || strings.Contains(err.Error(), "the server could not find the requested resource")
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// WriteDescription prints d for people.
func WriteDescription(out io.Writer, d *Description, now time.Time) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Group:\t%s (%s)\n", d.Group, d.Kind)
	if d.Queue != "" {
		fmt.Fprintf(tw, "Queue:\t%s\n", d.Queue)
	}
	min := fmt.Sprintf("%d members", d.MinMember)
	switch {
	case d.Kind == podgroup.KindSparkApp && d.Executors > 0 && d.MinMember > 0:
		min = fmt.Sprintf("1 driver + %d executors", d.Executors)
	case d.Kind == podgroup.KindSparkApp && d.Executors > 0:
		min = fmt.Sprintf("%d executors", d.Executors)
	}
	if len(d.MinResources) > 0 {
		min += ", " + resources.FromResourceList(d.MinResources).String()
	}
	fmt.Fprintf(tw, "Minimum:\t%s\n", min)
	for _, e := range d.Invalid {
		fmt.Fprintf(tw, "Invalid:\t%s\n", e)
	}
	bound := 0
	for _, m := range d.Members {
		if m.Node != "" {
			bound++
		}
	}
	fmt.Fprintf(tw, "Members:\t%d, %d bound\n", len(d.Members), bound)
	if d.Admitted != nil {
		fmt.Fprintf(tw, "Admitted:\t%s ago, %d placed at once\n", now.Sub(d.Admitted.Time).Round(time.Second), d.AdmittedMembers)
	} else {
		fmt.Fprintf(tw, "Admitted:\tnot yet\n")
	}
	if d.ReservedUntil != nil {
		state := "in " + d.ReservedUntil.Sub(now).Round(time.Second).String()
		if !now.Before(d.ReservedUntil.Time) {
			state = "expired"
		}
		fmt.Fprintf(tw, "Reserved until:\t%s (%s)\n", d.ReservedUntil.UTC().Format(time.RFC3339), state)
	}
	if d.Waiting != "" {
		fmt.Fprintf(tw, "Waiting:\t%s\n", d.Waiting)
	}
	_ = tw.Flush()
	if len(d.Reservation) > 0 {
		fmt.Fprintln(out, "\nReserved at admission, by node:")
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NODE\tRESERVED\tMEMBERS BOUND THERE")
		for _, r := range d.Reservation {
			fmt.Fprintf(tw, "  %s\t%s\t%d\n", r.Node, resources.FromResourceList(r.Reserved), r.Bound)
		}
		_ = tw.Flush()
	}
	fmt.Fprintln(out, "\nMembers:")
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tROLE\tPHASE\tNODE\tREQUESTS\tAGE\tWHY PENDING")
	for _, m := range d.Members {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, dash(m.Role), m.Phase, dash(m.Node),
			resources.FromResourceList(m.Requests), now.Sub(m.Created.Time).Round(time.Second), m.Reason)
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "\nEvents:")
	if len(d.Events) == 0 {
		fmt.Fprintln(out, "  none")
		return
	}
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  LAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE")
	for _, e := range d.Events {
		age := now.Sub(e.Last.Time).Round(time.Second).String()
		if e.Count > 1 {
			age += fmt.Sprintf(" (x%d)", e.Count)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", age, e.Type, e.Reason, e.Object, e.Message)
	}
	_ = tw.Flush()
}

// WriteDescriptionJSON prints d as indented JSON.
func WriteDescriptionJSON(out io.Writer, d *Description) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
