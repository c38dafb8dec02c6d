package podgroup

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/metrics"
	"github.com/gangsched/gangsched/queue"
	"github.com/gangsched/gangsched/resources"
)

// ReasonPreempted is the Event reason on a group (or pod) evicted to make
// room for another; ReasonPreempting the one on the group it makes room for.
const (
	ReasonPreempted  = "Preempted"
	ReasonPreempting = "GangPreempting"
)

// Victim is what preemption evicts: a whole group, or a pod in no group.
type Victim struct {
	// Group is the victim's group; nil for a pod in no group.
	Group *Key
	// Pods are all its pods on nodes.
	Pods     []*v1.Pod
	Queue    queue.Name
	Priority int32
	// Why it may be evicted, for Events.
	Why string
	// Extra is set for one member beyond its group's gang (see
	// Group.extras), evicted alone: the group stays whole.
	Extra bool
	// freed is the room evicting it gives back, by node (its pods and its
	// reservation).
	freed  map[string]resources.List
	total  resources.List
	name   string
	newest time.Time
	// seq orders the members beyond a gang created in the same second:
	// Spark's executor number, higher is newer (-1 for others).
	seq int64
}

// PreemptionPlan is the outcome of Preempt.
type PreemptionPlan struct {
	// Victims to evict, whole; empty when preemption cannot help.
	Victims []Victim
	// Message says what was decided, for the preemptor's status.
	Message string
}

// Preempt looks for whole groups (and pods in no group) to evict so that
// the pod's pending group fits, and if it finds them admits the group on the
// room they free. A running group's members beyond its gang (executors of
// Spark's dynamic allocation) are taken first, newest first, each alone,
// and whole groups only when they are not enough. Eligible victims (policy
// in eligibleVictimLocked):
//
//   - in the preemptor's queue, groups of lower priority;
//   - in other queues, groups of a queue holding more than its fair share,
//     if the preemptor's queue stays within its own and the victim's queue
//     keeps its guaranteed resources and does not fall further below its
//     share than the preemptor's queue will be.
//
// Victims are tried members beyond a gang first, then lowest priority,
// then from the queue furthest above its share, then smallest, then
// newest, until the group fits; then each is spared again, most important
// first, if the group fits without it.
// allowed reports whether evicting pods keeps every PodDisruptionBudget.
func (m *Manager) Preempt(logger klog.Logger, pod *v1.Pod, nodes Nodes, allowed func([]*v1.Pod) bool) (PreemptionPlan, Actions) {
	var acts Actions
	key, ok := KeyOf(pod)
	if !ok {
		return PreemptionPlan{}, acts
	}
	m.mu.Lock()
	defer m.unlock()
	g := m.groups[key]
	switch {
	case g == nil || g.phase != PhasePending:
		return PreemptionPlan{Message: "the group is not waiting for room"}, acts
	case pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == v1.PreemptNever:
		return PreemptionPlan{Message: "preemptionPolicy is Never"}, acts
	}
	f := m.fairnessLocked()
	if msg := m.queueCheckLocked(g, f); msg != "" {
		return PreemptionPlan{Message: msg}, acts
	}

	// 1. Candidates: every group and lone pod on the nodes, with what its
	// eviction frees.
	candidates := m.candidatesLocked(g, nodes, f)

	// 2. Try eligible victims in order until the group fits, and 3. spare
	// what is not needed; a group with a required topology, in each of
	// its domains, keeping the one that evicts the fewest pods.
	_, placed := g.counts()
	items, required := m.itemsLocked(g, placed)
	all := m.roomsLocked(nodes.Rooms(), key)
	domains := map[string][]NodeRoom{"": all}
	if t := g.spec.Topology; t != nil && t.Required {
		domains = byDomain(all, t.Key)
	}
	var chosen []*Victim
	var plan *Placement
	var base []NodeRoom
	domain, tried := "", 0
	for _, d := range slices.Sorted(maps.Keys(domains)) {
		c, p, n := m.chooseVictimsLocked(logger, g, candidates, f, domains[d], items, required, allowed)
		tried = max(tried, n)
		if p != nil && (plan == nil || len(podsOf(c)) < len(podsOf(chosen))) {
			chosen, plan, base, domain = c, p, domains[d], d
		}
	}
	if plan == nil {
		return PreemptionPlan{Message: fmt.Sprintf("evicting every eligible group (%d) would not make room", tried)}, acts
	}
	if t := g.spec.Topology; t != nil && t.Required {
		domain = t.Key + "=" + domain
	}

	// 4. The victims chosen on resources and node constraints must also
	// make room by the scheduler's own filters, with their pods gone.
	if sim := simulationOf(nodes, podsOf(chosen)); sim != nil {
		p, short := Plan(logger, withFreed(base, chosen), items, required, sim)
		if short != nil {
			return PreemptionPlan{Message: fmt.Sprintf("evicting %d groups would make room, but not by the scheduler's filters: pod group %s %s",
				len(chosen), key, short.Message())}, acts
		}
		plan = p
	}

	// 5. Admit the group on the room the victims free; its members wait
	// until the victims are gone.
	victims := make([]Victim, len(chosen))
	var names []string
	g.victims = map[types.UID]Deletion{}
	for i, c := range chosen {
		victims[i] = *c
		if !c.Extra {
			metrics.PreemptedGroups.WithLabelValues(string(c.Queue)).Inc()
		}
		metrics.PreemptedPods.WithLabelValues(string(c.Queue)).Add(float64(len(c.Pods)))
		names = append(names, c.name)
		for _, p := range c.Pods {
			d := Deletion{Pod: p, Reason: v1.PodReasonPreemptionByScheduler,
				Message: fmt.Sprintf("preempting to accommodate the group of %s: %s", klog.KObj(pod), c.Why)}
			g.victims[p.UID] = d
			m.victimOf[p.UID] = key
			acts.Delete = append(acts.Delete, d)
		}
		if !c.Extra {
			m.evictLocked(c, g, &acts)
		}
	}
	m.shrinkLocked(chosen, g, &acts)
	m.admitLocked(logger, g, planResult{items: items, placement: plan, domain: domain}, pod, &acts)
	g.deadline = m.clock.Now().Add(m.cfg.VictimsTimeout)
	g.evicted = m.clock.Now()
	msg := fmt.Sprintf("pod group %s preempts %s (%d pods) to make room, and waits for them to exit", key, strings.Join(names, ", "), len(g.victims))
	m.eventLocked(g, &acts, v1.EventTypeNormal, ReasonPreempting, msg)
	logger.V(2).Info("Preempting for pod group", "podGroup", key, "victims", names)
	return PreemptionPlan{Victims: victims, Message: msg}, acts
}

