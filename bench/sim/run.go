package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
	pgclientset "sigs.k8s.io/scheduler-plugins/pkg/generated/clientset/versioned"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// Options tune a run.
type Options struct {
	// Namespace the apps run in; it must exist.
	Namespace string
	// SchedulerName the pods ask for.
	SchedulerName string
	// Stall ends the run when, after every app arrived, nothing was bound,
	// started or finished for this long: the remaining apps are deadlocked.
	Stall time.Duration
	// Timeout ends the run in any case.
	Timeout time.Duration
	// Progress, if set, receives a line every ProgressEvery.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Label prefixes progress lines.
	Label string
	// KubeletByKwok leaves starting bound pods to kwok (see Kwok); the
	// simulator then only plays the Spark drivers and ends the apps' pods.
	KubeletByKwok bool
	// DeleteFinished deletes a finished app's pods and PodGroup, and a
	// finished plain pod, as a Spark Operator with a TTL does: what a soak
	// needs to see the scheduler forget them.
	DeleteFinished bool
	// Resubmit, if set, resubmits an app whose driver was deleted before it
	// finished (it was preempted) this long after its pods are gone, as
	// Spark Operator does for restartPolicy OnFailure
	// (onFailureRetryInterval). Zero leaves preempted apps be.
	Resubmit time.Duration
}

// plainState is what the simulator knows of one plain pod.
type plainState struct {
	plain            *Plain
	submitted, bound time.Time
	ending           bool
}

// appState is what the simulator knows of one app.
type appState struct {
	app       *App
	submitted time.Time
	// driverBound, started (all executors running) and done are zero until they happen.
	driverBound, started, done time.Time
	// preempted is when its driver was deleted before it finished: the
	// scheduler preempted it. Resubmitting clears it.
	preempted time.Time
	creating  bool
	// finishing is set once its work is done and its pods are being ended.
	finishing bool
	// attempt counts its submissions after the first; what an earlier
	// attempt started stops when it sees a newer one. resubmitted counts
	// the resubmissions after preemption.
	attempt, resubmitted int
	// lastExec is the highest executor id the current attempt created:
	// a lost executor is replaced by one with the next id, as Spark does.
	lastExec int
}

// current reports whether attempt is the app's attempt and still runs:
// not preempted, not finishing. Call it under the Simulator's lock.
func (st *appState) current(attempt int) bool {
	return st.attempt == attempt && st.preempted.IsZero() && !st.finishing && st.done.IsZero()
}

// Simulator runs a workload against an API server.
type Simulator struct {
	client kubernetes.Interface
	pgs    pgclientset.Interface
	opts   Options
	// ctx is the run's context, for work started by informer handlers.
	ctx context.Context

	lister corelisters.PodLister
	queue  workqueue.TypedRateLimitingInterface[string]

	mu    sync.Mutex
	apps  map[string]*appState
	plain map[string]*plainState
	// queueCPU accumulates, per queue, the CPU-seconds its apps' pods held
	// while every queue had apps waiting after the last submission;
	// queueWindow is how long that was.
	queueCPU    map[string]float64
	queueWindow time.Duration
	// bound holds the pods seen with a node.
	bound      map[types.UID]bool
	lastChange time.Time
	samples    []Sample
}

// Sample is the cluster's state at one moment of a run.
type Sample struct {
	At time.Duration
	// BoundCPU is the CPU (millicores) requested by pods on nodes; HeldCPU
	// the part held by apps that are not running whole.
	BoundCPU, HeldCPU int64
	// Done counts finished apps, Partial apps with a bound driver that do
	// not have all their executors running, Preempted apps whose driver the
	// scheduler deleted.
	Done, Partial, Preempted int
	// PlainCPU is the part of BoundCPU that plain pods request.
	PlainCPU int64
}

// New prepares a simulator for the given clients.
func New(client kubernetes.Interface, pgs pgclientset.Interface, opts Options) *Simulator {
	if opts.Stall == 0 {
		opts.Stall = 20 * time.Second
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Minute
	}
	if opts.ProgressEvery == 0 {
		opts.ProgressEvery = 5 * time.Second
	}
	return &Simulator{
		client: client, pgs: pgs, opts: opts,
		queue:    workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		apps:     map[string]*appState{},
		plain:    map[string]*plainState{},
		bound:    map[types.UID]bool{},
		queueCPU: map[string]float64{},
	}
}

