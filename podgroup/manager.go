package podgroup

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/metrics"
	"github.com/gangsched/gangsched/queue"
	"github.com/gangsched/gangsched/resources"
)

// Config tunes a Manager.
type Config struct {
	// PermitTimeout is how long placed members of an admitted group wait for
	// the rest of MinMember before the whole group is released. A PodGroup's
	// scheduleTimeoutSeconds overrides it.
	PermitTimeout time.Duration
	// ReservationTimeout is how long room for members not yet created stays
	// reserved after the group reached MinMember.
	ReservationTimeout time.Duration
	// RetryBackoff is the first wait before a released group is admitted
	// again; it doubles with each release in a row, up to MaxRetryBackoff.
	RetryBackoff, MaxRetryBackoff time.Duration
	// StarvationThreshold is how long a group may wait before nodes are
	// reserved for it as they drain; 0 never.
	StarvationThreshold time.Duration
	// DrainRetry is how often a starving group with no drain yet is tried
	// again (default 5 s).
	DrainRetry time.Duration
	// VictimsTimeout is how long the pods a group preempted get to exit
	// before it gives up the room it claimed (default 5 min).
	VictimsTimeout time.Duration
	// MaxAdmitAhead bounds how many groups ahead of it one group's cycle
	// admits (default 8).
	MaxAdmitAhead int
}

// withDefaults fills in the fields left zero that have a default.
func (c Config) withDefaults() Config {
	if c.DrainRetry <= 0 {
		c.DrainRetry = 5 * time.Second
	}
	if c.VictimsTimeout <= 0 {
		c.VictimsTimeout = 5 * time.Minute
	}
	if c.MaxAdmitAhead <= 0 {
		c.MaxAdmitAhead = 8
	}
	return c
}

// Manager is the single source of truth for pod groups: members, phases,
// admission plans and reservations. It is fed by informers and asked by the
// plugins; every method is safe for concurrent use.
type Manager struct {
	cfg   Config
	clock clock.PassiveClock

	mu     sync.RWMutex
	groups map[Key]*Group
	// reserving holds the groups with reserved room, for the fast path of
	// pods that cannot be affected by any reservation.
	reserving map[Key]*Group
	// reservedOn is the room all groups reserve on each node, the sum of
	// their reserved room kept as it changes, so that Filter reads what
	// other groups hold on a node without summing the groups.
	reservedOn map[string]resources.List
	// generation counts changes of reservations and membership that can
	// give room back; with the nodes' version it tells whether a failed
	// admission is worth planning again.
	generation uint64
	// blocked holds pods that reservations kept off a node, to activate when
	// reserved room is freed.
	blocked map[types.UID]*v1.Pod
	// heldBack lists the running groups with members beyond the gang held
	// back by their queue's max or fair share, to try again as the queues
	// change (retryHeldBackLocked).
	heldBack map[Key]struct{}
	// gateNoticed holds the pods already told they wait for members.
	gateNoticed map[types.UID]struct{}
	// deletedPods holds the members the informer saw deleted, with when,
	// for deletedPodsMemory, so that a scheduling cycle's stale copy does
	// not bring one back.
	deletedPods map[types.UID]time.Time
	// retry holds released groups with when they may be admitted again.
	retry map[Key]retryState
	// podGroupAPI is whether the PodGroup CRD is served; schedulingAPI
	// whether scheduling.k8s.io/v1beta1 PodGroups are.
	podGroupAPI, schedulingAPI bool
	// quotas answers for the namespaces' ResourceQuotas (nil: none checked).
	quotas Quotas
	// usage is what the queues hold and wait for, summed over the groups'
	// tallies.
	usage *usage
	// waitingGroups are the groups their tallies count as waiting (pending,
	// with members): the only ones an admission may go ahead of, found
	// without a walk over every group the Manager knows.
	waitingGroups map[Key]*Group

	// tree is the queue hierarchy; queueObjs the Queue objects it was built
	// from, and queueEvents the last Event recorded on each.
	tree        *queue.Tree
	queueObjs   map[queue.Name]*v1alpha1.Queue
	queueEvents map[queue.Name]string
	// nodeAllocatable holds each node's allocatable resources; capacity is
	// their sum, nil until computed again.
	nodeAllocatable map[string]resources.List
	capacity        resources.List
	// drainer is the group holding a drain reservation, if any.
	drainer *Group
	// restorePending is set while some group has a restoreUntil or
	// lostNodes.
	restorePending bool
	// deletedNodes are nodes deleted since last seen, which a scheduling
	// cycle's snapshot may still hold.
	deletedNodes map[string]struct{}
	// disturbed are nodes where reserved room may be gone since the last
	// cycle, with the cause (see checkDisturbedLocked); closedNodes the
	// nodes cordoned now, which the queues' capacity leaves out.
	disturbed   map[string]string
	closedNodes map[string]bool
	// nodeTaints holds each node's NoSchedule/NoExecute taints, rendered.
	nodeTaints map[string]string
	// victimOf maps each preemption victim to the group it makes room for.
	victimOf map[types.UID]Key
	// foreign are the pods on nodes that this scheduler does not place,
	// and foreignUse what they use on each node.
	foreign    map[types.UID]foreignPod
	foreignUse map[string]resources.List
	// orders holds each group's published queueOrder, by Key (read
	// without the lock).
	orders sync.Map
	// planOrder is the order of best fit the last admission plan found
	// the nodes in, where the next one starts sorting from.
	planOrder []int32
}