// chooseVictimsLocked tries the eligible candidates in order until g fits
// on base with the room they free, then spares each again, most important
// first, if g fits without it. It returns the victims and the plan (nil
// when evicting every eligible one does not make room), and how many it
// tried.
func (m *Manager) chooseVictimsLocked(logger klog.Logger, g *Group, candidates []*Victim, f *fairness, base []NodeRoom,
	items []Item, required int, allowed func([]*v1.Pod) bool) ([]*Victim, *Placement, int) {
	allocated := map[queue.Name]resources.List{}
	for q, a := range f.allocated {
		allocated[q] = a.Clone()
	}
	inBase := make(map[string]bool, len(base))
	for _, r := range base {
		inBase[r.Name] = true
	}
	var chosen []*Victim
	var plan *Placement
	for _, c := range candidates {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(c.freed)), func(n string) bool { return inBase[n] }) {
			continue // it frees nothing where the group is planned
		}
		// A whole group takes the place of its extras chosen before it.
		var subsumed []*Victim
		if c.Group != nil && !c.Extra {
			subsumed = slices.DeleteFunc(slices.Clone(chosen), func(x *Victim) bool { return !x.Extra || *x.Group != *c.Group })
		}
		for _, x := range subsumed {
			if a := allocated[x.Queue]; a != nil {
				a.Add(x.total)
			}
		}
		// The budgets must allow the victims together, not each alone.
		if !m.eligibleVictimLocked(g, c, f, allocated) || !allowed(podsOf(append(slices.Clone(chosen), c))) {
			for _, x := range subsumed {
				if a := allocated[x.Queue]; a != nil {
					a.Sub(x.total)
				}
			}
			continue
		}
		if len(subsumed) > 0 {
			chosen = slices.DeleteFunc(chosen, func(x *Victim) bool { return slices.Contains(subsumed, x) })
		}
		chosen = append(chosen, c)
		if a := allocated[c.Queue]; a != nil {
			a.Sub(c.total)
		}
		if p, short := Plan(logger, withFreed(base, chosen), items, required, nil); short == nil {
			plan = p
			break
		}
	}
	if plan == nil {
		return nil, nil, len(chosen)
	}

	// 3. Spare what is not needed, most important first.
	for i := len(chosen) - 1; i >= 0 && len(chosen) > 1; i-- {
		without := slices.Delete(slices.Clone(chosen), i, i+1)
		if p, short := Plan(logger, withFreed(base, without), items, required, nil); short == nil {
			chosen, plan = without, p
		}
	}
	return chosen, plan, len(chosen)
}

