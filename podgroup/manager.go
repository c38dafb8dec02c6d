package podgroup

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"

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
	// generation counts changes of reservations and membership that can
	// give room back; with the nodes' version it tells whether a failed
	// admission is worth planning again.
	generation uint64
	// blocked holds pods that reservations kept off a node, to activate when
	// reserved room is freed.
	blocked map[types.UID]*v1.Pod
	// gateNoticed holds the pods already told they wait for members.
	gateNoticed map[types.UID]struct{}
	// retry holds released groups with when they may be admitted again.
	retry map[Key]retryState
	// podGroupAPI is whether the PodGroup CRD is served.
	podGroupAPI bool
}

type retryState struct {
	at       time.Time
	releases int
}

// NewManager returns an empty Manager.
func NewManager(cfg Config, clk clock.PassiveClock) *Manager {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Manager{
		cfg:         cfg,
		clock:       clk,
		groups:      map[Key]*Group{},
		reserving:   map[Key]*Group{},
		blocked:     map[types.UID]*v1.Pod{},
		gateNoticed: map[types.UID]struct{}{},
		retry:       map[Key]retryState{},
		podGroupAPI: true,
	}
}

// groupLocked returns the group of key, creating it if needed.
func (m *Manager) groupLocked(key Key) *Group {
	g := m.groups[key]
	if g == nil {
		g = &Group{key: key, members: map[types.UID]*member{}, phase: PhasePending, spec: Spec{MinMember: 1}}
		m.groups[key] = g
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
	defer m.mu.Unlock()
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
	mb := g.members[pod.UID]
	if mb == nil {
		mb = &member{state: memberPending}
		g.members[pod.UID] = mb
		g.failure = nil
		defer m.activateIfCompleteLocked(g, acts)
	}
	phaseChanged := mb.pod != nil && mb.pod.Status.Phase != pod.Status.Phase
	mb.pod = pod
	if g.key.Kind == KindSparkApp && IsSparkDriver(pod) {
		changed := g.driver == nil || !annotationsEqual(g.driver, pod)
		g.driver = pod
		if changed {
			g.spec = SpecFromSparkDriver(pod)
			g.failure = nil
			if !g.spec.Valid() {
				m.eventLocked(g, acts, v1.EventTypeWarning, ReasonInvalid, g.invalidMessage())
			}
		}
	}
	prev := mb.state
	mb.state = stateOf(pod, prev)
	if prev != mb.state || phaseChanged {
		acts.Statuses = append(acts.Statuses, g.key)
	}
	if mb.state == memberDone && prev != memberDone {
		delete(m.gateNoticed, pod.UID)
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
		a.Annotations[AnnotationExecutorRequests] == b.Annotations[AnnotationExecutorRequests]
}

// DeletePod forgets a pod.
func (m *Manager) DeletePod(pod *v1.Pod) Actions {
	m.mu.Lock()
	defer m.mu.Unlock()
	var acts Actions
	delete(m.blocked, pod.UID)
	delete(m.gateNoticed, pod.UID)
	key, ok := KeyOf(pod)
	if !ok {
		return acts
	}
	g := m.groups[key]
	if g == nil {
		return acts
	}
	if mb := g.members[pod.UID]; mb != nil {
		if mb.state != memberPending {
			m.generation++
		}
		delete(g.members, pod.UID)
		delete(g.planned, pod.UID)
	}
	if g.driver != nil && g.driver.UID == pod.UID {
		g.driver = nil
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
		m.setReservedLocked(g, nil, acts)
	}
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
	} else if g.phase == PhaseAdmitted {
		g.phase = PhasePending
	}
	if g.podGroup == nil && (len(g.members) == 0 || g.key.Kind == KindSparkApp) {
		delete(m.groups, g.key)
		delete(m.retry, g.key)
	}
}

// UpsertPodGroup records a new or changed PodGroup.
func (m *Manager) UpsertPodGroup(pg *schedv1alpha1.PodGroup) Actions {
	m.mu.Lock()
	defer m.mu.Unlock()
	var acts Actions
	g := m.groupLocked(Key{Kind: KindPodGroup, Namespace: pg.Namespace, Name: pg.Name})
	specChanged := g.podGroup == nil || g.podGroup.Generation != pg.Generation ||
		g.podGroup.Annotations[AnnotationMemberRequests] != pg.Annotations[AnnotationMemberRequests]
	g.podGroup = pg
	if specChanged {
		g.spec = SpecFromPodGroup(pg)
		g.failure = nil
		if !g.spec.Valid() {
			m.eventLocked(g, &acts, v1.EventTypeWarning, ReasonInvalid, g.invalidMessage())
		}
		acts.Statuses = append(acts.Statuses, g.key)
		if g.phase == PhasePending {
			acts.Activate = append(acts.Activate, g.pendingPods()...)
		}
	}
	return acts
}

// DeletePodGroup forgets a PodGroup; its pods then wait for it again.
func (m *Manager) DeletePodGroup(pg *schedv1alpha1.PodGroup) Actions {
	m.mu.Lock()
	defer m.mu.Unlock()
	var acts Actions
	key := Key{Kind: KindPodGroup, Namespace: pg.Namespace, Name: pg.Name}
	g := m.groups[key]
	if g == nil {
		return acts
	}
	g.podGroup = nil
	g.spec = Spec{MinMember: 1}
	if g.phase == PhaseAdmitted {
		m.releaseLocked(g, fmt.Sprintf("PodGroup %s was deleted", key), &acts)
	}
	if len(g.reserved) > 0 {
		m.setReservedLocked(g, nil, &acts)
	}
	if len(g.members) == 0 {
		delete(m.groups, key)
		delete(m.retry, key)
	}
	return acts
}

// Resync returns what a scheduler that just became active must write: the
// status of every PodGroup, and an Event for every invalid group (a standby
// replica writes nothing).
func (m *Manager) Resync() Actions {
	m.mu.Lock()
	defer m.mu.Unlock()
	var acts Actions
	for _, key := range sortedKeys(m.groups) {
		g := m.groups[key]
		if g.podGroup != nil {
			acts.Statuses = append(acts.Statuses, key)
		}
		if !g.spec.Valid() {
			g.lastEvent = ""
			m.eventLocked(g, &acts, v1.EventTypeWarning, ReasonInvalid, g.invalidMessage())
		}
	}
	return acts
}

// Gate is the PreEnqueue check: a member of a PodGroup waits outside the
// active queue until MinMember members exist. notify is true the first time
// a pod is gated, so the caller tells it why once.
func (m *Manager) Gate(pod *v1.Pod) (msg string, notify bool) {
	key, ok := KeyOf(pod)
	if !ok || key.Kind != KindPodGroup {
		return "", false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
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
	msg = fmt.Sprintf("pod group %s has %d/%d members; none is scheduled before all %d exist", key, live, g.spec.MinMember, g.spec.MinMember)
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
	if !ok || key.Kind != KindPodGroup {
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

// Admission is the outcome of Admit for one pod.
type Admission struct {
	// Key is the pod's group; InGroup is false for a pod in no group.
	Key     Key
	InGroup bool
	// Admitted: the group is admitted and the pod may be placed.
	Admitted bool
	// Message says why not.
	Message string
	Actions
}

// Nodes is the scheduler's view of the nodes in one scheduling cycle.
type Nodes interface {
	// Version changes whenever the room or the constraints of any node
	// change (kube-scheduler's NodeInfo generations give it).
	Version() uint64
	// Rooms lists the nodes; it is called only when a plan is needed.
	Rooms() []NodeRoom
}

// Admit is the admission check, run for a group member at the start of its
// scheduling cycle. A pending group is admitted only if the whole group
// (existing members and members not yet created) fits on nodes at once,
// after the room reserved by other groups; its room is then reserved.
func (m *Manager) Admit(logger klog.Logger, pod *v1.Pod, nodes Nodes) Admission {
	key, ok := KeyOf(pod)
	if !ok {
		return Admission{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	adm := Admission{Key: key, InGroup: true}
	g := m.groupLocked(key)
	m.upsertMemberLocked(g, pod, &adm.Actions)
	now := m.clock.Now()
	if g.scheduleStart.IsZero() {
		g.scheduleStart = now
		adm.Statuses = append(adm.Statuses, key)
	}
	live, placed := g.counts()
	if (g.phase == PhaseFinished || g.phase == PhaseFailed) && live > 0 {
		g.phase = PhasePending
	}
	if g.phase == PhaseAdmitted || g.phase == PhaseRunning {
		adm.Admitted = true
		return adm
	}

	// 1. Is the group declared, valid and complete?
	switch {
	case key.Kind == KindPodGroup && g.podGroup == nil && !m.podGroupAPI:
		adm.Message = fmt.Sprintf("pod group %s not found: the PodGroup CRD (podgroups.scheduling.x-k8s.io) is not installed", key)
		return adm
	case key.Kind == KindPodGroup && g.podGroup == nil:
		adm.Message = fmt.Sprintf("pod group %s not found: create PodGroup %s or remove label %s", key, key.Name, LabelPodGroup)
		return adm
	case !g.spec.Valid():
		adm.Message = g.invalidMessage()
		return adm
	case int32(live) < g.spec.MinMember:
		adm.Message = fmt.Sprintf("pod group %s has %d/%d members", key, live, g.spec.MinMember)
		return adm
	}
	if r, ok := m.retry[key]; ok && now.Before(r.at) {
		adm.Message = fmt.Sprintf("pod group %s was released and retries in %s", key, r.at.Sub(now).Round(time.Second))
		return adm
	}

	// 2. Nothing changed since the last failed plan: same answer.
	version := nodes.Version()
	if f := g.failure; f != nil && f.generation == m.generation && f.nodes == version && f.members == live {
		adm.Message = f.message
		return adm
	}

	// 3. Plan the whole group on the nodes, after other groups' reservations.
	items, required := m.itemsLocked(g, placed)
	all := nodes.Rooms()
	rooms := m.roomsLocked(all, key)
	placement, short := Plan(logger, rooms, items, required)
	if short != nil {
		short.ReservedForOthers = m.reservedOnLocked(all, key)
		adm.Message = fmt.Sprintf("pod group %s %s", key, short.Message())
		g.failure = &admissionFailure{generation: m.generation, nodes: version, members: live, message: adm.Message}
		m.eventOnceLocked(g, &adm.Actions, v1.EventTypeNormal, ReasonWaiting, adm.Message)
		logger.V(4).Info("Pod group does not fit", "podGroup", key, "message", adm.Message)
		return adm
	}

	// 4. Admit: reserve the planned room, hold members in Permit until quorum.
	g.failure = nil
	g.phase = PhaseAdmitted
	g.admitted = now
	g.deadline = now.Add(m.permitTimeoutLocked(g))
	g.planned = map[types.UID]string{}
	virtual := 0
	for i, it := range items {
		if placement.Nodes[i] == "" {
			continue
		}
		if it.Pod != nil {
			g.planned[it.Pod.UID] = placement.Nodes[i]
		} else {
			virtual++
		}
	}
	m.setReservedLocked(g, placement.PerNode, &adm.Actions)
	msg := fmt.Sprintf("pod group %s admitted: %d pods planned on %d nodes (%d not created yet), %s reserved",
		key, len(g.planned)+virtual, len(placement.PerNode), virtual, g.reservedTotal())
	m.eventLocked(g, &adm.Actions, v1.EventTypeNormal, ReasonAdmitted, msg)
	logger.V(2).Info("Admitted pod group", "podGroup", key, "pods", len(g.planned)+virtual, "nodes", len(placement.PerNode), "virtual", virtual)
	for _, uid := range sortedUIDs(g.members) {
		if _, ok := g.planned[uid]; ok && uid != pod.UID {
			adm.Activate = append(adm.Activate, g.members[uid].pod)
		}
	}
	adm.Statuses = append(adm.Statuses, key)
	adm.Admitted = true
	return adm
}

// itemsLocked lists what an admission must place: pending members, and the
// part of MinResources that no member covers, cut into member-sized pieces.
// Items before the returned index are required; after it, pods beyond
// MinMember that are placed if they fit.
func (m *Manager) itemsLocked(g *Group, placed int) ([]Item, int) {
	var pending []*v1.Pod
	covered := resources.List{}
	for _, uid := range sortedUIDs(g.members) {
		mb := g.members[uid]
		if !mb.live() {
			continue
		}
		covered.Add(resources.PodRequests(mb.pod))
		if mb.state == memberPending {
			pending = append(pending, mb.pod)
		}
	}
	slices.SortStableFunc(pending, CompareMembers)
	items := make([]Item, 0, len(pending))
	for _, p := range pending {
		items = append(items, Item{Pod: p, Requests: resources.PodRequests(p)})
	}
	required := len(items)
	if g.spec.MinResources == nil {
		required = min(len(items), max(0, int(g.spec.MinMember)-placed))
	}
	if g.spec.MinResources != nil {
		rem := g.spec.MinResources.Clone()
		rem.Sub(covered)
		template := g.driver
		if template == nil && len(pending) > 0 {
			template = pending[0]
		}
		virtual := make([]Item, 0)
		for _, piece := range splitRemainder(rem, g.memberShape()) {
			virtual = append(virtual, Item{Template: template, Requests: piece})
		}
		// Virtual members are required: insert them before optional pods.
		items = append(items[:required], append(virtual, items[required:]...)...)
		required += len(virtual)
	}
	return items, required
}

// CompareMembers orders a group's members: the Spark driver first, then by
// creation, then by name.
func CompareMembers(a, b *v1.Pod) int {
	if da, db := IsSparkDriver(a), IsSparkDriver(b); da != db {
		if da {
			return -1
		}
		return 1
	}
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// roomsLocked subtracts the room reserved by groups other than key.
func (m *Manager) roomsLocked(nodes []NodeRoom, key Key) []NodeRoom {
	if len(m.reserving) == 0 {
		return nodes
	}
	out := slices.Clone(nodes)
	for i := range out {
		cloned := false
		for k, g := range m.reserving {
			if k == key {
				continue
			}
			if r := g.reserved[out[i].Name]; r != nil {
				if !cloned {
					out[i].Free = out[i].Free.Clone()
					cloned = true
				}
				out[i].Free.Sub(r)
			}
		}
	}
	return out
}

// reservedOnLocked sums what groups other than key reserve on the nodes.
func (m *Manager) reservedOnLocked(nodes []NodeRoom, key Key) resources.List {
	total := resources.List{}
	for k, g := range m.reserving {
		if k == key {
			continue
		}
		for i := range nodes {
			if r := g.reserved[nodes[i].Name]; r != nil {
				total.Add(r)
			}
		}
	}
	return total
}

func (m *Manager) permitTimeoutLocked(g *Group) time.Duration {
	if g.spec.ScheduleTimeout > 0 {
		return g.spec.ScheduleTimeout
	}
	return m.cfg.PermitTimeout
}

// setReservedLocked replaces a group's reservation; freeing room activates
// the pods that wait for room.
func (m *Manager) setReservedLocked(g *Group, perNode map[string]resources.List, acts *Actions) {
	freed := len(g.reserved) > 0
	g.reserved = perNode
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
// freed: pods that reservations kept off nodes, and pending groups' members.
func (m *Manager) activateWaitingLocked(acts *Actions) {
	for uid, p := range m.blocked {
		acts.Activate = append(acts.Activate, p)
		delete(m.blocked, uid)
	}
	for _, g := range m.groups {
		if g.phase != PhasePending {
			continue
		}
		acts.Activate = append(acts.Activate, g.pendingPods()...)
	}
}

// ReservedByOthers returns the room reserved on each node by groups other
// than the given one (exclude may be nil for a pod in no group), or nil when
// nothing is reserved. The map is the caller's.
func (m *Manager) ReservedByOthers(exclude *Key) map[string]resources.List {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out map[string]resources.List
	for k, g := range m.reserving {
		if exclude != nil && k == *exclude {
			continue
		}
		if out == nil {
			out = map[string]resources.List{}
		}
		for node, r := range g.reserved {
			if out[node] == nil {
				out[node] = r.Clone()
			} else {
				out[node].Add(r)
			}
		}
	}
	return out
}

// OwnReservation returns the room reserved for key on each node (a copy), or
// nil.
func (m *Manager) OwnReservation(key Key) map[string]resources.List {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.reserving[key]
	if g == nil {
		return nil
	}
	out := make(map[string]resources.List, len(g.reserved))
	for node, r := range g.reserved {
		out[node] = r.Clone()
	}
	return out
}

// HasReservations reports whether any group holds reserved room.
func (m *Manager) HasReservations() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.reserving) > 0
}

// CreationTime returns when the group was created (its PodGroup, or its
// Spark driver), zero if unknown. The queue orders groups by it.
func (m *Manager) CreationTime(key Key) time.Time {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.groups[key]; g != nil {
		return g.creationTime()
	}
	return time.Time{}
}

// SetPodGroupAPI tells the Manager whether the PodGroup CRD is served, so a
// pod naming a PodGroup can be told why it waits.
func (m *Manager) SetPodGroupAPI(served bool) {
	m.mu.Lock()
	m.podGroupAPI = served
	m.mu.Unlock()
}

// NoteBlocked records a pod that reservations kept off a node, so it is
// activated when reserved room is freed.
func (m *Manager) NoteBlocked(pod *v1.Pod) {
	m.mu.Lock()
	m.blocked[pod.UID] = pod
	m.mu.Unlock()
}

// Assume records that the scheduler placed a member on node (Reserve): the
// member takes its room from the group's reservation, on that node first,
// then on its planned node, then on the others by name.
func (m *Manager) Assume(pod *v1.Pod, node string) {
	key, ok := KeyOf(pod)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[key]
	if g == nil {
		return
	}
	mb := g.members[pod.UID]
	if mb == nil {
		return
	}
	mb.state = memberAssumed
	mb.taken = nil
	if len(g.reserved) == 0 {
		return
	}
	need := resources.PodRequests(pod)
	order := []string{node}
	if p := g.planned[pod.UID]; p != "" && p != node {
		order = append(order, p)
	}
	for _, n := range sortedNodeNames(g.reserved) {
		if n != node && n != g.planned[pod.UID] {
			order = append(order, n)
		}
	}
	mb.taken = map[string]resources.List{}
	for _, n := range order {
		if need.IsZero() {
			break
		}
		r := g.reserved[n]
		if r == nil {
			continue
		}
		take := need.Min(r).NonNegative()
		if take.IsZero() {
			continue
		}
		r.Sub(take)
		need.Sub(take)
		mb.taken[n] = take
		if r.IsZero() {
			delete(g.reserved, n)
		}
	}
	delete(g.planned, pod.UID)
	if len(g.reserved) == 0 {
		delete(m.reserving, g.key)
	}
}

// Forget undoes Assume (Unreserve): the member gives back what it took. A
// group that had not reached MinMember is released whole, so no partial
// group keeps resources.
func (m *Manager) Forget(pod *v1.Pod) Actions {
	var acts Actions
	key, ok := KeyOf(pod)
	if !ok {
		return acts
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[key]
	if g == nil {
		return acts
	}
	mb := g.members[pod.UID]
	if mb == nil || mb.state != memberAssumed {
		return acts
	}
	mb.state = memberPending
	if len(mb.taken) > 0 && (g.phase == PhaseAdmitted || g.phase == PhaseRunning) {
		if g.reserved == nil {
			g.reserved = map[string]resources.List{}
		}
		for n, r := range mb.taken {
			if g.reserved[n] == nil {
				g.reserved[n] = resources.List{}
			}
			g.reserved[n].Add(r)
		}
		m.reserving[g.key] = g
	}
	mb.taken = nil
	if g.phase == PhaseAdmitted {
		_, placed := g.counts()
		m.releaseLocked(g, fmt.Sprintf("member %s was not bound (permit timeout or binding failure) with %d/%d members placed",
			klog.KObj(pod), placed, g.spec.MinMember), &acts)
	}
	return acts
}

// PermitDecision is what Permit does with a placed member.
type PermitDecision struct {
	// Allow lets the pod through; otherwise it waits up to Wait, or is
	// rejected with Message when Wait is zero.
	Allow   bool
	Wait    time.Duration
	Message string
	Actions
}

// Permit decides whether a placed member may bind: once MinMember members
// are placed, all of them go; before that they wait, at most until the
// group's permit deadline.
func (m *Manager) Permit(pod *v1.Pod) PermitDecision {
	key, ok := KeyOf(pod)
	if !ok {
		return PermitDecision{Allow: true}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[key]
	if g == nil {
		return PermitDecision{Allow: true}
	}
	var d PermitDecision
	switch g.phase {
	case PhaseRunning:
		d.Allow = true
		return d
	case PhaseAdmitted:
	default:
		d.Message = fmt.Sprintf("pod group %s was released before its members were placed", key)
		return d
	}
	now := m.clock.Now()
	_, placed := g.counts()
	if int32(placed) >= g.spec.MinMember {
		m.reachQuorumLocked(g, now, &d.Actions)
		for _, uid := range sortedUIDs(g.members) {
			if mb := g.members[uid]; mb.state == memberAssumed && uid != pod.UID {
				d.Actions.Allow = append(d.Actions.Allow, uid)
			}
		}
		d.Allow = true
		return d
	}
	wait := g.deadline.Sub(now)
	if wait <= 0 {
		d.Message = fmt.Sprintf("pod group %s: only %d/%d members placed within %s", key, placed, g.spec.MinMember, m.permitTimeoutLocked(g))
		m.releaseLocked(g, d.Message, &d.Actions)
		return d
	}
	d.Activate = g.pendingPods()
	d.Wait = wait
	d.Message = fmt.Sprintf("pod group %s has %d/%d members placed", key, placed, g.spec.MinMember)
	return d
}

// reachQuorumLocked moves an admitted group to Running; what is still
// reserved is held for members not yet created until ReservationTimeout.
func (m *Manager) reachQuorumLocked(g *Group, now time.Time, acts *Actions) {
	g.phase = PhaseRunning
	g.deadline = now.Add(m.cfg.ReservationTimeout)
	delete(m.retry, g.key)
	acts.Statuses = append(acts.Statuses, g.key)
}

// Bound records that a member's binding succeeded (PostBind).
func (m *Manager) Bound(pod *v1.Pod, node string) {
	key, ok := KeyOf(pod)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if g := m.groups[key]; g != nil {
		if mb := g.members[pod.UID]; mb != nil && mb.state == memberAssumed {
			mb.state = memberBound
		}
	}
}

// Unplaceable handles a member of an admitted group that fits on no node
// (PostFilter): before quorum, the whole group is released.
func (m *Manager) Unplaceable(pod *v1.Pod, why string) Actions {
	var acts Actions
	key, ok := KeyOf(pod)
	if !ok {
		return acts
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if g := m.groups[key]; g != nil && g.phase == PhaseAdmitted {
		m.releaseLocked(g, fmt.Sprintf("member %s fits on no node: %s", klog.KObj(pod), why), &acts)
	}
	return acts
}

// releaseLocked rolls an admitted group back whole: waiting members are
// rejected, the reservation freed, and the group waits a backoff before it
// is admitted again.
func (m *Manager) releaseLocked(g *Group, reason string, acts *Actions) {
	for _, uid := range sortedUIDs(g.members) {
		mb := g.members[uid]
		if mb.state == memberAssumed {
			acts.Reject = append(acts.Reject, Rejection{UID: uid, Message: fmt.Sprintf("pod group %s released: %s", g.key, reason)})
			mb.state = memberPending
		}
		mb.taken = nil
	}
	g.phase = PhasePending
	g.planned = nil
	g.failure = nil
	r := m.retry[g.key]
	backoff := m.cfg.RetryBackoff << min(r.releases, 10)
	if m.cfg.MaxRetryBackoff > 0 {
		backoff = min(backoff, m.cfg.MaxRetryBackoff)
	}
	m.retry[g.key] = retryState{at: m.clock.Now().Add(backoff), releases: r.releases + 1}
	m.setReservedLocked(g, nil, acts)
	m.eventLocked(g, acts, v1.EventTypeWarning, ReasonReleased, fmt.Sprintf("pod group %s released: %s; retry in %s", g.key, reason, backoff))
	acts.Statuses = append(acts.Statuses, g.key)
}

// Tick runs the group timers: admitted groups past their permit deadline
// are released, reservations past ReservationTimeout are freed, and
// released groups whose backoff ended are activated.
func (m *Manager) Tick() Actions {
	m.mu.Lock()
	defer m.mu.Unlock()
	var acts Actions
	now := m.clock.Now()
	for _, key := range sortedKeys(m.groups) {
		g := m.groups[key]
		switch {
		case g.phase == PhaseAdmitted && !now.Before(g.deadline):
			_, placed := g.counts()
			m.releaseLocked(g, fmt.Sprintf("only %d/%d members placed within %s", placed, g.spec.MinMember, m.permitTimeoutLocked(g)), &acts)
		case g.phase == PhaseRunning && len(g.reserved) > 0 && !now.Before(g.deadline):
			msg := fmt.Sprintf("pod group %s: freed %s reserved for members not created within %s", key, g.reservedTotal(), m.cfg.ReservationTimeout)
			m.setReservedLocked(g, nil, &acts)
			m.eventLocked(g, &acts, v1.EventTypeNormal, ReasonReservationExpired, msg)
		}
	}
	for key, r := range m.retry {
		g := m.groups[key]
		if g == nil {
			delete(m.retry, key)
			continue
		}
		if !now.Before(r.at) && g.phase == PhasePending && !r.activated() {
			acts.Activate = append(acts.Activate, g.pendingPods()...)
			r.at = time.Time{}
			m.retry[key] = r
		}
	}
	return acts
}

func (r retryState) activated() bool { return r.at.IsZero() }

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

// eventOnceLocked records an Event unless the last one had the same reason:
// waiting messages carry changing numbers and must not spam.
func (m *Manager) eventOnceLocked(g *Group, acts *Actions, eventType, reason, msg string) {
	if len(g.lastEvent) >= len(reason) && g.lastEvent[:len(reason)] == reason {
		return
	}
	m.eventLocked(g, acts, eventType, reason, msg)
}

// eventObject is where the group's Events go: the PodGroup, else the Spark
// driver; nil when neither is known.
func (g *Group) eventObject() runtime.Object {
	switch {
	case g.podGroup != nil:
		return g.podGroup
	case g.driver != nil:
		return g.driver
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

func sortedKeys(groups map[Key]*Group) []Key {
	keys := make([]Key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return keys
}