// deletedPodsMemory is how long a deleted member is remembered: longer
// than any scheduling cycle that may still hold a copy of it.
const deletedPodsMemory = 5 * time.Minute

type retryState struct {
	at       time.Time
	releases int
	// reason is why the group was last released.
	reason string
}

// NewManager returns an empty Manager.
func NewManager(cfg Config, clk clock.PassiveClock) *Manager {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Manager{
		cfg:           cfg.withDefaults(),
		clock:         clk,
		groups:        map[Key]*Group{},
		usage:         newUsage(),
		waitingGroups: map[Key]*Group{},
		reserving:     map[Key]*Group{},
		reservedOn:    map[string]resources.List{},
		blocked:       map[types.UID]*v1.Pod{},
		heldBack:      map[Key]struct{}{},
		gateNoticed:   map[types.UID]struct{}{},
		deletedPods:   map[types.UID]time.Time{},
		retry:         map[Key]retryState{},
		podGroupAPI:   true, schedulingAPI: true,

		tree:            queue.Build(nil),
		queueObjs:       map[queue.Name]*v1alpha1.Queue{},
		queueEvents:     map[queue.Name]string{},
		nodeAllocatable: map[string]resources.List{},
		deletedNodes:    map[string]struct{}{},
		disturbed:       map[string]string{},
		closedNodes:     map[string]bool{},
		nodeTaints:      map[string]string{},
		foreign:         map[types.UID]foreignPod{},
		victimOf:        map[types.UID]Key{},
		foreignUse:      map[string]resources.List{},
	}
}

// Phases lists every phase of a group, in order.
var Phases = []Phase{PhasePending, PhaseAdmitted, PhaseRunning, PhaseFinished, PhaseFailed}

// GroupsByPhase counts the groups the Manager tracks, by phase.
func (m *Manager) GroupsByPhase() map[Phase]int {
	m.mu.Lock()
	defer m.unlock()
	counts := make(map[Phase]int, len(Phases))
	for _, g := range m.groups {
		counts[g.phase]++
	}
	return counts
}

// groupLocked returns the group of key, creating it if needed.
func (m *Manager) groupLocked(key Key) *Group {
	g := m.groups[key]
	if g == nil {
		g = &Group{key: key, members: map[types.UID]*member{}, phase: PhasePending, spec: Spec{MinMember: 1}, pendingSince: m.clock.Now()}
		m.groups[key] = g
		m.countLocked(g)
	}
	return g
}