// candidatesLocked lists the groups and lone pods on the nodes, in the
// order preemption tries them.
func (m *Manager) candidatesLocked(g *Group, nodes Nodes, f *fairness) []*Victim {
	units := map[string]*Victim{}
	nodeOf := map[types.UID]string{}
	for node, pods := range nodes.Pods() {
		for _, p := range pods {
			if _, taken := m.victimOf[p.UID]; p.DeletionTimestamp != nil || taken {
				continue
			}
			nodeOf[p.UID] = node
			k, inGroup := KeyOf(p)
			if inGroup && k == g.key {
				continue
			}
			id := "pod " + p.Namespace + "/" + p.Name
			if inGroup {
				id = "pod group " + k.String()
				if vg := m.groups[k]; vg != nil && vg.evicting {
					continue
				}
			}
			c := units[id]
			if c == nil {
				c = &Victim{name: id, freed: map[string]resources.List{}, total: resources.List{}, seq: -1}
				if inGroup {
					kk := k
					c.Group = &kk
				}
				units[id] = c
			}
			req := resources.PodRequests(p)
			c.Pods = append(c.Pods, p)
			if c.freed[node] == nil {
				c.freed[node] = resources.List{}
			}
			c.freed[node].Add(req)
			c.total.Add(req)
			c.Priority = max(c.Priority, podPriority(p))
			if t := p.CreationTimestamp.Time; t.After(c.newest) {
				c.newest = t
			}
		}
	}
	out := make([]*Victim, 0, len(units))
	for _, c := range units {
		if c.Group != nil {
			if vg := m.groups[*c.Group]; vg != nil {
				c.Queue = f.queueOf(*c.Group)
				c.Priority = max(c.Priority, vg.priority())
				// Its reservation goes with it.
				for node, r := range vg.reserved {
					if c.freed[node] == nil {
						c.freed[node] = resources.List{}
					}
					c.freed[node].Add(r)
				}
				out = append(out, extraVictims(c, vg, nodeOf)...)
			} else {
				c.Queue = m.namespaceQueueLocked(c.Pods[0].Namespace)
			}
		} else {
			c.Queue = m.namespaceQueueLocked(c.Pods[0].Namespace)
		}
		delete(c.total, resources.Pods)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *Victim) int {
		return cmp.Or(
			-cmp.Compare(b2i(a.Extra), b2i(b.Extra)),
			cmp.Compare(a.Priority, b.Priority),
			-cmp.Compare(f.dominantShare(a.Queue), f.dominantShare(b.Queue)),
			cmp.Compare(len(a.Pods), len(b.Pods)),
			-a.newest.Compare(b.newest),
			-cmp.Compare(a.seq, b.seq),
			cmp.Compare(a.name, b.name))
	})
	return out
}

// extraVictims lists the members of vg beyond its gang (Group.extras) that
// are on nodes, each a candidate of its own, evicted before any whole
// group: dynamic allocation's executors go first, newest first, and the
// group stays whole.
func extraVictims(whole *Victim, vg *Group, nodeOf map[types.UID]string) []*Victim {
	var out []*Victim
	for _, mb := range vg.extras() {
		node, on := nodeOf[mb.pod.UID]
		if !on {
			continue
		}
		req := resources.PodRequests(mb.pod)
		total := withoutPods(req)
		out = append(out, &Victim{
			Group: whole.Group, Pods: []*v1.Pod{mb.pod}, Queue: whole.Queue, Priority: whole.Priority, Extra: true,
			freed: map[string]resources.List{node: req}, total: total,
			name:   fmt.Sprintf("pod %s/%s (beyond the gang of pod group %s)", mb.pod.Namespace, mb.pod.Name, vg.key),
			newest: mb.pod.CreationTimestamp.Time, seq: execID(mb.pod),
		})
	}
	return out
}

