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
//   - PreBind writes the deadline of the room still reserved on the group's
//     object before its members bind, for a scheduler taking over.
//   - PostFilter releases an admitted group whose member fits nowhere.
package gang

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	v1 "k8s.io/api/core/v1"
	schedv1beta1 "k8s.io/api/scheduling/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/features"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultpreemption"
	"k8s.io/utils/clock"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
	pgclientset "sigs.k8s.io/scheduler-plugins/pkg/generated/clientset/versioned"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	queueclientset "github.com/gangsched/gangsched/client/clientset/versioned"
	"github.com/gangsched/gangsched/metrics"
	"github.com/gangsched/gangsched/queue"

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

// queueStatusInterval is how often every Queue's status is brought up to
// date (written only when it changed).
const queueStatusInterval = 2 * time.Second

// crdPollInterval is how often a scheduler started without the PodGroup CRD
// checks whether it was installed.
const crdPollInterval = 30 * time.Second

// Gang admits pod groups all-or-nothing.
type Gang struct {
	// ctx lives as long as the scheduler.
	ctx     context.Context
	handle  fwk.Handle
	manager *podgroup.Manager
	logger  klog.Logger

	pgClient pgclientset.Interface
	// queueClient reads and writes gangsched's Queues; queuesWatched is
	// set once their informer runs.
	queueClient   queueclientset.Interface
	queuesWatched atomic.Bool
	status        *statusWriter
	// lonePreemption is kube-scheduler's default preemption, for pods in no group.
	lonePreemption *defaultpreemption.DefaultPreemption
	pdbLister      policylisters.PodDisruptionBudgetLister
	// schedulerPodsSynced tells whether the scheduler's pod informer synced.
	schedulerPodsSynced cache.InformerSynced
	// active is set once this replica's informers synced (it leads); until
	// then it records no Events (a standby must not write).
	active atomic.Bool
	// resynced is set once activate ran the Manager's Resync: group timers
	// run only from then on.
	resynced atomic.Bool
	// rooms is the planner's view of the nodes, kept across cycles.
	rooms roomCache
	// deletions are the pods to disrupt and delete (releases, preemption
	// victims), worked off by deleteWorkers goroutines.
	deletions workqueue.TypedInterface[podgroup.Deletion]
	// records joins the members of a group that write the same quorum
	// record in PreBind at once into one write.
	records singleflight.Group
}

// deleteWorkers is how many pods are disrupted and deleted at once.
const deleteWorkers = 4

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
	_ fwk.PreBindPlugin     = &Gang{}
	_ fwk.PostBindPlugin    = &Gang{}
	_ fwk.EnqueueExtensions = &Gang{}
	_ fwk.SignPlugin        = &Gang{}
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
	// With GenericWorkload on, kube-scheduler's own queue and cycle take
	// pods of scheduling.k8s.io PodGroups and gang them (GangScheduling);
	// gangsched admits those groups itself, and one gang must decide.
	if utilfeature.DefaultFeatureGate.Enabled(features.GenericWorkload) {
		return nil, fmt.Errorf("%s admits scheduling.k8s.io PodGroups itself: run this scheduler with --feature-gates=GenericWorkload=false "+
			"(the API server and other schedulers may keep it on)", Name)
	}
	return newWithClock(ctx, args, h, clock.RealClock{})
}

