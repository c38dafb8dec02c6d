package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	queueclientset "github.com/gangsched/gangsched/client/clientset/versioned"
	"github.com/gangsched/gangsched/test/cluster"
	w "github.com/gangsched/gangsched/test/wrappers"
)

func (e *env) queues() queueclientset.Interface {
	e.t.Helper()
	qc, err := queueclientset.NewForConfig(cluster.JSONConfig(e.c.Config))
	if err != nil {
		e.t.Fatal(err)
	}
	return qc
}

// createQueue creates a queue owning the given namespaces.
func (e *env) createQueue(name string, weight int32, mutate func(*v1alpha1.Queue), namespaces ...string) {
	e.t.Helper()
	q := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.QueueSpec{Weight: ptr.To(weight), Namespaces: namespaces}}
	if mutate != nil {
		mutate(q)
	}
	if _, err := e.queues().SchedulingV1alpha1().Queues().Create(e.ctx, q, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// namespace creates another namespace.
func (e *env) namespace(prefix string) string {
	e.t.Helper()
	ns, err := e.c.CreateNamespace(e.ctx, prefix)
	if err != nil {
		e.t.Fatal(err)
	}
	return ns
}

// gangs creates n PodGroups of size pods of cpu each in namespace ns, with
// the given PriorityClass ("" for none); it returns their names.
func (e *env) gangs(ns, prefix string, n, size int, cpu string, priorityClass string) []string {
	e.t.Helper()
	var groups []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		pg := w.MakePodGroup(ns, name).MinMember(int32(size)).Obj()
		if _, err := e.c.PodGroups.SchedulingV1alpha1().PodGroups(ns).Create(e.ctx, pg, metav1.CreateOptions{}); err != nil {
			e.t.Fatal(err)
		}
		for j := 0; j < size; j++ {
			p := w.MakePod(ns, fmt.Sprintf("%s-%d", name, j)).Group(name).Req("cpu", cpu).Obj()
			p.UID = ""
			p.Spec.PriorityClassName = priorityClass
			if _, err := e.c.Client.CoreV1().Pods(ns).Create(e.ctx, p, metav1.CreateOptions{}); err != nil {
				e.t.Fatal(err)
			}
		}
		groups = append(groups, name)
	}
	return groups
}

// boundCPU sums the CPU (cores) of bound pods in ns, and tells for each
// group label how many of its pods are bound.
func (e *env) boundCPU(ns string) (float64, map[string]int) {
	pods, err := e.c.Client.CoreV1().Pods(ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	total, perGroup := 0.0, map[string]int{}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil {
			continue
		}
		q := p.Spec.Containers[0].Resources.Requests[v1.ResourceCPU]
		total += q.AsApproximateFloat64()
		perGroup[p.Labels["scheduling.x-k8s.io/pod-group"]]++
	}
	return total, perGroup
}

// kubelet finishes the deletion of pods in the namespaces, as a kubelet
// would once their containers stop.
func (e *env) kubelet(namespaces ...string) {
	go func() {
		_ = wait.PollUntilContextCancel(e.ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			for _, ns := range namespaces {
				pods, err := e.c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					continue
				}
				for _, p := range pods.Items {
					if p.DeletionTimestamp != nil {
						_ = e.c.Client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
					}
				}
			}
			return false, nil
		})
	}()
}

// Two queues of weight 1 and 3, flooded with equal gangs: what they hold
// converges to 1:3 of the cluster, within one gang's size.
func TestQueueWeightsShareTheCluster(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	light, heavy := e.namespace("light"), e.namespace("heavy")
	e.createQueue("light", 1, nil, light)
	e.createQueue("heavy", 3, nil, heavy)
	// Both flood at once; the light queue's gangs are the older ones.
	e.gangs(light, "l", 12, 2, "1", "")
	e.gangs(heavy, "h", 12, 2, "1", "")
	e.nodes("n", 2, "8") // 16 CPU: fair shares 4 and 12

	var l, h float64
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		l, _ = e.boundCPU(light)
		h, _ = e.boundCPU(heavy)
		return l+h >= 16, nil
	}); err != nil {
		t.Fatalf("cluster not full: light %.0f, heavy %.0f CPU", l, h)
	}
	time.Sleep(2 * time.Second)
	l, _ = e.boundCPU(light)
	h, _ = e.boundCPU(heavy)
	t.Logf("light queue holds %.0f CPU, heavy %.0f (fair shares 4 and 12)", l, h)
	if l < 2 || l > 6 || h < 10 || h > 14 {
		t.Errorf("light %.0f, heavy %.0f CPU; want 4 and 12 within one gang (2 CPU)", l, h)
	}
	e.waitQueueStatus("heavy", func(s v1alpha1.QueueStatus) bool {
		fs := s.FairShare[v1.ResourceCPU]
		return fs.Cmp(resource.MustParse("12")) == 0 && s.AdmittedGroups > 0 && s.PendingGroups > 0
	})
}

