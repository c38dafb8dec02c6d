// Package gang is the scheduling-framework plugin that admits pod groups
// (scheduler-plugins PodGroups and Spark apps) all-or-nothing. It is thin
// glue: every decision is asked of podgroup.Manager, and this package turns
// the answers into framework statuses and carries out the Manager's actions.
//
// Extension points, in the order a pod meets them:
//   - QueueSort keeps a group's pods together and orders groups by priority,
//     then creation time.
//   - PreEnqueue holds members of a PodGroup until minMember of them exist.
//   - PreFilter admits the group: the whole group (members not yet created
//     included) must fit on actual nodes after other groups' reservations;
//     its room is then reserved.
//   - Filter keeps every pod off room reserved for other groups.
//   - PreScore/Score steer members to their own reserved room.
//   - Reserve/Unreserve take and give back reserved room; an Unreserve before
//     minMember is placed releases the whole group.
//   - Permit holds placed members until minMember are placed, then lets them
//     all bind together.
//   - PostFilter releases an admitted group whose member fits nowhere.
package gang

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/utils/clock"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
	pgclientset "sigs.k8s.io/scheduler-plugins/pkg/generated/clientset/versioned"
	pginformers "sigs.k8s.io/scheduler-plugins/pkg/generated/informers/externalversions"

	"github.com/gangsched/gangsched/apis/config"
	"github.com/gangsched/gangsched/apis/config/validation"
	"github.com/gangsched/gangsched/plugins/names"
	"github.com/gangsched/gangsched/podgroup"
)

// Name is the plugin's name in the registry and in profiles.
const Name = names.Gang

// tickInterval is how often group timers (permit deadlines, reservation
// expiry, retry backoff) are checked.
const tickInterval = time.Second

// crdPollInterval is how often a scheduler started without the PodGroup CRD
// checks whether it was installed.
const crdPollInterval = 30 * time.Second

// Gang admits pod groups all-or-nothing.
type Gang struct {
	handle  fwk.Handle
	manager *podgroup.Manager
	logger  klog.Logger

	pgClient pgclientset.Interface
	// pgWatched is set once the PodGroup informer runs.
	pgWatched atomic.Bool
	status    *statusWriter
	// schedulerPodsSynced tells whether the scheduler's pod informer synced.
	schedulerPodsSynced cache.InformerSynced
	// active is set once this replica schedules; until then it records no
	// Events (a standby must not write).
	active atomic.Bool
}

var (
	_ fwk.QueueSortPlugin   = &Gang{}
	_ fwk.PreEnqueuePlugin  = &Gang{}
	_ fwk.PreFilterPlugin   = &Gang{}
	_ fwk.FilterPlugin      = &Gang{}
	_ fwk.PostFilterPlugin  = &Gang{}
	_ fwk.PreScorePlugin    = &Gang{}
	_ fwk.ScorePlugin       = &Gang{}
	_ fwk.ReservePlugin     = &Gang{}
	_ fwk.PermitPlugin      = &Gang{}
	_ fwk.PostBindPlugin    = &Gang{}
	_ fwk.EnqueueExtensions = &Gang{}
)

// Name returns the plugin's name.
func (pl *Gang) Name() string { return Name }

// New builds the plugin from its GangArgs: it validates them, wires the
// Manager to the pod, node and PodGroup informers, and starts the timers and
// the status writer.
func New(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
	args, ok := obj.(*config.GangArgs)
	if !ok {
		return nil, fmt.Errorf("want args to be of type GangArgs, got %T", obj)
	}
	if err := validation.ValidateGangArgs(nil, args); err != nil {
		return nil, err
	}
	return newWithClock(ctx, args, h, clock.RealClock{})
}