// stateOf derives a member's state from its pod; an assumed member stays
// assumed until the pod shows a node or ends.
func stateOf(pod *v1.Pod, prev memberState) memberState {
	switch {
	case pod.DeletionTimestamp != nil, pod.Status.Phase == v1.PodSucceeded, pod.Status.Phase == v1.PodFailed:
		return memberDone
	case pod.Spec.NodeName != "":
		return memberBound
	case prev == memberAssumed:
		return memberAssumed
	}
	return memberPending
}

// UpsertPod records a new or changed pod.
func (m *Manager) UpsertPod(pod *v1.Pod) Actions {
	m.mu.Lock()
	defer m.unlock()
	var acts Actions
	key, ok := KeyOf(pod)
	if !ok {
		if pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil {
			delete(m.blocked, pod.UID)
		}
		return acts
	}
	g := m.groupLocked(key)
	m.upsertMemberLocked(g, pod, &acts)
	return acts
}

func (m *Manager) upsertMemberLocked(g *Group, pod *v1.Pod, acts *Actions) {
	recount := true
	defer func() {
		if recount {
			m.countLocked(g)
		}
	}()
	mb := g.members[pod.UID]
	if mb == nil {
		mb = &member{state: memberPending}
		g.members[pod.UID] = mb
		g.failure = nil
		defer m.activateIfCompleteLocked(g, acts)
	}
	phaseChanged := mb.pod != nil && mb.pod.Status.Phase != pod.Status.Phase
	added := mb.pod == nil
	mb.pod = pod
	requests := resources.PodRequests(pod)
	// A driver declares its gang (spec), and is one pod per app.
	same := !added && !phaseChanged && requests.Equal(mb.requests) && !IsSparkDriver(pod)
	mb.requests = requests
	if added {
		m.checkMemberSizeLocked(g, mb, acts)
	}
	if IsSparkDriver(pod) {
		changed := g.driver == nil || !annotationsEqual(g.driver, pod)
		g.driver = pod
		m.changedLocked(g)
		if g.podGroup == nil {
			m.noteReservedUntilLocked(g, pod.Annotations)
		}
		if changed && g.key.Kind == KindSparkApp {
			g.spec = SpecFromSparkDriver(pod)
			g.failure = nil
			if !g.spec.Valid() {
				m.eventLocked(g, acts, v1.EventTypeWarning, ReasonInvalid, g.invalidMessage())
			}
		}
	} else if _, declares := pod.Annotations[AnnotationExecutors]; declares && g.key.Kind == KindSparkApp &&
		g.driver == nil && (g.declarer == nil || !annotationsEqual(g.declarer, pod)) {
		// Client mode: no driver pod, the executors declare the gang.
		same = false // the spec changes what the group waits for
		g.declarer = pod
		g.spec = SpecFromSparkExecutor(pod)
		g.failure = nil
		if !g.spec.Valid() {
			m.eventLocked(g, acts, v1.EventTypeWarning, ReasonInvalid, g.invalidMessage())
		}
	}
	prev := mb.state
	mb.state = stateOf(pod, prev)
	// An update that changes none of what the group counts toward the
	// queues (the member's state, phase and requests, and the spec a
	// driver or declaring executor gives) need not count the group again,
	// which sums all its members: most updates are a running executor's
	// status.
	recount = !same || prev != mb.state
	if prev != mb.state || phaseChanged {
		acts.Statuses = append(acts.Statuses, g.key)
	}
	// A group found with members on nodes (after a restart, or bound by
	// someone else) is running whole, or bound half way.
	if mb.state == memberBound {
		m.observeBoundLocked(g)
	}
	if mb.state == memberDone && prev != memberDone {
		delete(m.gateNoticed, pod.UID)
		if pod.DeletionTimestamp == nil {
			m.victimGoneLocked(pod.UID, acts)
		} else {
			if prev == memberAssumed {
				m.giveBackLocked(g, mb)
			}
			m.memberDeletedLocked(g, pod, prev, acts)
		}
		if prev != memberPending {
			m.generation++
		}
		m.settleLocked(g, acts)
	}
}

