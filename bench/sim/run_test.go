package sim

import (
	"context"
	"os"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gangsched/gangsched/test/cluster"
)

func TestMain(m *testing.M) { os.Exit(cluster.RunMain(m)) }

// The simulator plays Spark and Spark Operator: a driver replaces an
// executor it loses, and an app whose driver is deleted (preempted) is
// resubmitted once its pods are gone, and then completes. The test binds
// pods itself, in the scheduler's place.
func TestLostExecutorReplacedAndPreemptedAppResubmitted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := cluster.Start(t)
	ns := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sim"}}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := c.Client.CoreV1().Pods(ns.Name)
	cpu := v1.ResourceList{v1.ResourceCPU: resource.MustParse("1")}
	wl := Workload{Nodes: 1, NodeCPU: "8", NodeMemory: "8Gi", Apps: []App{
		{Name: "etl", Driver: cpu, Executor: cpu, Executors: 2, Work: 3 * time.Second},
	}}
	s := New(c.Client, nil, Options{Namespace: ns.Name, SchedulerName: SchedulerName, Resubmit: 100 * time.Millisecond, Stall: time.Minute, Timeout: time.Minute})

	// step binds every pod as it comes until cond holds.
	step := func(what string, cond func() bool) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			list, err := pods.List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			for _, p := range list.Items {
				if p.Spec.NodeName == "" && p.DeletionTimestamp == nil {
					b := &v1.Binding{ObjectMeta: metav1.ObjectMeta{Name: p.Name}, Target: v1.ObjectReference{Kind: "Node", Name: "n"}}
					_ = pods.Bind(ctx, b, metav1.CreateOptions{})
				}
			}
			return cond(), nil
		})
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	exists := func(name string) func() bool {
		return func() bool { _, err := pods.Get(ctx, name, metav1.GetOptions{}); return err == nil }
	}
	done := make(chan *Result, 1)
	go func() {
		r, err := s.Run(ctx, wl)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()

	step("the first executor", exists("etl-exec-1"))
	// As kwok or a kubelet would end them, pods go at once.
	now := metav1.DeleteOptions{GracePeriodSeconds: new(int64)}
	if err := pods.Delete(ctx, "etl-exec-1", now); err != nil {
		t.Fatal(err)
	}
	step("a third executor in place of the lost one", exists("etl-exec-3"))

	first, err := pods.Get(ctx, "etl-driver", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "etl-driver", now); err != nil {
		t.Fatal(err)
	}
	step("a new driver", func() bool {
		p, err := pods.Get(ctx, "etl-driver", metav1.GetOptions{})
		return err == nil && p.UID != first.UID
	})
	var r *Result
	step("the resubmitted app to finish", func() bool {
		select {
		case r = <-done:
			return true
		default:
			return false
		}
	})
	if r == nil || r.Completed != 1 || r.Resubmitted != 1 || r.Preempted != 0 {
		t.Errorf("result = %+v; want the app completed after one resubmission", r)
	}
}