func newWithClock(ctx context.Context, args *config.GangArgs, h fwk.Handle, clk clock.Clock) (*Gang, error) {
	logger := klog.FromContext(ctx).WithValues("plugin", Name)
	metrics.Register()
	pl := &Gang{
		ctx:    ctx,
		handle: h,
		logger: logger,
		manager: podgroup.NewManager(podgroup.Config{
			PermitTimeout:      time.Duration(args.PermitTimeoutSeconds) * time.Second,
			ReservationTimeout: time.Duration(args.ReservationTimeoutSeconds) * time.Second,
			RetryBackoff:       time.Duration(args.RetryBackoffSeconds) * time.Second,
			MaxRetryBackoff:    time.Duration(args.MaxRetryBackoffSeconds) * time.Second,

			StarvationThreshold: time.Duration(args.StarvationThresholdSeconds) * time.Second,
			DrainRetry:          time.Duration(args.DrainRetrySeconds) * time.Second,
			VictimsTimeout:      time.Duration(args.VictimsTimeoutSeconds) * time.Second,
			MaxAdmitAhead:       int(args.MaxAdmitAhead),
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
		if pl.queueClient, err = queueclientset.NewForConfig(cfg); err != nil {
			return nil, fmt.Errorf("building the Queue client: %w", err)
		}
	}
	pl.status = newStatusWriter(ctx, pl)
	lone, err := newLonePreemption(ctx, h)
	if err != nil {
		return nil, err
	}
	pl.lonePreemption = lone
	pl.pdbLister = h.SharedInformerFactory().Policy().V1().PodDisruptionBudgets().Lister()
	if err := pl.watchQuotas(ctx, clk); err != nil {
		return nil, err
	}

	if err := pl.watchPods(ctx); err != nil {
		return nil, err
	}
	if err := pl.watchNodes(ctx); err != nil {
		return nil, err
	}
	pl.watchCRDs(ctx)
	pl.deletions = workqueue.NewTyped[podgroup.Deletion]()
	for range deleteWorkers {
		go pl.deleteWorker(ctx)
	}
	go func() {
		<-ctx.Done()
		pl.deletions.ShutDown()
	}()
	go pl.activate(ctx)
	go wait.UntilWithContext(ctx, pl.tick, tickInterval)
	return pl, nil
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
	pl.logger.V(2).Info("Scheduler is active; writing PodGroup and Queue status and Events")
	pl.ensureDefaultQueue(ctx)
	pl.act(ctx, pl.manager.Resync())
	pl.resynced.Store(true)
	known := map[queue.Name]bool{}
	go wait.UntilWithContext(ctx, func(context.Context) {
		names := pl.manager.QueueNames()
		for _, name := range names {
			pl.status.enqueueQueue(name)
			delete(known, name)
		}
		for gone := range known {
			metrics.ClearQueue(string(gone))
		}
		clear(known)
		for _, name := range names {
			known[name] = true
		}
		groups := pl.manager.GroupsByPhase()
		for _, phase := range podgroup.Phases {
			metrics.Groups.WithLabelValues(string(phase)).Set(float64(groups[phase]))
		}
	}, queueStatusInterval)
	pl.status.run(ctx)
}

// tick runs the Manager's group timers. A standby replica runs none: it
// could carry out nothing they decide (it writes no Events and deletes no
// pod), yet a release would count as done, its Event as told. A group found
// bound half way while standing by gets its permit timeout from Resync, on
// becoming active.
func (pl *Gang) tick(ctx context.Context) {
	if !pl.resynced.Load() {
		pl.manager.ForgetDeletedPods()
		return
	}
	pl.act(ctx, pl.manager.Tick(klog.FromContext(ctx)))
}

// isActive reports whether this replica schedules: its scheduler informers
// synced, which happens only on the leader. It asks the informer rather
// than waiting for activate to notice: scheduling starts as soon as they
// synced, and what its first cycles decide (an admission, a restored
// reservation) must not lose its Events.
func (pl *Gang) isActive() bool {
	if pl.active.Load() {
		return true
	}
	if pl.schedulerPodsSynced != nil && pl.schedulerPodsSynced() {
		pl.active.Store(true)
		return true
	}
	return false
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
	// Before this replica schedules, its queue may not exist yet (the
	// plugin's own informers run from the start), and every pod enters the
	// queue when it starts anyway.
	active := pl.isActive()
	if len(acts.Activate) > 0 && active {
		pods := make(map[string]*v1.Pod, len(acts.Activate))
		for _, p := range acts.Activate {
			pods[p.Namespace+"/"+p.Name] = p
		}
		pl.handle.Activate(klog.FromContext(ctx), pods)
	}
	if active {
		for _, e := range acts.Events {
			pl.handle.EventRecorder().Eventf(withTypeMeta(e.Object), nil, e.Type, e.Reason, "Scheduling", e.Message)
		}
	}
	for _, key := range acts.Statuses {
		if key.Kind != podgroup.KindSparkApp {
			pl.status.enqueue(key)
		}
	}
	for _, name := range acts.Queues {
		pl.status.enqueueQueue(name)
	}
	// A standby replica deletes nothing; the Manager asks again later.
	if active {
		for _, d := range acts.Delete {
			pl.deletions.Add(d)
		}
	}
}

// withTypeMeta returns obj with its apiVersion and kind set, which the
// event recorder needs to refer to a PodGroup read from an informer.
func withTypeMeta(obj runtime.Object) runtime.Object {
	switch o := obj.(type) {
	case *schedv1alpha1.PodGroup:
		if o.Kind == "" {
			o = o.DeepCopy()
			o.APIVersion, o.Kind = schedv1alpha1.SchemeGroupVersion.String(), "PodGroup"
		}
		return o
	case *schedv1beta1.PodGroup:
		if o.Kind == "" {
			o = o.DeepCopy()
			o.APIVersion, o.Kind = schedv1beta1.SchemeGroupVersion.String(), "PodGroup"
		}
		return o
	case *v1alpha1.Queue:
		if o.Kind == "" {
			o = o.DeepCopy()
			o.APIVersion, o.Kind = v1alpha1.SchemeGroupVersion.String(), "Queue"
		}
		return o
	}
	return obj
}