// Run submits the workload's apps at their arrival times, plays kubelet and
// drivers, and returns what happened. It ends when every app finished, when
// nothing moved for Options.Stall after the last arrival, or at the timeout.
func (s *Simulator) Run(ctx context.Context, wl Workload) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx = ctx
	factory := informers.NewSharedInformerFactoryWithOptions(s.client, 0, informers.WithNamespace(s.opts.Namespace))
	podInformer := factory.Core().V1().Pods()
	s.lister = podInformer.Lister()
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { s.enqueue(obj) },
		UpdateFunc: func(_, obj interface{}) { s.enqueue(obj) },
		DeleteFunc: s.deleted,
	}); err != nil {
		return nil, err
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	defer s.queue.ShutDown()
	for i := 0; i < 4; i++ {
		go s.work(ctx)
	}

	start := time.Now()
	s.mu.Lock()
	s.lastChange = start
	for i := range wl.Apps {
		a := &wl.Apps[i]
		s.apps[a.Name] = &appState{app: a}
	}
	for i := range wl.Plain {
		s.plain[wl.Plain[i].Name] = &plainState{plain: &wl.Plain[i]}
	}
	s.mu.Unlock()
	go s.submit(ctx, start, wl)
	go s.submitPlain(ctx, start, wl)
	lastArrival := wl.Apps[len(wl.Apps)-1].Arrival

	sampleTick := time.NewTicker(500 * time.Millisecond)
	defer sampleTick.Stop()
	nextProgress := start.Add(s.opts.ProgressEvery)
	outcome := "all apps finished"
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case now := <-sampleTick.C:
			smp := s.sample(now.Sub(start), wl.Queues)
			if s.opts.Progress != nil && now.After(nextProgress) {
				nextProgress = now.Add(s.opts.ProgressEvery)
				fmt.Fprintf(s.opts.Progress, "  %-9s t=%3.0fs  apps done %2d/%d  partially placed %2d  CPU bound %5.1f, held by partial apps %5.1f\n",
					s.opts.Label, smp.At.Seconds(), smp.Done, len(wl.Apps), smp.Partial, float64(smp.BoundCPU)/1000, float64(smp.HeldCPU)/1000)
			}
			if smp.Done+smp.Preempted == len(wl.Apps) && (smp.Preempted == 0 || s.opts.Resubmit == 0) {
				if smp.Preempted > 0 {
					outcome = "all apps finished or were preempted"
				}
				return s.result(wl, start, now, outcome), nil
			}
			s.mu.Lock()
			idle := now.Sub(s.lastChange)
			s.mu.Unlock()
			if now.Sub(start) > lastArrival && idle > s.opts.Stall {
				outcome = fmt.Sprintf("stalled: nothing moved for %s", s.opts.Stall)
				return s.result(wl, start, now, outcome), nil
			}
			if now.Sub(start) > s.opts.Timeout {
				outcome = fmt.Sprintf("timed out after %s", s.opts.Timeout)
				return s.result(wl, start, now, outcome), nil
			}
		}
	}
}

// Started reports whether app's current attempt has started its work: its
// gang's executors all ran (while its pods are ending, or after it was
// preempted, too). Before, its gang may still hold room for members to
// come. It may be called while Run runs.
func (s *Simulator) Started(app string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.apps[app]
	return st != nil && (!st.started.IsZero() || !st.current(st.attempt))
}

// submit creates each app's driver (and PodGroup) at its arrival time.
func (s *Simulator) submit(ctx context.Context, start time.Time, wl Workload) {
	for i := range wl.Apps {
		a := &wl.Apps[i]
		if d := time.Until(start.Add(a.Arrival)); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		if a.PodGroup {
			pg := &schedv1alpha1.PodGroup{
				ObjectMeta: metav1.ObjectMeta{Name: a.Name + "-pg", Namespace: s.opts.Namespace, Labels: map[string]string{}},
				Spec:       schedv1alpha1.PodGroupSpec{MinMember: 1, MinResources: a.gangTotal().ToResourceList()},
			}
			delete(pg.Spec.MinResources, resources.Pods)
			if a.Queue != "" {
				pg.Labels[v1alpha1.QueueLabel] = a.Queue
			}
			if err := s.create(ctx, "PodGroup "+pg.Name, func() error {
				_, err := s.pgs.SchedulingV1alpha1().PodGroups(s.opts.Namespace).Create(ctx, pg, metav1.CreateOptions{})
				return err
			}); err != nil {
				continue
			}
		}
		s.mu.Lock()
		s.apps[a.Name].submitted = time.Now()
		s.mu.Unlock()
		s.createDriver(ctx, a)
	}
}

