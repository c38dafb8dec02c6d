package gang

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	schedutil "k8s.io/kubernetes/pkg/scheduler/util"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/metrics"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/queue"
	"github.com/gangsched/gangsched/resources"
)

// statusWriter writes, in the background, what the scheduling path must not
// wait for: PodGroup status, and the reason on pods held in PreEnqueue
// (which kube-scheduler itself does not report).
type statusWriter struct {
	pl    *Gang
	queue workqueue.TypedRateLimitingInterface[writeItem]

	mu      sync.Mutex
	notices map[types.NamespacedName]notice
}

// writeItem is one thing to write: a PodGroup's status, a Queue's status,
// or a pod's notice. It is a plain value, so the queue holds each at most
// once however often it is added.
type writeItem struct {
	isPodGroup bool
	podGroup   podgroup.Key
	queue      queue.Name
	pod        types.NamespacedName
}

// statusDelay is how long a PodGroup's or Queue's status write waits, so
// the changes of a burst (a Spark app's executors starting one by one) go
// out in one write rather than one each.
const statusDelay = time.Second

type notice struct {
	pod *v1.Pod
	msg string
}

// newStatusWriter returns a writer whose queue is shut down when ctx ends,
// whether or not it ever ran (a standby replica stopped before it became
// active must not leak the queue's goroutines).
func newStatusWriter(ctx context.Context, pl *Gang) *statusWriter {
	w := &statusWriter{
		pl: pl,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[writeItem](),
			workqueue.TypedRateLimitingQueueConfig[writeItem]{Name: "gang-status"}),
		notices: map[types.NamespacedName]notice{},
	}
	go func() {
		<-ctx.Done()
		w.queue.ShutDown()
	}()
	return w
}

func (w *statusWriter) enqueue(key podgroup.Key) {
	w.queue.AddAfter(writeItem{isPodGroup: true, podGroup: key}, statusDelay)
}

func (w *statusWriter) enqueueQueue(name queue.Name) {
	w.queue.AddAfter(writeItem{queue: name}, statusDelay)
}

// notifyPod asks for pod to be told msg: a PodScheduled=False condition and
// a GangWaiting Event.
func (w *statusWriter) notifyPod(pod *v1.Pod, msg string) {
	name := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	w.mu.Lock()
	w.notices[name] = notice{pod: pod, msg: msg}
	w.mu.Unlock()
	w.queue.Add(writeItem{pod: name})
}

func (w *statusWriter) run(ctx context.Context) {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		for w.processNext(ctx) {
		}
	}, time.Second)
}

func (w *statusWriter) processNext(ctx context.Context) bool {
	item, quit := w.queue.Get()
	if quit {
		return false
	}
	defer w.queue.Done(item)
	var err error
	switch {
	case item.isPodGroup:
		err = w.writePodGroupStatus(ctx, item.podGroup)
	case item.queue != "":
		err = w.writeQueueStatus(ctx, item.queue)
	default:
		err = w.writePodNotice(ctx, item.pod)
	}
	if err != nil {
		klog.FromContext(ctx).V(2).Info("Retrying a status write", "err", err)
		w.queue.AddRateLimited(item)
		return true
	}
	w.queue.Forget(item)
	return true
}