// activateIfCompleteLocked activates a pending group's members when the
// newest one brought it to MinMember: kube-scheduler does not requeue other
// pods when an unscheduled pod is added (unless its GenericWorkload feature
// is on), so members held by Gate would wait for the periodic flush.
func (m *Manager) activateIfCompleteLocked(g *Group, acts *Actions) {
	if g.phase != PhasePending || g.podGroup == nil || !g.spec.Valid() {
		return
	}
	if live, _ := g.counts(); int32(live) != g.spec.MinMember {
		return
	}
	acts.Activate = append(acts.Activate, g.pendingPods()...)
}

func annotationsEqual(a, b *v1.Pod) bool {
	return a.Annotations[AnnotationExecutors] == b.Annotations[AnnotationExecutors] &&
		a.Annotations[AnnotationExecutorRequests] == b.Annotations[AnnotationExecutorRequests] &&
		a.Annotations[AnnotationExecutorTemplate] == b.Annotations[AnnotationExecutorTemplate]
}

// DeletePod forgets a pod.
func (m *Manager) DeletePod(pod *v1.Pod) Actions {
	m.mu.Lock()
	defer m.unlock()
	var acts Actions
	m.victimGoneLocked(pod.UID, &acts)
	delete(m.blocked, pod.UID)
	delete(m.gateNoticed, pod.UID)
	key, ok := KeyOf(pod)
	if !ok {
		return acts
	}
	m.deletedPods[pod.UID] = m.clock.Now()
	g := m.groups[key]
	if g == nil {
		return acts
	}
	defer m.countLocked(g)
	if mb := g.members[pod.UID]; mb != nil {
		if mb.state != memberPending {
			m.generation++
		}
		if mb.state == memberAssumed {
			m.giveBackLocked(g, mb)
		}
		delete(g.members, pod.UID)
		delete(g.planned, pod.UID)
		m.memberDeletedLocked(g, pod, mb.state, &acts)
	}
	if g.driver != nil && g.driver.UID == pod.UID {
		g.driver = nil
		m.changedLocked(g)
	}
	acts.Statuses = append(acts.Statuses, key)
	m.settleLocked(g, &acts)
	return acts
}

// settleLocked moves a group whose members all ended to Finished or Failed,
// frees its reservation, and forgets a Spark app with no pods left.
func (m *Manager) settleLocked(g *Group, acts *Actions) {
	live, _ := g.counts()
	if live > 0 {
		return
	}
	if len(g.reserved) > 0 {
		m.setReservedLocked(g, nil, metrics.ReservationFreed, acts)
	}
	g.evicting = false
	if len(g.members) > 0 {
		succeeded := 0
		for _, mb := range g.members {
			if mb.pod.Status.Phase == v1.PodSucceeded {
				succeeded++
			}
		}
		if int32(succeeded) >= g.spec.MinMember {
			g.phase = PhaseFinished
		} else {
			g.phase = PhaseFailed
		}
	} else {
		// No pods left: new ones are a new run of the group.
		g.phase = PhasePending
	}
	m.changedLocked(g)
	m.stopDrainingLocked(g)
	if g.podGroup == nil && (len(g.members) == 0 || g.key.Kind == KindSparkApp) {
		m.forgetGroupLocked(g)
	}
}

// UpsertPodGroup records a new or changed PodGroup.
func (m *Manager) UpsertPodGroup(pg *schedv1alpha1.PodGroup) Actions {
	m.mu.Lock()
	defer m.unlock()
	g := m.groupLocked(Key{Kind: KindPodGroup, Namespace: pg.Namespace, Name: pg.Name})
	return m.upsertPodGroupLocked(g, pg, func() Spec { return SpecFromPodGroup(pg) })
}