func (s *Simulator) createDriver(ctx context.Context, a *App) {
	driver := a.driverPod(s.opts.SchedulerName)
	driver.Namespace = s.opts.Namespace
	driver.UID = ""
	_ = s.createPod(ctx, "driver", driver)
}

// createPod creates pod (see create); what names its role in the error
// printed if it cannot be created.
func (s *Simulator) createPod(ctx context.Context, what string, pod *v1.Pod) error {
	return s.create(ctx, what+" "+pod.Name, func() error {
		_, err := s.client.CoreV1().Pods(s.opts.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		return err
	})
}

// create makes call until it succeeds, the object turns out to exist (a
// create the API server applied but whose answer was lost), it fails for a
// reason that does not pass (invalid, forbidden), or ctx ends; failures
// are printed. So an API server restarting or browning out delays an
// app's pods and never loses them: Spark's executor allocator asks again
// for the executors it lacks at each batch, and Spark Operator submits
// again an app whose submission failed.
func (s *Simulator) create(ctx context.Context, what string, call func() error) error {
	backoff := wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Cap: 2 * time.Second, Steps: math.MaxInt32}
	for {
		err := call()
		switch {
		case err == nil || apierrors.IsAlreadyExists(err):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) || apierrors.IsNotFound(err):
			fmt.Fprintf(s.progressOut(), "creating %s: %v\n", what, err)
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff.Step()):
		}
	}
}

// deleted notes an app whose driver was deleted before it finished, and
// has a running app replace an executor it lost.
func (s *Simulator) deleted(obj interface{}) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	if pod.Labels[podgroup.LabelSparkRole] == podgroup.SparkRoleExecutor {
		// Spark's allocator sees the loss and asks for a new executor
		// with its next batch, a second later.
		time.AfterFunc(time.Second, func() { s.replaceExecutor(s.ctx, pod) })
		return
	}
	if !podgroup.IsSparkDriver(pod) {
		return
	}
	if cur, err := s.lister.Pods(pod.Namespace).Get(pod.Name); err == nil && cur.UID != pod.UID {
		return // an earlier attempt's driver, seen gone after the app was resubmitted
	}
	var gone *appState
	var attempt int
	s.touch(func() {
		if st := s.apps[pod.Labels["spark-app-name"]]; st != nil && st.current(st.attempt) {
			st.preempted = time.Now()
			gone, attempt = st, st.attempt
		}
	})
	switch {
	case gone == nil:
	case s.opts.Resubmit > 0:
		go s.resubmit(s.ctx, gone, attempt)
	case s.opts.DeleteFinished:
		// The app failed: clean it up as an operator's TTL would.
		go func() {
			pods, _ := s.lister.Pods(s.opts.Namespace).List(labels.SelectorFromSet(labels.Set{"spark-app-name": gone.app.Name}))
			s.deleteApp(s.ctx, gone.app, pods)
		}()
	}
}

// resubmit plays Spark Operator's restartPolicy OnFailure for an app whose
// driver was deleted before it finished: the app's other pods go (their
// owner is gone), and Options.Resubmit later a new driver is created. The
// app keeps its PodGroup and its first submission time.
func (s *Simulator) resubmit(ctx context.Context, st *appState, attempt int) {
	sel := labels.SelectorFromSet(labels.Set{"spark-app-name": st.app.Name})
	for {
		pods, _ := s.lister.Pods(s.opts.Namespace).List(sel)
		if len(pods) == 0 {
			break
		}
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				s.deletePod(ctx, p)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(s.opts.Resubmit):
	}
	s.mu.Lock()
	if st.attempt != attempt {
		s.mu.Unlock()
		return
	}
	st.attempt++
	st.resubmitted++
	st.driverBound, st.started, st.preempted = time.Time{}, time.Time{}, time.Time{}
	st.creating, st.lastExec = false, 0
	s.lastChange = time.Now()
	s.mu.Unlock()
	fmt.Fprintf(s.progressOut(), "  %-9s resubmitting %s (attempt %d): its driver was deleted before it finished\n", s.opts.Label, st.app.Name, attempt+2)
	s.createDriver(ctx, st.app)
}

