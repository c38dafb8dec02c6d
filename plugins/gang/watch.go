package gang

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	schedv1beta1 "k8s.io/api/scheduling/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
	pginformers "sigs.k8s.io/scheduler-plugins/pkg/generated/informers/externalversions"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	queueinformers "github.com/gangsched/gangsched/client/informers/externalversions"
	"github.com/gangsched/gangsched/podgroup"
)

// objOf returns the object of an informer event as a T, unwrapping a
// tombstone; unexpected types are reported.
func objOf[T any](obj interface{}) (T, bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	t, ok := obj.(T)
	if !ok {
		utilruntime.HandleError(fmt.Errorf("unexpected object of type %T in an informer event", obj))
	}
	return t, ok
}

// handlers builds event handlers that pass T objects to upsert and remove.
// An update that replaces an object by another of the same name (a new
// UID: deleted and created again while a watch was cut, and seen as one
// change by the relist) removes the old one first, as kube-scheduler's own
// cache does.
func handlers[T any](upsert, remove func(T)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) {
			if t, ok := objOf[T](obj); ok {
				upsert(t)
			}
		},
		UpdateFunc: func(oldObj, obj interface{}) {
			if o, ok := oldObj.(metav1.Object); ok {
				if n, ok := obj.(metav1.Object); ok && o.GetUID() != n.GetUID() {
					if old, ok := objOf[T](oldObj); ok {
						remove(old)
					}
				}
			}
			if t, ok := objOf[T](obj); ok {
				upsert(t)
			}
		},
		DeleteFunc: func(obj interface{}) {
			if t, ok := objOf[T](obj); ok {
				remove(t)
			}
		},
	}
}

// watchPods feeds the Manager. Members of PodGroups come from an informer of
// their own that also sees pods that ended (kube-scheduler's informer drops
// Succeeded and Failed pods as if deleted), since their PodGroup's status
// counts them; all other pods of this profile come from the scheduler's
// informer. The two feeds never carry the same pod.
func (pl *Gang) watchPods(ctx context.Context) error {
	ours := func(pod *v1.Pod) bool { return pod.Spec.SchedulerName == pl.handle.ProfileName() }
	feed := func(filter func(*v1.Pod) bool) cache.ResourceEventHandler {
		return cache.FilteringResourceEventHandler{
			FilterFunc: func(obj interface{}) bool {
				pod, ok := objOf[*v1.Pod](obj)
				return ok && filter(pod)
			},
			Handler: handlers(
				func(p *v1.Pod) { pl.act(ctx, pl.manager.UpsertPod(p)) },
				func(p *v1.Pod) { pl.act(ctx, pl.manager.DeletePod(p)) }),
		}
	}
	schedulerPods := pl.handle.SharedInformerFactory().Core().V1().Pods().Informer()
	if _, err := schedulerPods.AddEventHandler(feed(func(pod *v1.Pod) bool {
		return ours(pod) && pod.Labels[podgroup.LabelPodGroup] == ""
	})); err != nil {
		return fmt.Errorf("watching pods: %w", err)
	}
	pl.schedulerPodsSynced = schedulerPods.HasSynced
	// Pods this profile does not place (other schedulers', DaemonSets',
	// pods naming their node): the room they use, reserved room they take,
	// and preemption victims among them that leave.
	if _, err := schedulerPods.AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj interface{}) bool {
			pod, ok := objOf[*v1.Pod](obj)
			return ok && !ours(pod)
		},
		Handler: handlers(
			func(p *v1.Pod) { pl.act(ctx, pl.manager.UpsertForeignPod(p)) },
			func(p *v1.Pod) { pl.act(ctx, pl.manager.DeleteForeignPod(p)) }),
	}); err != nil {
		return fmt.Errorf("watching other schedulers' pods: %w", err)
	}

	members := informers.NewSharedInformerFactoryWithOptions(pl.handle.ClientSet(), 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = podgroup.LabelPodGroup }),
		informers.WithTransform(trimMember))
	if _, err := members.Core().V1().Pods().Informer().AddEventHandler(feed(ours)); err != nil {
		return fmt.Errorf("watching PodGroup members: %w", err)
	}
	members.Start(ctx.Done())
	return nil
}

// watchNodes feeds the Manager the nodes' allocatable resources, the
// capacity that queues share, and the nodes deleted under reservations.
func (pl *Gang) watchNodes(ctx context.Context) error {
	nodes := pl.handle.SharedInformerFactory().Core().V1().Nodes().Informer()
	if _, err := nodes.AddEventHandler(handlers(pl.manager.UpsertNode,
		func(n *v1.Node) { pl.act(ctx, pl.manager.DeleteNode(n)) })); err != nil {
		return fmt.Errorf("watching nodes: %w", err)
	}
	return nil
}

// watchQuotas gives the Manager the namespaces' ResourceQuotas, and
// activates a namespace's waiting groups when one of its quotas changes
// (raised, or its use fell).
func (pl *Gang) watchQuotas(ctx context.Context, clk clock.Clock) error {
	quotas := pl.handle.SharedInformerFactory().Core().V1().ResourceQuotas()
	changed := func(q *v1.ResourceQuota) { pl.act(ctx, pl.manager.QuotaChanged(q.Namespace)) }
	if _, err := quotas.Informer().AddEventHandler(handlers(changed, changed)); err != nil {
		return fmt.Errorf("watching ResourceQuotas: %w", err)
	}
	pl.manager.SetQuotas(newQuotaChecker(quotas.Lister(), pl.handle.SharedInformerFactory().Core().V1().Pods().Lister(), clk))
	return nil
}