// podsOf lists the victims' pods.
func podsOf(victims []*Victim) []*v1.Pod {
	var pods []*v1.Pod
	for _, v := range victims {
		pods = append(pods, v.Pods...)
	}
	return pods
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// namespaceQueueLocked is the queue of a pod in no group.
func (m *Manager) namespaceQueueLocked(namespace string) queue.Name {
	if q, ok := m.tree.NamespaceQueue(namespace); ok {
		return q
	}
	return v1alpha1.DefaultQueue
}

// eligibleVictimLocked applies the preemption policy to one candidate, given
// what each queue would still hold after the victims chosen so far. It sets
// the candidate's Why.
func (m *Manager) eligibleVictimLocked(g *Group, c *Victim, f *fairness, allocated map[queue.Name]resources.List) bool {
	own := f.queueOf(g.key)
	prio := g.priority()
	// Within the preemptor's queue: strictly lower priority.
	if c.Queue == own {
		if c.Priority < prio {
			c.Why = fmt.Sprintf("priority %d below the preemptor's %d in queue %s", c.Priority, prio, own)
			return true
		}
		return false
	}
	// Across queues: reclaim what the victim's queue borrows.
	need := g.demand()
	ownAfter := f.standing(own).With(need)
	if ownAfter.OverOn(need) {
		return false // the preemptor's queue would go beyond its own share
	}
	vq := m.tree.Get(c.Queue)
	before := allocated[c.Queue]
	if vq == nil || before == nil || !(queue.Standing{Allocated: before, Share: f.shares[c.Queue]}).Borrows() {
		return false // the victim's queue does not borrow
	}
	after := queue.Standing{Allocated: before, Share: f.shares[c.Queue]}.Without(c.total)
	for name, gv := range vq.Guaranteed {
		if c.total[name] > 0 && after.Allocated[name] < gv {
			return false // never below its guaranteed resources
		}
	}
	if queue.Compare(after, ownAfter) < 0 {
		return false // it would end up worse off than the preemptor's queue
	}
	c.Why = fmt.Sprintf("queue %s holds %s, above its fair share of %s", c.Queue, before, f.shares[c.Queue])
	return true
}

// withFreed adds what the victims free to the rooms.
func withFreed(base []NodeRoom, victims []*Victim) []NodeRoom {
	freed := map[string]resources.List{}
	for _, v := range victims {
		for node, r := range v.freed {
			if freed[node] == nil {
				freed[node] = resources.List{}
			}
			freed[node].Add(r)
		}
	}
	out := slices.Clone(base)
	for i := range out {
		if r := freed[out[i].Name]; r != nil {
			out[i].setFree(out[i].Free.Clone())
			out[i].Free.Add(r)
		}
	}
	return out
}

// shrinkLocked records, in one Event per group, the members beyond their
// gang that g takes (the group runs on without them), newest first.
func (m *Manager) shrinkLocked(chosen []*Victim, g *Group, acts *Actions) {
	taken := map[Key][]string{}
	why := map[Key]string{}
	var order []Key
	for _, c := range chosen {
		if !c.Extra {
			continue
		}
		k := *c.Group
		if _, seen := taken[k]; !seen {
			order = append(order, k)
			why[k] = c.Why
		}
		taken[k] = append(taken[k], klog.KObj(c.Pods[0]).String())
	}
	for _, k := range order {
		if vg := m.groups[k]; vg != nil {
			m.eventLocked(vg, acts, v1.EventTypeNormal, ReasonPreempted,
				fmt.Sprintf("%d members beyond the gang (%s) preempted by pod group %s (queue %s, priority %d): %s; the group runs on",
					len(taken[k]), strings.Join(taken[k], ", "), g.key, m.queueOfLocked(g), g.priority(), why[k]))
		}
	}
}

// evictLocked marks a victim group as being evicted for g: its reservation
// is freed, and Events record why, on both sides.
func (m *Manager) evictLocked(c *Victim, g *Group, acts *Actions) {
	msg := fmt.Sprintf("preempted by pod group %s (queue %s, priority %d): %s", g.key, m.queueOfLocked(g), g.priority(), c.Why)
	if c.Group == nil {
		acts.Events = append(acts.Events, Event{Object: c.Pods[0], Type: v1.EventTypeNormal, Reason: ReasonPreempted, Message: msg})
		return
	}
	vg := m.groups[*c.Group]
	if vg == nil {
		return
	}
	vg.evicting = true
	m.setReservedLocked(vg, nil, metrics.ReservationFreed, acts)
	m.eventLocked(vg, acts, v1.EventTypeNormal, ReasonPreempted, msg)
}

// victimGoneLocked notes that a pod some group preempted has gone: when the
// last one goes, the group's members may be placed, within the permit
// timeout from now.
func (m *Manager) victimGoneLocked(uid types.UID, acts *Actions) {
	key, ok := m.victimOf[uid]
	if !ok {
		return
	}
	delete(m.victimOf, uid)
	g := m.groups[key]
	if g == nil {
		return
	}
	if _, ok := g.victims[uid]; !ok {
		return
	}
	delete(g.victims, uid)
	if len(g.victims) == 0 && g.phase == PhaseAdmitted {
		g.deadline = m.clock.Now().Add(m.permitTimeoutLocked(g))
		acts.Activate = append(acts.Activate, g.pendingPods()...)
	}
}

// evictRetry is how often the evictions of victims that have not left are
// issued again (an eviction may fail, and nothing else retries it).
const evictRetry = 10 * time.Second

// retryEvictionsLocked issues again the evictions of g's victims still
// there, evictRetry after the last time.
func (m *Manager) retryEvictionsLocked(g *Group, now time.Time, acts *Actions) {
	if len(g.victims) == 0 || now.Sub(g.evicted) < evictRetry {
		return
	}
	g.evicted = now
	for _, uid := range slices.Sorted(maps.Keys(g.victims)) {
		acts.Delete = append(acts.Delete, g.victims[uid])
	}
}

// forgetVictimsLocked drops g's victims (it was released).
func (m *Manager) forgetVictimsLocked(g *Group) {
	for uid := range g.victims {
		delete(m.victimOf, uid)
	}
	g.victims = nil
}