// writePodGroupStatus writes the status the Manager observed, if it differs.
func (w *statusWriter) writePodGroupStatus(ctx context.Context, key podgroup.Key) error {
	if key.Kind == podgroup.KindSchedulingPodGroup {
		return w.writeSchedulingPodGroupConditions(ctx, key)
	}
	pg, want, ok := w.pl.manager.PodGroupStatus(key)
	if !ok || w.pl.pgClient == nil || podgroup.StatusEqual(pg.Status, want) {
		return nil
	}
	klog.FromContext(ctx).V(4).Info("Writing PodGroup status", "podGroup", key, "phase", want.Phase, "running", want.Running, "succeeded", want.Succeeded)
	updated := pg.DeepCopy()
	updated.Status = want
	_, err := w.pl.pgClient.SchedulingV1alpha1().PodGroups(key.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if apierrors.IsConflict(err) {
		return fmt.Errorf("PodGroup %s changed while writing its status: %w", key, err)
	}
	return err
}

// writeSchedulingPodGroupConditions writes the conditions of a
// scheduling.k8s.io PodGroup (why it waits, when it was admitted), if they
// changed.
func (w *statusWriter) writeSchedulingPodGroupConditions(ctx context.Context, key podgroup.Key) error {
	pg, want, ok := w.pl.manager.SchedulingPodGroupConditions(key)
	if !ok || conditionsEqual(pg.Status.Conditions, want) {
		return nil
	}
	updated := pg.DeepCopy()
	updated.Status.Conditions = want
	_, err := w.pl.handle.ClientSet().SchedulingV1beta1().PodGroups(key.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if apierrors.IsConflict(err) {
		return fmt.Errorf("PodGroup %s changed while writing its conditions: %w", key, err)
	}
	return err
}

// conditionsEqual compares conditions but for their transition times.
func conditionsEqual(a, b []metav1.Condition) bool {
	return slices.EqualFunc(a, b, func(x, y metav1.Condition) bool {
		return x.Type == y.Type && x.Status == y.Status && x.Reason == y.Reason && x.Message == y.Message && x.ObservedGeneration == y.ObservedGeneration
	})
}

// writeQueueStatus writes a Queue's observed status, if it changed.
func (w *statusWriter) writeQueueStatus(ctx context.Context, name queue.Name) error {
	q, want, ok := w.pl.manager.QueueStatus(name)
	if !ok {
		return nil
	}
	metrics.SetQueue(string(name), metrics.QueueState{
		Allocated: resources.FromResourceList(want.Allocated), FairShare: resources.FromResourceList(want.FairShare),
		Guaranteed: resources.FromResourceList(q.Spec.Guaranteed), Borrowed: resources.FromResourceList(want.Borrowed),
		Pending: want.PendingGroups,
	})
	if w.pl.queueClient == nil || queueStatusEqual(q.Status, want) {
		return nil
	}
	updated := q.DeepCopy()
	updated.Status = want
	_, err := w.pl.queueClient.SchedulingV1alpha1().Queues().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // the informer brings the new object, and the next sync writes again
	}
	return err
}

// queueStatusEqual compares statuses as the API keeps them: quantities by
// value, conditions without their transition time.
func queueStatusEqual(a, b v1alpha1.QueueStatus) bool {
	lists := [][2]v1.ResourceList{{a.Allocated, b.Allocated}, {a.Pending, b.Pending}, {a.FairShare, b.FairShare}, {a.Borrowed, b.Borrowed}}
	for _, l := range lists {
		if !resources.FromResourceList(l[0]).Equal(resources.FromResourceList(l[1])) {
			return false
		}
	}
	if a.AdmittedGroups != b.AdmittedGroups || a.PendingGroups != b.PendingGroups || len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		x, y := a.Conditions[i], b.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message || x.ObservedGeneration != y.ObservedGeneration {
			return false
		}
	}
	return true
}

// writePodNotice sets PodScheduled=False with the reason and records an Event.
func (w *statusWriter) writePodNotice(ctx context.Context, name types.NamespacedName) error {
	w.mu.Lock()
	n, ok := w.notices[name]
	w.mu.Unlock()
	if !ok {
		return nil
	}
	err := w.writeNotice(ctx, name, n)
	if err == nil {
		w.mu.Lock()
		if w.notices[name] == n {
			delete(w.notices, name)
		}
		w.mu.Unlock()
	}
	return err
}

func (w *statusWriter) writeNotice(ctx context.Context, name types.NamespacedName, n notice) error {
	pod, err := w.pl.handle.SharedInformerFactory().Core().V1().Pods().Lister().Pods(name.Namespace).Get(name.Name)
	if err != nil || pod.Spec.NodeName != "" {
		return nil // gone or already placed
	}
	if n.pod.UID == pod.UID {
		w.pl.handle.EventRecorder().Eventf(pod, nil, v1.EventTypeNormal, podgroup.ReasonWaiting, "Scheduling", n.msg)
	}
	status := pod.Status.DeepCopy()
	if !podutil.UpdatePodCondition(status, &v1.PodCondition{
		Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: v1.PodReasonUnschedulable, Message: n.msg,
	}) {
		return nil
	}
	err = schedutil.PatchPodStatus(ctx, w.pl.handle.ClientSet(), pod.Name, pod.Namespace, &pod.Status, status)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