func newWithClock(ctx context.Context, args *config.GangArgs, h fwk.Handle, clk clock.Clock) (*Gang, error) {
	logger := klog.FromContext(ctx).WithValues("plugin", Name)
	pl := &Gang{
		handle: h,
		logger: logger,
		manager: podgroup.NewManager(podgroup.Config{
			PermitTimeout:      time.Duration(args.PermitTimeoutSeconds) * time.Second,
			ReservationTimeout: time.Duration(args.ReservationTimeoutSeconds) * time.Second,
			RetryBackoff:       time.Duration(args.RetryBackoffSeconds) * time.Second,
			MaxRetryBackoff:    time.Duration(args.MaxRetryBackoffSeconds) * time.Second,
		}, clk),
	}
	if kc := h.KubeConfig(); kc != nil {
		cfg := rest.CopyConfig(kc)
		cfg.ContentType = "application/json" // CRDs do not speak protobuf
		cfg.AcceptContentTypes = "application/json"
		client, err := pgclientset.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("building the PodGroup client: %w", err)
		}
		pl.pgClient = client
	}
	pl.status = newStatusWriter(pl)

	if err := pl.watchPods(ctx); err != nil {
		return nil, err
	}
	pl.watchPodGroups(ctx)
	go pl.activate(ctx)
	go wait.UntilWithContext(ctx, func(ctx context.Context) { pl.act(ctx, pl.manager.Tick()) }, tickInterval)
	return pl, nil
}

// watchPods feeds the Manager. Members of PodGroups come from an informer of
// their own that also sees pods that ended (kube-scheduler's informer drops
// Succeeded and Failed pods as if deleted), since their PodGroup's status
// counts them; all other pods of this profile come from the scheduler's
// informer. The two feeds never carry the same pod.
func (pl *Gang) watchPods(ctx context.Context) error {
	ours := func(pod *v1.Pod) bool { return pod != nil && pod.Spec.SchedulerName == pl.handle.ProfileName() }
	handler := func(filter func(*v1.Pod) bool) cache.ResourceEventHandler {
		return cache.FilteringResourceEventHandler{
			FilterFunc: func(obj interface{}) bool { return filter(podOf(obj)) },
			Handler: cache.ResourceEventHandlerFuncs{
				AddFunc:    func(obj interface{}) { pl.act(ctx, pl.manager.UpsertPod(podOf(obj))) },
				UpdateFunc: func(_, obj interface{}) { pl.act(ctx, pl.manager.UpsertPod(podOf(obj))) },
				DeleteFunc: func(obj interface{}) { pl.act(ctx, pl.manager.DeletePod(podOf(obj))) },
			},
		}
	}
	schedulerPods := pl.handle.SharedInformerFactory().Core().V1().Pods().Informer()
	if _, err := schedulerPods.AddEventHandler(handler(func(pod *v1.Pod) bool {
		return ours(pod) && pod.Labels[podgroup.LabelPodGroup] == ""
	})); err != nil {
		return fmt.Errorf("watching pods: %w", err)
	}
	pl.schedulerPodsSynced = schedulerPods.HasSynced

	members := informers.NewSharedInformerFactoryWithOptions(pl.handle.ClientSet(), 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = podgroup.LabelPodGroup }))
	if _, err := members.Core().V1().Pods().Informer().AddEventHandler(handler(ours)); err != nil {
		return fmt.Errorf("watching PodGroup members: %w", err)
	}
	members.Start(ctx.Done())
	return nil
}

// activate waits until this scheduler is the active one, then writes what a
// standby replica held back. With leader election and delayCacheUntilActive
// (as manifests/ configures), the scheduler's informers sync only on the
// leader, so their sync is the signal.
func (pl *Gang) activate(ctx context.Context) {
	if !cache.WaitForCacheSync(ctx.Done(), pl.schedulerPodsSynced) {
		return
	}
	pl.active.Store(true)
	pl.logger.V(2).Info("Scheduler is active; writing PodGroup status and Events")
	pl.act(ctx, pl.manager.Resync())
	pl.status.run(ctx)
}

// podOf returns the pod in an informer event, unwrapping a tombstone.
func podOf(obj interface{}) *v1.Pod {
	switch t := obj.(type) {
	case *v1.Pod:
		return t
	case cache.DeletedFinalStateUnknown:
		if p, ok := t.Obj.(*v1.Pod); ok {
			return p
		}
	}
	utilruntime.HandleError(fmt.Errorf("unexpected object of type %T in a pod event", obj))
	return nil
}

