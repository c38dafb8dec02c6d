// Package status renders, for people at a terminal, how gangsched shares the
// cluster: each queue with a bar of what it holds against its fair share,
// and each waiting group with why it waits (the reason the scheduler put on
// its pods). kubectl-gang prints it.
package status

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	queueclientset "github.com/gangsched/gangsched/client/clientset/versioned"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
)

// barWidth is the width of a queue's share bar, in characters.
const barWidth = 20

// Report is what Write shows.
type Report struct {
	Queues  []v1alpha1.Queue
	Waiting []Waiting
}

// Waiting is a group with pods waiting to be scheduled.
type Waiting struct {
	Group podgroup.Key
	// Pending counts its pods without a node, of Pods in all.
	Pending, Pods int
	// Since is when its oldest pending pod was created.
	Since time.Time
	// Reason is the scheduler's message on its oldest pending pod that has
	// one, or "not tried yet".
	Reason string
}

// Gather reads queues and the pending pods of schedulerName.
func Gather(ctx context.Context, client kubernetes.Interface, queues queueclientset.Interface, schedulerName string) (*Report, error) {
	r := &Report{}
	if queues != nil {
		list, err := queues.SchedulingV1alpha1().Queues().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing queues: %w", err)
		}
		r.Queues = list.Items
	}
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.schedulerName=" + schedulerName})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	r.Waiting = waiting(slices.DeleteFunc(pods.Items, func(p v1.Pod) bool { return p.Spec.SchedulerName != schedulerName }))
	return r, nil
}

// waiting groups pods by gang and keeps the groups with pending pods.
func waiting(pods []v1.Pod) []Waiting {
	byGroup := map[podgroup.Key]*Waiting{}
	// reasonSince is when the pod whose reason a group shows was created:
	// the oldest pending pod the scheduler gave a reason (members waiting
	// in Permit for the rest of their group carry none).
	reasonSince := map[podgroup.Key]time.Time{}
	for i := range pods {
		p := &pods[i]
		key, ok := podgroup.KeyOf(p)
		if !ok {
			key = podgroup.Key{Namespace: p.Namespace, Name: p.Name, Kind: "Pod"}
		}
		if p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed {
			continue
		}
		w := byGroup[key]
		if w == nil {
			w = &Waiting{Group: key}
			byGroup[key] = w
		}
		w.Pods++
		if p.Spec.NodeName != "" {
			continue
		}
		w.Pending++
		created := p.CreationTimestamp.Time
		if w.Since.IsZero() || created.Before(w.Since) {
			w.Since = created
		}
		if msg := reasonOf(p); msg != "" && (w.Reason == "" || created.Before(reasonSince[key])) {
			w.Reason, reasonSince[key] = msg, created
		}
	}
	var out []Waiting
	for _, w := range byGroup {
		if w.Pending > 0 {
			if w.Reason == "" {
				w.Reason = "not tried yet"
			}
			out = append(out, *w)
		}
	}
	slices.SortFunc(out, func(a, b Waiting) int { return a.Since.Compare(b.Since) })
	return out
}

// reasonOf returns the message of the pod's PodScheduled=False condition,
// or "" if it has none.
func reasonOf(p *v1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse {
			return c.Message
		}
	}
	return ""
}

// Write prints the report.
func Write(out io.Writer, r *Report, now time.Time) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tWEIGHT\tCPU HELD / FAIR SHARE\t\tBORROWED\tADMITTED\tPENDING\tVALID")
	for _, q := range r.Queues {
		alloc := resources.FromResourceList(q.Status.Allocated)[v1.ResourceCPU]
		share := resources.FromResourceList(q.Status.FairShare)[v1.ResourceCPU]
		weight := int32(1)
		if q.Spec.Weight != nil {
			weight = *q.Spec.Weight
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s / %s\t%s\t%d\t%d\t%s\n", queueName(q), weight, bar(alloc, share),
			resources.Format(v1.ResourceCPU, alloc), resources.Format(v1.ResourceCPU, share),
			resources.FromResourceList(q.Status.Borrowed), q.Status.AdmittedGroups, q.Status.PendingGroups, valid(q))
	}
	_ = tw.Flush()
	fmt.Fprintln(out)
	if len(r.Waiting) == 0 {
		fmt.Fprintln(out, "No group is waiting.")
		return
	}
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAITING GROUP\tPENDING\tWAITING FOR\tWHY")
	for _, w := range r.Waiting {
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\n", w.Group, w.Pending, w.Pods, now.Sub(w.Since).Round(time.Second), w.Reason)
	}
	_ = tw.Flush()
}

func queueName(q v1alpha1.Queue) string {
	if q.Spec.Parent != "" {
		return q.Spec.Parent + "/" + q.Name
	}
	return q.Name
}

func valid(q v1alpha1.Queue) string {
	for _, c := range q.Status.Conditions {
		if c.Type == v1alpha1.ConditionValid {
			if c.Status == metav1.ConditionTrue {
				return "True"
			}
			return "False: " + c.Message
		}
	}
	return "?"
}

// bar draws held against fair share: '#' held within the share, '+' held
// beyond it (borrowed), '.' share not used.
func bar(held, share int64) string {
	if share <= 0 && held <= 0 {
		return "[" + strings.Repeat(" ", barWidth) + "]"
	}
	within := int(math.Round(float64(min(held, share)) / float64(max(held, share)) * barWidth))
	rest := strings.Repeat(".", barWidth-within)
	if held > share {
		rest = strings.Repeat("+", barWidth-within)
	}
	return "[" + strings.Repeat("#", within) + rest + "]"
}