// replaceExecutor creates a new executor for one that was deleted while its
// driver runs and its app is neither finishing nor preempted.
func (s *Simulator) replaceExecutor(ctx context.Context, lost *v1.Pod) {
	owner := metav1.GetControllerOf(lost)
	if owner == nil || lost.Status.Phase == v1.PodSucceeded {
		return
	}
	driver, err := s.lister.Pods(lost.Namespace).Get(owner.Name)
	if err != nil || driver.UID != owner.UID || driver.DeletionTimestamp != nil {
		return
	}
	st := s.apps[lost.Labels["spark-app-name"]]
	if st == nil {
		return
	}
	s.mu.Lock()
	attempt := st.attempt
	s.mu.Unlock()
	s.addExecutor(ctx, st, attempt, driver)
}

// submitPlain creates each plain pod at its arrival time.
func (s *Simulator) submitPlain(ctx context.Context, start time.Time, wl Workload) {
	for i := range wl.Plain {
		p := &wl.Plain[i]
		if d := time.Until(start.Add(p.Arrival)); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		pod := w.MakePod(s.opts.Namespace, p.Name).Scheduler(s.opts.SchedulerName).Label(LabelPlain, "true").Obj()
		pod.UID = ""
		pod.Spec.Containers[0].Resources.Requests = p.Requests.DeepCopy()
		s.mu.Lock()
		s.plain[p.Name].submitted = time.Now()
		s.mu.Unlock()
		_ = s.createPod(ctx, "pod", pod)
	}
}

// LabelPlain marks the plain pods of a workload.
const LabelPlain = "bench.gangsched.io/plain"

func (s *Simulator) progressOut() io.Writer {
	if s.opts.Progress != nil {
		return s.opts.Progress
	}
	return io.Discard
}

func (s *Simulator) enqueue(obj interface{}) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		s.queue.Add(key)
	}
}

func (s *Simulator) work(ctx context.Context) {
	for {
		key, quit := s.queue.Get()
		if quit {
			return
		}
		if err := s.handle(ctx, key); err != nil && ctx.Err() == nil {
			s.queue.AddRateLimited(key)
		} else {
			s.queue.Forget(key)
		}
		s.queue.Done(key)
	}
}