// watchPodGroups starts the PodGroup informer once the CRD is served: right
// away if it is, else as soon as a later check finds it. Without the CRD,
// Spark apps are still grouped by their labels.
func (pl *Gang) watchPodGroups(ctx context.Context) {
	if pl.pgClient == nil {
		pl.manager.SetPodGroupAPI(false)
		return
	}
	if pl.startPodGroupInformer(ctx) {
		return
	}
	pl.manager.SetPodGroupAPI(false)
	pl.logger.Info("PodGroup CRD is not served; grouping Spark apps by their labels only until it is", "crd", "podgroups.scheduling.x-k8s.io")
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		if !pl.pgWatched.Load() && pl.startPodGroupInformer(ctx) {
			pl.logger.Info("PodGroup CRD is now served")
		}
	}, crdPollInterval)
}

func (pl *Gang) startPodGroupInformer(ctx context.Context) bool {
	if pl.pgWatched.Load() {
		return true
	}
	resources, err := pl.pgClient.Discovery().ServerResourcesForGroupVersion(schedv1alpha1.SchemeGroupVersion.String())
	if err != nil {
		return false
	}
	served := false
	for _, r := range resources.APIResources {
		if r.Name == "podgroups" {
			served = true
		}
	}
	if !served {
		return false
	}
	factory := pginformers.NewSharedInformerFactory(pl.pgClient, 0)
	informer := factory.Scheduling().V1alpha1().PodGroups()
	pgOf := func(obj interface{}) *schedv1alpha1.PodGroup {
		switch t := obj.(type) {
		case *schedv1alpha1.PodGroup:
			return t
		case cache.DeletedFinalStateUnknown:
			if pg, ok := t.Obj.(*schedv1alpha1.PodGroup); ok {
				return pg
			}
		}
		utilruntime.HandleError(fmt.Errorf("unexpected object of type %T in a PodGroup event", obj))
		return nil
	}
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) {
			if pg := pgOf(obj); pg != nil {
				pl.act(ctx, pl.manager.UpsertPodGroup(pg))
			}
		},
		UpdateFunc: func(_, obj interface{}) {
			if pg := pgOf(obj); pg != nil {
				pl.act(ctx, pl.manager.UpsertPodGroup(pg))
			}
		},
		DeleteFunc: func(obj interface{}) {
			if pg := pgOf(obj); pg != nil {
				pl.act(ctx, pl.manager.DeletePodGroup(pg))
			}
		},
	}); err != nil {
		utilruntime.HandleError(fmt.Errorf("watching PodGroups: %w", err))
		return false
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	pl.pgWatched.Store(true)
	pl.manager.SetPodGroupAPI(true)
	return true
}

// act carries out what the Manager decided, outside its lock.
func (pl *Gang) act(ctx context.Context, acts podgroup.Actions) {
	if acts.Empty() {
		return
	}
	for _, r := range acts.Reject {
		if wp := pl.handle.GetWaitingPod(r.UID); wp != nil {
			wp.Reject(Name, r.Message)
		}
	}
	for _, uid := range acts.Allow {
		if wp := pl.handle.GetWaitingPod(uid); wp != nil {
			wp.Allow(Name)
		}
	}
	if len(acts.Activate) > 0 {
		pods := make(map[string]*v1.Pod, len(acts.Activate))
		for _, p := range acts.Activate {
			pods[p.Namespace+"/"+p.Name] = p
		}
		pl.handle.Activate(klog.FromContext(ctx), pods)
	}
	if pl.active.Load() {
		for _, e := range acts.Events {
			pl.handle.EventRecorder().Eventf(withTypeMeta(e.Object), nil, e.Type, e.Reason, "Scheduling", e.Message)
		}
	}
	for _, key := range acts.Statuses {
		if key.Kind == podgroup.KindPodGroup {
			pl.status.enqueue(key)
		}
	}
}

// withTypeMeta returns obj with its apiVersion and kind set, which the
// event recorder needs to refer to a PodGroup read from an informer.
func withTypeMeta(obj runtime.Object) runtime.Object {
	if pg, ok := obj.(*schedv1alpha1.PodGroup); ok && pg.Kind == "" {
		pg = pg.DeepCopy()
		pg.APIVersion = schedv1alpha1.SchemeGroupVersion.String()
		pg.Kind = "PodGroup"
		return pg
	}
	return obj
}