// crd is a custom resource (or an API of Kubernetes' own behind a feature
// gate) the plugin watches once it is served.
type crd struct {
	groupVersion, resource string
	// discovery asks the API server what it serves.
	discovery discovery.DiscoveryInterface
	// start starts its informer and waits for it to sync.
	start func(context.Context) error
	// served tells the Manager whether the resource is served.
	served func(bool)
}

// watchCRDs starts the PodGroup and Queue informers as soon as their CRDs
// are served: right away if they are, else when a later check finds them.
// Without the PodGroup CRD, Spark apps are still grouped by their labels;
// without the Queue CRD, every group is in the default queue.
func (pl *Gang) watchCRDs(ctx context.Context) {
	crds := []crd{
		// scheduling.k8s.io/v1beta1 is served with the GenericWorkload
		// gate on (and the API enabled) on the API server.
		{schedv1beta1.SchemeGroupVersion.String(), "podgroups", pl.handle.ClientSet().Discovery(), pl.startSchedulingPodGroups, pl.manager.SetSchedulingPodGroupAPI},
	}
	if pl.pgClient == nil {
		pl.manager.SetPodGroupAPI(false)
	} else {
		crds = append(crds,
			crd{schedv1alpha1.SchemeGroupVersion.String(), "podgroups", pl.pgClient.Discovery(), pl.startPodGroups, pl.manager.SetPodGroupAPI},
			crd{v1alpha1.SchemeGroupVersion.String(), "queues", pl.pgClient.Discovery(), pl.startQueues, func(bool) {}})
	}
	for _, c := range crds {
		if pl.startWhenServed(ctx, c) {
			continue
		}
		c.served(false)
		pl.logger.Info("CRD is not served yet; watching for it", "groupVersion", c.groupVersion, "resource", c.resource)
		go func() {
			if wait.PollUntilContextCancel(ctx, crdPollInterval, false, func(ctx context.Context) (bool, error) {
				return pl.startWhenServed(ctx, c), nil
			}) == nil {
				pl.logger.Info("CRD is now served", "groupVersion", c.groupVersion, "resource", c.resource)
			}
		}()
	}
}

// startWhenServed starts c's informer if its resource is served.
func (pl *Gang) startWhenServed(ctx context.Context, c crd) bool {
	if !resourceServed(c.discovery, c.groupVersion, c.resource) {
		return false
	}
	if err := c.start(ctx); err != nil {
		utilruntime.HandleError(err)
		return false
	}
	c.served(true)
	return true
}

func resourceServed(d discovery.DiscoveryInterface, groupVersion, resource string) bool {
	list, err := d.ServerResourcesForGroupVersion(groupVersion)
	if err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return true
		}
	}
	return false
}

func (pl *Gang) startPodGroups(ctx context.Context) error {
	factory := pginformers.NewSharedInformerFactoryWithOptions(pl.pgClient, 0, pginformers.WithTransform(trimManagedFields))
	informer := factory.Scheduling().V1alpha1().PodGroups().Informer()
	if _, err := informer.AddEventHandler(handlers(
		func(pg *schedv1alpha1.PodGroup) { pl.act(ctx, pl.manager.UpsertPodGroup(pg)) },
		func(pg *schedv1alpha1.PodGroup) { pl.act(ctx, pl.manager.DeletePodGroup(pg)) })); err != nil {
		return fmt.Errorf("watching PodGroups: %w", err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return nil
}

// startSchedulingPodGroups watches scheduling.k8s.io PodGroups.
func (pl *Gang) startSchedulingPodGroups(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(pl.handle.ClientSet(), 0, informers.WithTransform(trimManagedFields))
	informer := factory.Scheduling().V1beta1().PodGroups().Informer()
	if _, err := informer.AddEventHandler(handlers(
		func(pg *schedv1beta1.PodGroup) { pl.act(ctx, pl.manager.UpsertSchedulingPodGroup(pg)) },
		func(pg *schedv1beta1.PodGroup) { pl.act(ctx, pl.manager.DeleteSchedulingPodGroup(pg)) })); err != nil {
		return fmt.Errorf("watching scheduling.k8s.io PodGroups: %w", err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return nil
}

// startQueues watches Queues; any change rebuilds the Manager's queue tree
// from all of them (queues are few).
func (pl *Gang) startQueues(ctx context.Context) error {
	factory := queueinformers.NewSharedInformerFactoryWithOptions(pl.queueClient, 0, queueinformers.WithTransform(trimManagedFields))
	informer := factory.Scheduling().V1alpha1().Queues()
	lister := informer.Lister()
	rebuild := func(*v1alpha1.Queue) {
		queues, err := lister.List(labels.Everything())
		if err != nil {
			utilruntime.HandleError(err)
			return
		}
		pl.act(ctx, pl.manager.SetQueues(queues))
	}
	if _, err := informer.Informer().AddEventHandler(handlers(rebuild, rebuild)); err != nil {
		return fmt.Errorf("watching Queues: %w", err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	pl.queuesWatched.Store(true)
	return nil
}

// ensureDefaultQueue creates the default queue if the Queue CRD is served
// and the queue is missing.
func (pl *Gang) ensureDefaultQueue(ctx context.Context) {
	if pl.queueClient == nil || !pl.queuesWatched.Load() {
		return
	}
	_, err := pl.queueClient.SchedulingV1alpha1().Queues().Create(ctx, &v1alpha1.Queue{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultQueue},
		Spec:       v1alpha1.QueueSpec{Weight: ptr.To[int32](1)},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		utilruntime.HandleError(fmt.Errorf("creating the default queue: %w", err))
	}
}