// upsertPodGroupLocked records g's PodGroup pg (a scheduler-plugins one,
// or the view of a scheduling.k8s.io one), reading its spec with specOf
// when it changed.
func (m *Manager) upsertPodGroupLocked(g *Group, pg *schedv1alpha1.PodGroup, specOf func() Spec) Actions {
	var acts Actions
	defer m.countLocked(g)
	specChanged := g.podGroup == nil || g.podGroup.Generation != pg.Generation ||
		g.podGroup.Annotations[AnnotationMemberRequests] != pg.Annotations[AnnotationMemberRequests] ||
		g.podGroup.Annotations[AnnotationMemberTemplate] != pg.Annotations[AnnotationMemberTemplate] ||
		g.podGroup.Annotations[AnnotationRequiredTopology] != pg.Annotations[AnnotationRequiredTopology] ||
		g.podGroup.Annotations[AnnotationPreferredTopology] != pg.Annotations[AnnotationPreferredTopology]
	g.podGroup = pg
	m.changedLocked(g)
	m.noteReservedUntilLocked(g, pg.Annotations)
	if specChanged {
		g.spec = specOf()
		g.failure = nil
		if !g.spec.Valid() {
			m.eventLocked(g, &acts, v1.EventTypeWarning, ReasonInvalid, g.invalidMessage())
		}
		acts.Statuses = append(acts.Statuses, g.key)
		m.observeBoundLocked(g)
		if g.phase == PhasePending {
			acts.Activate = append(acts.Activate, g.pendingPods()...)
		}
	}
	return acts
}

// DeletePodGroup forgets a PodGroup; its pods then wait for it again.
func (m *Manager) DeletePodGroup(pg *schedv1alpha1.PodGroup) Actions {
	m.mu.Lock()
	defer m.unlock()
	return m.deletePodGroupLocked(Key{Kind: KindPodGroup, Namespace: pg.Namespace, Name: pg.Name}, "PodGroup")
}

// deletePodGroupLocked forgets the object that declared the group key (a
// kind of PodGroup, named so in messages).
func (m *Manager) deletePodGroupLocked(key Key, kind string) Actions {
	var acts Actions
	g := m.groups[key]
	if g == nil {
		return acts
	}
	g.podGroup = nil
	g.spec = Spec{MinMember: 1}
	m.changedLocked(g)
	if g.phase == PhaseAdmitted {
		m.releaseLocked(g, metrics.ReleaseDeleted, fmt.Sprintf("%s %s was deleted", kind, key), &acts)
	}
	m.stopDrainingLocked(g)
	if len(g.reserved) > 0 {
		m.setReservedLocked(g, nil, metrics.ReservationFreed, &acts)
	}
	if len(g.members) == 0 {
		m.forgetGroupLocked(g)
	}
	return acts
}

// Resync returns what a scheduler that just became active must write: the
// status of every PodGroup and Queue, and an Event for every invalid group
// and queue (a standby replica writes nothing). Groups bound half way get
// their permit timeout again from now, to be completed by this scheduler
// before they are released.
func (m *Manager) Resync() Actions {
	m.mu.Lock()
	defer m.unlock()
	var acts Actions
	for _, key := range sortedKeys(m.groups) {
		g := m.groups[key]
		if !g.partialDeadline.IsZero() {
			g.partialDeadline = m.clock.Now().Add(m.permitTimeoutLocked(g))
		}
		if g.podGroup != nil {
			acts.Statuses = append(acts.Statuses, key)
		}
		if !g.spec.Valid() {
			g.lastEvent = ""
			m.eventLocked(g, &acts, v1.EventTypeWarning, ReasonInvalid, g.invalidMessage())
		}
	}
	for _, name := range m.tree.Names() {
		if q, n := m.queueObjs[name], m.tree.Get(name); q != nil && !n.Valid() {
			acts.Events = append(acts.Events, Event{Object: q, Type: v1.EventTypeWarning, Reason: ReasonInvalid, Message: m.queueEvents[name]})
		}
		if m.queueObjs[name] != nil {
			acts.Queues = append(acts.Queues, name)
		}
	}
	return acts
}