// A queue's guaranteed share is reclaimed from a queue that borrowed it:
// whole groups of the borrower are preempted, none in part, and none of the
// owner's.
func TestGuaranteeReclaimedFromBorrower(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	owner, borrower := e.namespace("owner"), e.namespace("borrower")
	e.kubelet(owner, borrower)
	e.createQueue("owner", 1, func(q *v1alpha1.Queue) { q.Spec.Guaranteed = v1.ResourceList{"cpu": resource.MustParse("4")} }, owner)
	e.createQueue("borrower", 1, nil, borrower)
	e.nodes("n", 1, "8")
	e.gangs(borrower, "b", 4, 2, "1", "")
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		c, _ := e.boundCPU(borrower)
		return c == 8, nil
	}); err != nil {
		t.Fatal("the borrower did not take the idle cluster")
	}

	e.gangs(owner, "o", 1, 2, "2", "") // needs 4 CPU, its guarantee
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		c, _ := e.boundCPU(owner)
		return c == 4, nil
	}); err != nil {
		c, _ := e.boundCPU(owner)
		t.Fatalf("the owner holds %.0f CPU, want its 4 guaranteed: %s", c, e.describeIn(owner, "o-0-0"))
	}
	c, perGroup := e.boundCPU(borrower)
	if c != 4 {
		t.Errorf("the borrower holds %.0f CPU, want 4 after giving back 4", c)
	}
	for g, n := range perGroup {
		if n != 2 {
			t.Errorf("borrower's group %s has %d/2 pods bound: preempted in part", g, n)
		}
	}
	e.waitEventIn(borrower, "PodGroup", "", "Preempted", "queue borrower holds cpu 8, above its fair share")
}

// A high-priority group preempts lower-priority groups of its queue, whole.
func TestPriorityPreemptsWholeGroups(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.kubelet(e.ns)
	e.nodes("n", 2, "4")
	e.priorityClass("low", 1)
	e.priorityClass("high", 100)
	e.gangs(e.ns, "low", 4, 2, "1", "low")
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		c, _ := e.boundCPU(e.ns)
		return c == 8, nil
	}); err != nil {
		t.Fatal("low-priority groups did not fill the cluster")
	}
	e.gangs(e.ns, "high", 1, 3, "1", "high")
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		_, per := e.boundCPU(e.ns)
		return per["high-0"] == 3, nil
	}); err != nil {
		_, per := e.boundCPU(e.ns)
		t.Fatalf("high-priority group not placed: %v", per)
	}
	_, per := e.boundCPU(e.ns)
	preempted := 0
	for g, n := range per {
		if strings.HasPrefix(g, "low") && n != 2 {
			t.Errorf("group %s has %d/2 pods bound: preempted in part", g, n)
		}
	}
	for i := 0; i < 4; i++ {
		if per[fmt.Sprintf("low-%d", i)] == 0 {
			preempted++
		}
	}
	if preempted != 2 {
		t.Errorf("%d low-priority groups preempted, want the 2 that make room for 3 CPU", preempted)
	}
	e.waitEvent("PodGroup", "high-0", "GangPreempting", "preempts pod group")
}

