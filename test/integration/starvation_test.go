package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	configv1 "github.com/gangsched/gangsched/apis/config/v1"
)

// runPods plays the kubelet for the namespace: bound pods start running,
// and succeed after d.
func (e *env) runPods(ns string, d time.Duration) {
	go func() {
		_ = wait.PollUntilContextCancel(e.ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			pods, err := e.c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			for i := range pods.Items {
				p := &pods.Items[i]
				switch {
				case p.Spec.NodeName != "" && p.Status.Phase == v1.PodPending:
					p.Status.Phase = v1.PodRunning
					p.Status.StartTime = ptr.To(metav1.Now())
				case p.Status.Phase == v1.PodRunning && p.Status.StartTime != nil && time.Since(p.Status.StartTime.Time) > d:
					p.Status.Phase = v1.PodSucceeded
				default:
					continue
				}
				_, _ = e.c.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			}
			return false, nil
		})
	}()
}

// A big gang behind a stream of 200 small ones starts within the bound:
// once it has waited past the starvation threshold, nodes are reserved for
// it as they drain, and it starts when the pods already there end.
func TestBigGangDoesNotStarve(t *testing.T) {
	const (
		threshold = 5 * time.Second
		runtime   = 3 * time.Second
		// The bound: the threshold, plus one small pod's run to drain a
		// node, plus the scheduler's 1s timer and API round trips of a busy test.
		bound = threshold + runtime + 7*time.Second
	)
	e := newEnv(t, gangConfig(func(a *configv1.GangArgs) {
		a.StarvationThresholdSeconds = ptr.To[int64](int64(threshold / time.Second))
	}))
	e.runPods(e.ns, runtime)
	e.nodes("n", 4, "4") // 16 CPU
	e.gangs(e.ns, "small", 100, 1, "1", "")
	time.Sleep(2 * time.Second) // the cluster is busy with small pods

	e.gangs(e.ns, "big", 1, 2, "4", "") // two whole nodes
	created := time.Now()
	stream := make(chan struct{})
	go func() { // and the small ones keep coming
		defer close(stream)
		for i := 0; i < 100 && e.ctx.Err() == nil; i++ {
			e.gangs(e.ns, fmt.Sprintf("more%d", i), 1, 1, "1", "")
			time.Sleep(100 * time.Millisecond)
		}
	}()
	// While its nodes drain, small pods are told why they may not use them.
	sawDraining := make(chan bool, 1)
	go func() {
		seen := false
		_ = wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, bound, true, func(ctx context.Context) (bool, error) {
			pods, err := e.c.Client.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			for _, p := range pods.Items {
				for _, c := range p.Status.Conditions {
					if c.Type == v1.PodScheduled && strings.Contains(c.Message, "nodes are draining for starving pod group "+e.ns+"/big-0") {
						seen = true
					}
				}
			}
			return seen, nil
		})
		sawDraining <- seen
	}()
	e.waitBound(bound, "big-0-0", "big-0-1")
	started := time.Since(created)
	t.Logf("the big gang started %s after it arrived (bound %s)", started.Round(100*time.Millisecond), bound)
	e.waitEvent("PodGroup", "big-0", "GangStarving", "reserving nodes")
	if events, err := e.c.Client.EventsV1().Events(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: "regarding.name=big-0"}); err == nil {
		for _, ev := range events.Items {
			t.Logf("  +%s %s: %s", ev.EventTime.Sub(created).Round(100*time.Millisecond), ev.Reason, ev.Note)
		}
	}
	if !<-sawDraining {
		t.Error("no pod was told that nodes drain for a starving group")
	}
	<-stream
}