// Gate is the PreEnqueue check: a member of a PodGroup waits outside the
// active queue until MinMember members exist. notify is true the first time
// a pod is gated, so the caller tells it why once.
func (m *Manager) Gate(pod *v1.Pod) (msg string, notify bool) {
	key, ok := KeyOf(pod)
	if !ok || key.Kind == KindSparkApp {
		return "", false
	}
	m.mu.Lock()
	defer m.unlock()
	g := m.groups[key]
	if g == nil || g.podGroup == nil || !g.spec.Valid() || g.phase == PhaseAdmitted || g.phase == PhaseRunning {
		return "", false // PreFilter explains a missing or invalid group
	}
	live, _ := g.counts()
	if _, known := g.members[pod.UID]; !known {
		live++
	}
	if int32(live) >= g.spec.MinMember {
		return "", false
	}
	// No count of the members that exist: the pod is told once (one write
	// per pod, not one per member added), so the message must stay true.
	msg = fmt.Sprintf("pod group %s has fewer than its %d members (minMember); none is scheduled before all %d exist", key, g.spec.MinMember, g.spec.MinMember)
	if _, seen := m.gateNoticed[pod.UID]; !seen {
		m.gateNoticed[pod.UID] = struct{}{}
		notify = true
	}
	return msg, notify
}

// MembersComplete reports whether the group of pod has MinMember members
// now that added exists: the check behind the queueing hint for members
// held by Gate. added counts even if the Manager has not seen it yet.
func (m *Manager) MembersComplete(pod, added *v1.Pod) bool {
	key, ok := KeyOf(pod)
	if !ok || key.Kind == KindSparkApp {
		return true
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[key]
	if g == nil || g.podGroup == nil || !g.spec.Valid() {
		return true
	}
	live, _ := g.counts()
	if _, known := g.members[added.UID]; !known {
		live++
	}
	return int32(live) >= g.spec.MinMember
}

// setReservedLocked replaces a group's reservation; outcome says how the
// old one ended, for the hold-time metric ("" when it carries on). Freeing
// room activates the pods that wait for room.
func (m *Manager) setReservedLocked(g *Group, perNode map[string]resources.List, outcome string, acts *Actions) {
	freed := len(g.reserved) > 0
	now := m.clock.Now()
	if freed && outcome != "" {
		metrics.ReservationHold.WithLabelValues(outcome).Observe(metrics.Since(now, g.reservedSince))
	}
	if len(perNode) > 0 && (!freed || outcome != "") {
		g.reservedSince = now
	}
	countReserved(m.reservedOn, g.reserved, -1)
	countReserved(m.reservedOn, perNode, 1)
	g.reserved = perNode
	m.changedLocked(g)
	if len(perNode) > 0 {
		m.reserving[g.key] = g
	} else {
		delete(m.reserving, g.key)
	}
	if freed {
		m.generation++
		m.activateWaitingLocked(acts)
	}
}

// activateWaitingLocked activates the pods that may fit now that room was
// freed: pods that reservations kept off nodes, and the members of pending
// groups that were tried. A group never tried has its pods in the active
// queue already, and one short of MinMember members waits for members, not
// room (its members are activated when the last arrives): activating
// either only costs a queue operation per pod, for every group, each time
// any reservation moves — quadratic in the groups under scheduler_perf's
// thousands of gangs.
func (m *Manager) activateWaitingLocked(acts *Actions) {
	for uid, p := range m.blocked {
		acts.Activate = append(acts.Activate, p)
		delete(m.blocked, uid)
	}
	for _, g := range m.waitingGroups {
		if g.phase != PhasePending || g.scheduleStart.IsZero() {
			continue
		}
		if live, _ := g.counts(); int32(live) < g.spec.MinMember {
			continue
		}
		acts.Activate = append(acts.Activate, g.pendingPods()...)
	}
}

// HeldOn writes into held the amount of each of names that groups other
// than exclude (nil for a pod in no group) reserve on node, and reports
// whether they hold any of it there. It allocates nothing: Filter asks it
// for every node of every pod's cycle.
func (m *Manager) HeldOn(node string, exclude *Key, names []v1.ResourceName, held []int64) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	all := m.reservedOn[node]
	if all == nil {
		return false
	}
	var own resources.List
	if exclude != nil {
		if g := m.reserving[*exclude]; g != nil {
			own = g.reserved[node]
		}
	}
	some := false
	for i, name := range names {
		held[i] = all[name] - own[name]
		some = some || held[i] > 0
	}
	return some
}