// handle plays kubelet and driver for one pod: a bound pod starts running;
// a running driver creates its executors; an app whose executors all run
// starts its work.
func (s *Simulator) handle(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	pod, err := s.lister.Pods(ns).Get(name)
	if err != nil {
		return nil
	}
	if pod.DeletionTimestamp != nil && pod.Spec.NodeName != "" && !s.opts.KubeletByKwok {
		// As a kubelet does, stop a pod deleted with a grace period and
		// then delete it for good (kwok does the same when it runs).
		zero := int64(0)
		err := s.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if pod.Labels[LabelPlain] != "" {
		return s.handlePlain(ctx, pod)
	}
	app := pod.Labels["spark-app-name"]
	if pod.Spec.NodeName != "" && (pod.Status.Phase == v1.PodPending || s.opts.KubeletByKwok) {
		s.touch(func() {
			s.bound[pod.UID] = true
			if st := s.apps[app]; st != nil && podgroup.IsSparkDriver(pod) && st.driverBound.IsZero() {
				st.driverBound = time.Now()
			}
		})
		if pod.Status.Phase == v1.PodPending {
			if s.opts.KubeletByKwok {
				return nil // kwok starts it
			}
			return s.setPhase(ctx, pod, v1.PodRunning)
		}
	}
	if pod.Status.Phase != v1.PodRunning {
		return nil
	}
	s.mu.Lock()
	st := s.apps[app]
	if st == nil {
		s.mu.Unlock()
		return nil
	}
	if podgroup.IsSparkDriver(pod) && !st.creating {
		st.creating = true
		attempt := st.attempt
		s.mu.Unlock()
		go s.createExecutors(ctx, st, attempt, pod)
		return nil
	}
	s.mu.Unlock()
	if !podgroup.IsSparkDriver(pod) {
		s.maybeStart(ctx, st)
	}
	return nil
}

// handlePlain plays kubelet for a plain pod: it runs for its time once
// bound, then succeeds.
func (s *Simulator) handlePlain(ctx context.Context, pod *v1.Pod) error {
	s.mu.Lock()
	st := s.plain[pod.Name]
	if st == nil || pod.Spec.NodeName == "" {
		s.mu.Unlock()
		return nil
	}
	if st.bound.IsZero() {
		st.bound = time.Now()
		s.bound[pod.UID] = true
	}
	start := pod.Status.Phase == v1.PodRunning && !st.ending
	if start {
		st.ending = true
	}
	s.mu.Unlock()
	if pod.Status.Phase == v1.PodPending && !s.opts.KubeletByKwok {
		return s.setPhase(ctx, pod, v1.PodRunning)
	}
	if start {
		go func() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(st.plain.Run):
			}
			for ctx.Err() == nil {
				fresh, err := s.lister.Pods(pod.Namespace).Get(pod.Name)
				if err != nil {
					return
				}
				if s.setPhase(ctx, fresh, v1.PodSucceeded) == nil {
					if s.opts.DeleteFinished {
						s.deletePod(ctx, fresh)
					}
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	return nil
}

// createExecutors creates the app's executors in batches of 5 a second,
// until they are all created or the attempt ends. Executor ids come from
// one counter with the replacements' (see replaceExecutor).
func (s *Simulator) createExecutors(ctx context.Context, st *appState, attempt int, driver *v1.Pod) {
	for n := 1; n <= st.app.Executors; n++ {
		if !s.addExecutor(ctx, st, attempt, driver) {
			return
		}
		if n%5 == 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// addExecutor creates the app's next executor, unless attempt has ended.
func (s *Simulator) addExecutor(ctx context.Context, st *appState, attempt int, driver *v1.Pod) bool {
	s.mu.Lock()
	if !st.current(attempt) {
		s.mu.Unlock()
		return false
	}
	st.lastExec++
	id := st.lastExec
	s.mu.Unlock()
	ex := st.app.executorPod(s.opts.SchedulerName, id, driver)
	ex.Namespace = s.opts.Namespace
	ex.UID = ""
	_ = s.createPod(ctx, "executor", ex)
	return true
}

// runningExecutors counts the app's executors that run.
func (s *Simulator) runningExecutors(a *App) int {
	pods, err := s.lister.Pods(s.opts.Namespace).List(labels.SelectorFromSet(labels.Set{"spark-app-name": a.Name, podgroup.LabelSparkRole: podgroup.SparkRoleExecutor}))
	if err != nil {
		return 0
	}
	running := 0
	for _, p := range pods {
		if p.Status.Phase == v1.PodRunning && p.DeletionTimestamp == nil {
			running++
		}
	}
	return running
}

// worked waits until the app's work is done: Work for a fixed gang; for an
// elastic app, Work x Executors executor-seconds at the pace of the
// executors it has, sampled each second. It returns false if ctx ends or
// the attempt does.
func (s *Simulator) worked(ctx context.Context, st *appState, attempt int) bool {
	if st.app.MinExecutors == 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(st.app.Work):
			return true
		}
	}
	need := st.app.Work.Seconds() * float64(st.app.Executors)
	last := time.Now()
	for done := 0.0; done < need; {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
		s.mu.Lock()
		current := st.current(attempt)
		s.mu.Unlock()
		if !current {
			return false // preempted while it worked
		}
		now := time.Now()
		done += float64(s.runningExecutors(st.app)) * now.Sub(last).Seconds()
		last = now
	}
	return true
}

// maybeStart starts the app's work once its gang's executors run (all of
// them, for a fixed gang), and ends the app when the work is done.
func (s *Simulator) maybeStart(ctx context.Context, st *appState) {
	running := s.runningExecutors(st.app)
	s.mu.Lock()
	if running < st.app.gang() || !st.started.IsZero() || !st.current(st.attempt) {
		s.mu.Unlock()
		return
	}
	st.started = time.Now()
	s.lastChange = st.started
	attempt := st.attempt
	s.mu.Unlock()
	go func() {
		if !s.worked(ctx, st, attempt) {
			return
		}
		s.mu.Lock()
		ok := st.current(attempt)
		st.finishing = ok
		s.mu.Unlock()
		if !ok {
			return // preempted while it worked
		}
		all, _ := s.lister.Pods(s.opts.Namespace).List(labels.SelectorFromSet(labels.Set{"spark-app-name": st.app.Name}))
		sort.Slice(all, func(i, j int) bool { return !podgroup.IsSparkDriver(all[i]) && podgroup.IsSparkDriver(all[j]) })
		for _, p := range all { // executors first, the driver last
			for ctx.Err() == nil && s.setPhase(ctx, p, v1.PodSucceeded) != nil {
				time.Sleep(100 * time.Millisecond)
				fresh, err := s.lister.Pods(p.Namespace).Get(p.Name)
				if err != nil || fresh.UID != p.UID {
					break // deleted meanwhile (preempted as its work ended): nothing to end
				}
				p = fresh
			}
			if !podgroup.IsSparkDriver(p) {
				// Spark deletes its executors when the app ends
				// (spark.kubernetes.executor.deleteOnTermination).
				s.deletePod(ctx, p)
			}
		}
		s.touch(func() { st.done = time.Now() })
		if s.opts.DeleteFinished {
			s.deleteApp(ctx, st.app, all)
		}
	}()
}

// deleteApp deletes a finished app's pods and PodGroup.
func (s *Simulator) deleteApp(ctx context.Context, a *App, pods []*v1.Pod) {
	for _, p := range pods {
		s.deletePod(ctx, p)
	}
	if a.PodGroup {
		_ = s.pgs.SchedulingV1alpha1().PodGroups(s.opts.Namespace).Delete(ctx, a.Name+"-pg", metav1.DeleteOptions{})
	}
}

func (s *Simulator) deletePod(ctx context.Context, p *v1.Pod) {
	zero := int64(0)
	_ = s.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
}

func (s *Simulator) setPhase(ctx context.Context, pod *v1.Pod, phase v1.PodPhase) error {
	p := pod.DeepCopy()
	p.Status.Phase = phase
	now := metav1.Now()
	if phase == v1.PodRunning {
		p.Status.StartTime = &now
	}
	_, err := s.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	return err
}

// touch runs f under the lock and notes that something moved.
func (s *Simulator) touch(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	s.lastChange = time.Now()
}

// sample records the cluster's state, and adds to the queues' CPU-seconds
// when every app has been submitted and every queue still has apps waiting:
// then each queue asks for more than it gets, and its part of the CPU bound
// is what the scheduler chose to give it. (Reserved room bound to no pod
// counts for no queue.)
func (s *Simulator) sample(at time.Duration, queues []Queue) Sample {
	pods, _ := s.lister.Pods(s.opts.Namespace).List(labels.Everything())
	s.mu.Lock()
	defer s.mu.Unlock()
	smp := Sample{At: at}
	partial := map[string]bool{}
	waiting := map[string]bool{}
	allSubmitted := true
	for name, st := range s.apps {
		allSubmitted = allSubmitted && !st.submitted.IsZero()
		switch {
		case !st.done.IsZero():
			smp.Done++
		case !st.preempted.IsZero():
			smp.Preempted++
		case !st.driverBound.IsZero() && st.started.IsZero():
			smp.Partial++
			partial[name] = true
		}
		if !st.submitted.IsZero() && st.started.IsZero() && st.preempted.IsZero() {
			waiting[st.app.Queue] = true
		}
	}
	queueCPU := map[string]int64{}
	for _, p := range pods {
		if p.Spec.NodeName == "" || p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed {
			continue
		}
		cpu := resources.PodRequests(p)[v1.ResourceCPU]
		smp.BoundCPU += cpu
		if p.Labels[LabelPlain] != "" {
			smp.PlainCPU += cpu
		}
		if partial[p.Labels["spark-app-name"]] {
			smp.HeldCPU += cpu
		}
		if st := s.apps[p.Labels["spark-app-name"]]; st != nil {
			queueCPU[st.app.Queue] += cpu
		}
	}
	if n := len(s.samples); n > 0 && len(queues) > 1 {
		contended := allSubmitted
		for _, q := range queues {
			contended = contended && waiting[q.Name]
		}
		if contended {
			step := at - s.samples[n-1].At
			s.queueWindow += step
			for q, cpu := range queueCPU {
				s.queueCPU[q] += float64(cpu) / 1000 * step.Seconds()
			}
		}
	}
	s.samples = append(s.samples, smp)
	return smp
}