// Invalid queues get a False Valid condition and an Event naming the field,
// their groups wait saying so, and other queues' groups schedule.
func TestInvalidQueuesDoNotBreakOthers(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.nodes("n", 1, "8")
	bad := e.namespace("bad")
	e.createQueue("loop-a", 1, func(q *v1alpha1.Queue) { q.Spec.Parent = "loop-b" })
	e.createQueue("loop-b", 1, func(q *v1alpha1.Queue) { q.Spec.Parent = "loop-a" }, bad)
	e.createQueue("greedy", 1, func(q *v1alpha1.Queue) {
		q.Spec.Guaranteed = v1.ResourceList{"cpu": resource.MustParse("8")}
		q.Spec.Max = v1.ResourceList{"cpu": resource.MustParse("4")}
	})
	e.createQueue("negative", -1, nil)

	e.waitQueueCondition("loop-b", `spec.parent: Invalid value: "loop-a": forms a cycle of parents`)
	e.waitQueueCondition("greedy", `spec.guaranteed[cpu]: Invalid value: "8": must not exceed spec.max[cpu] (4)`)
	e.waitQueueCondition("negative", "spec.weight: Invalid value: -1: must not be negative")
	e.waitEventIn("", "Queue", "greedy", "GangInvalid", "spec.guaranteed[cpu]")

	e.gangs(bad, "stuck", 1, 1, "1", "")
	e.gangs(e.ns, "fine", 1, 2, "1", "")
	e.waitBound(20*time.Second, "fine-0-0", "fine-0-1")
	var msg string
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := e.c.Client.CoreV1().Pods(bad).Get(ctx, "stuck-0-0", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range p.Status.Conditions {
			if c.Type == v1.PodScheduled {
				msg = c.Message
			}
		}
		return strings.Contains(msg, "queue loop-b is invalid"), nil
	}); err != nil {
		t.Errorf("the invalid queue's pod says %q", msg)
	}
}

// priorityClass creates a PriorityClass.
func (e *env) priorityClass(name string, value int32) {
	e.t.Helper()
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
	if _, err := e.c.Client.SchedulingV1().PriorityClasses().Create(e.ctx, pc, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) waitQueueStatus(name string, ok func(v1alpha1.QueueStatus) bool) {
	e.t.Helper()
	var last v1alpha1.QueueStatus
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		q, err := e.queues().SchedulingV1alpha1().Queues().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = q.Status
		return ok(q.Status), nil
	}); err != nil {
		e.t.Fatalf("queue %s status never matched: %+v", name, last)
	}
}

func (e *env) waitQueueCondition(name, want string) {
	e.t.Helper()
	e.waitQueueStatus(name, func(s v1alpha1.QueueStatus) bool {
		for _, c := range s.Conditions {
			if c.Type == v1alpha1.ConditionValid && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, want) {
				return true
			}
		}
		return false
	})
}

// A queue over its fair share does not borrow the room a queue within its
// share waits for: freed room gathers for the owner instead of going to
// the borrower's next group that happens to fit.
func TestBorrowerWaitsWhileOwnerWithinShareWaits(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	owner := e.namespace("owner")
	e.kubelet(e.ns, owner)
	e.createQueue("owner", 1, nil, owner)
	e.createQueue("borrower", 1, nil, e.ns)
	e.nodes("n", 2, "4") // 8 CPU: fair shares 4 and 4 once both ask
	// The owner does not preempt: this is about admission, not reclaim.
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "no-preemption"}, PreemptionPolicy: ptr.To(v1.PreemptNever)}
	if _, err := e.c.Client.SchedulingV1().PriorityClasses().Create(e.ctx, pc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	e.gangs(e.ns, "big", 1, 3, "2", "") // 6 CPU, borrowed while the owner asks for nothing
	e.waitBoundCPU(e.ns, 6)
	e.gangs(owner, "own", 1, 2, "2", "no-preemption") // 4 CPU, its share; 2 are free
	e.gangs(e.ns, "small", 1, 1, "2", "")             // 2 CPU: fits, but takes the borrower over its share
	e.waitCondition("small-0-0", "queue borrower would go over its fair share")
	if c, _ := e.boundCPU(e.ns); c != 6 {
		t.Fatalf("the borrower holds %.0f CPU, want 6: its small group took the owner's room", c)
	}

	// The big group ends: the owner gets its share, the borrower what is left.
	for i := 0; i < 3; i++ {
		if err := e.c.Client.CoreV1().Pods(e.ns).Delete(e.ctx, fmt.Sprintf("big-0-%d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitBoundCPU(owner, 4)
	e.waitBoundCPU(e.ns, 2)
}

// waitBoundCPU waits until the pods of ns bound to nodes request cpu CPU.
func (e *env) waitBoundCPU(ns string, cpu float64) {
	e.t.Helper()
	var got float64
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		got, _ = e.boundCPU(ns)
		return got == cpu, nil
	}); err != nil {
		e.t.Fatalf("pods of %s bound with %.0f CPU, want %.0f", ns, got, cpu)
	}
}