// OwnOn writes into own the amount of each of names that key reserves on
// node, and reports whether it holds room there.
func (m *Manager) OwnOn(key Key, node string, names []v1.ResourceName, own []int64) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.reserving[key]
	if g == nil {
		return false
	}
	r := g.reserved[node]
	if r == nil {
		return false
	}
	for i, name := range names {
		own[i] = r[name]
	}
	return true
}

// HasReservations reports whether any group holds reserved room.
func (m *Manager) HasReservations() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.reserving) > 0
}

// Reserves reports whether key holds reserved room.
func (m *Manager) Reserves(key Key) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.reserving[key] != nil
}

// countReserved adds sign times room by node to sums.
func countReserved(sums, byNode map[string]resources.List, sign int64) {
	for node, r := range byNode {
		addTo(sums, node, r, sign)
	}
}

// QueueOrder returns what the scheduling queue orders a group's pods by:
// whether the group holds reserved room (admitted, members still to place),
// and when it was created (its PodGroup, or its Spark driver), zero if the
// group is unknown. It takes no lock: it reads what the Manager published
// when the group last changed (changedLocked), so the queue's
// comparisons never wait on a plan.
func (m *Manager) QueueOrder(key Key) (holdsRoom bool, created time.Time) {
	if o, ok := m.orders.Load(key); ok {
		o := o.(queueOrder)
		return o.holdsRoom, o.created
	}
	return false, time.Time{}
}

// queueOrder is what the scheduling queue orders a group's pods by.
type queueOrder struct {
	// holdsRoom is whether the group is admitted and holds reserved room
	// (not a drain reservation).
	holdsRoom bool
	// created is the creation of its PodGroup or Spark driver.
	created time.Time
}

func (o queueOrder) equal(p queueOrder) bool {
	return o.holdsRoom == p.holdsRoom && o.created.Equal(p.created)
}

// orderOf computes g's queueOrder from its state.
func orderOf(g *Group) queueOrder {
	admitted := g.phase == PhaseAdmitted || g.phase == PhaseRunning // not a drain reservation
	return queueOrder{holdsRoom: admitted && len(g.reserved) > 0, created: g.creationTime()}
}

// publishOrderLocked publishes g's queueOrder if it changed. Every change
// of a group's phase, reservation, PodGroup or Spark driver calls it,
// through changedLocked (and tests check at every unlock that none was
// missed: verifyDerived).
func (m *Manager) publishOrderLocked(g *Group) {
	o := orderOf(g)
	if o.equal(g.published) {
		return
	}
	g.published = o
	m.orders.Store(g.key, o)
}

// forgetGroupLocked stops tracking g.
func (m *Manager) forgetGroupLocked(g *Group) {
	m.usage.count(g.tally, -1)
	g.tally = tally{}
	delete(m.waitingGroups, g.key)
	delete(m.groups, g.key)
	delete(m.retry, g.key)
	delete(m.heldBack, g.key)
	m.orders.Delete(g.key)
}

// verifyDerived makes every write-locked method check, before it unlocks,
// that what is derived from the groups' state is up to date: each group's
// published queueOrder, and its tally with the queues' sums (set by tests).
var verifyDerived = false

// verifyReservedOn says how the kept sum of room reserved by node differs
// from a sum from scratch over the groups, or "".
func (m *Manager) verifyReservedOn() string {
	fresh := map[string]resources.List{}
	for key, g := range m.groups {
		if held := m.reserving[key] != nil; held != (len(g.reserved) > 0) {
			return fmt.Sprintf("pod group %s: listed as reserving %t, holds room on %d nodes", key, held, len(g.reserved))
		}
		countReserved(fresh, g.reserved, 1)
	}
	for key := range m.reserving {
		if m.groups[key] == nil {
			return fmt.Sprintf("pod group %s is listed as reserving, and is not tracked", key)
		}
	}
	if !maps.EqualFunc(m.reservedOn, fresh, resources.List.Equal) {
		return fmt.Sprintf("room reserved by node %v, the groups' reservations sum to %v", m.reservedOn, fresh)
	}
	return ""
}

// unlock releases the write lock, after the check of verifyDerived.
func (m *Manager) unlock() {
	if verifyDerived {
		if msg := cmp.Or(m.verifyTallies(), m.verifyReservedOn()); msg != "" {
			m.mu.Unlock()
			panic(msg)
		}
		for _, g := range m.groups {
			got, _ := m.orders.Load(g.key)
			published, _ := got.(queueOrder)
			if want := orderOf(g); !published.equal(want) {
				m.mu.Unlock()
				panic(fmt.Sprintf("pod group %s: published queue order %+v, its state says %+v", g.key, published, want))
			}
		}
	}
	m.mu.Unlock()
}

// SetPodGroupAPI tells the Manager whether the PodGroup CRD is served, so a
// pod naming a PodGroup can be told why it waits.
func (m *Manager) SetPodGroupAPI(served bool) {
	m.mu.Lock()
	m.podGroupAPI = served
	m.unlock()
}

// NoteBlocked records a pod that reservations kept off a node, so it is
// activated when reserved room is freed.
func (m *Manager) NoteBlocked(pod *v1.Pod) {
	m.mu.Lock()
	m.blocked[pod.UID] = pod
	m.unlock()
}

// eventLocked records an Event on the group's object (the PodGroup, or the
// Spark driver), unless it repeats the last one.
func (m *Manager) eventLocked(g *Group, acts *Actions, eventType, reason, msg string) {
	if g.lastEvent == reason+msg {
		return
	}
	g.lastEvent = reason + msg
	if obj := g.eventObject(); obj != nil {
		acts.Events = append(acts.Events, Event{Object: obj, Type: eventType, Reason: reason, Message: msg})
	}
}

// waitLocked records why a group waits, as a GangWaiting Event, once per
// cause: the messages carry changing numbers and must not spam, but a new
// cause (no room, queue at max, another group first, victims to exit) is
// worth telling.
func (m *Manager) waitLocked(g *Group, acts *Actions, cause, msg string) {
	key := ReasonWaiting + "/" + cause
	if g.lastEvent == key {
		return
	}
	if obj := g.eventObject(); obj != nil {
		acts.Events = append(acts.Events, Event{Object: obj, Type: v1.EventTypeNormal, Reason: ReasonWaiting, Message: msg})
	}
	g.lastEvent = key
}

// eventObject is where the group's Events go: the PodGroup, else the Spark
// driver, else (client mode) the executor that declared the gang; nil when
// none is known.
func (g *Group) eventObject() runtime.Object {
	switch {
	case g.upstream != nil:
		return g.upstream
	case g.podGroup != nil:
		return g.podGroup
	case g.driver != nil:
		return g.driver
	case g.declarer != nil:
		return g.declarer
	}
	return nil
}

func sortedUIDs(members map[types.UID]*member) []types.UID {
	uids := make([]types.UID, 0, len(members))
	for uid := range members {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	return uids
}

func sortedNodeNames(perNode map[string]resources.List) []string {
	names := make([]string, 0, len(perNode))
	for n := range perNode {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// sortedKeys lists the map's keys in order (Kind, Namespace, Name).
func sortedKeys[V any](groups map[Key]V) []Key {
	keys := make([]Key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return keys
}
