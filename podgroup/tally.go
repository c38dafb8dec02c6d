package podgroup

import (
	"fmt"
	"maps"
	"slices"

	"github.com/gangsched/gangsched/queue"
	"github.com/gangsched/gangsched/resources"
)

// tally is what one group counts toward the queues, as last counted: an
// admitted or running group holds its placed members and reserved room in
// its queue and every queue above it; a pending group with members waits
// for its demand in its queue.
type tally struct {
	queue queue.Name
	// into lists the queues its holding counts in (its queue and those
	// above it; its queue alone when that is missing or invalid).
	into []queue.Name
	// admitted and waiting say which of the two it counts as, if either.
	admitted, waiting bool
	// amount is its holding (admitted) or its demand (waiting).
	amount resources.List
	// beyond is what an admitted group's pending members beyond its
	// reservation request (executors dynamic allocation adds): demand of
	// its queue that holds nothing yet.
	beyond resources.List
}

func (t tally) equal(o tally) bool {
	return t.queue == o.queue && slices.Equal(t.into, o.into) && t.admitted == o.admitted &&
		t.waiting == o.waiting && t.amount.Equal(o.amount) && t.beyond.Equal(o.beyond)
}

// usage is the queues' sums over every group's tally, kept as groups
// change (as Kueue's cache keeps each ClusterQueue's usage), so taking
// stock of the queues costs the number of queues, not of groups.
type usage struct {
	allocated map[queue.Name]resources.List // subtree sums
	pending   map[queue.Name]resources.List // waiting groups and members beyond a gang
	beyond    map[queue.Name]resources.List // members beyond a gang, of pending
	demand    map[queue.Name]resources.List // pending and held, the queue's own groups
	admitted  map[queue.Name]int32
	waiting   map[queue.Name]int32
}

func newUsage() *usage {
	return &usage{
		allocated: map[queue.Name]resources.List{},
		pending:   map[queue.Name]resources.List{},
		beyond:    map[queue.Name]resources.List{},
		demand:    map[queue.Name]resources.List{},
		admitted:  map[queue.Name]int32{},
		waiting:   map[queue.Name]int32{},
	}
}

// count adds t (sign 1) or takes it away (sign -1).
func (u *usage) count(t tally, sign int64) {
	switch {
	case t.admitted:
		addTo(u.demand, t.queue, t.amount, sign)
		for _, q := range t.into {
			addTo(u.allocated, q, t.amount, sign)
		}
		addCount(u.admitted, t.queue, sign)
		addTo(u.demand, t.queue, t.beyond, sign)
		addTo(u.pending, t.queue, t.beyond, sign)
		addTo(u.beyond, t.queue, t.beyond, sign)
	case t.waiting:
		addTo(u.demand, t.queue, t.amount, sign)
		addTo(u.pending, t.queue, t.amount, sign)
		addCount(u.waiting, t.queue, sign)
	}
}

// addTo adds sign times l to sums[q], dropping the amounts (and the key)
// that come to zero, as if never counted.
func addTo[K comparable](sums map[K]resources.List, q K, l resources.List, sign int64) {
	s := sums[q]
	if s == nil {
		s = resources.List{}
		sums[q] = s
	}
	for name, v := range l {
		if s[name] += sign * v; s[name] == 0 {
			delete(s, name)
		}
	}
	if len(s) == 0 {
		delete(sums, q)
	}
}

func addCount(counts map[queue.Name]int32, q queue.Name, sign int64) {
	if counts[q] += int32(sign); counts[q] == 0 {
		delete(counts, q)
	}
}

// tallyOfLocked works out what g counts toward the queues now.
func (m *Manager) tallyOfLocked(g *Group) tally {
	t := tally{queue: m.queueOfLocked(g)}
	switch g.phase {
	case PhaseAdmitted, PhaseRunning:
		t.admitted, t.amount, t.beyond = true, g.holding(), g.beyondReservation()
		// Allocation counts up the tree, so a parent's max holds.
		if n := m.tree.Get(t.queue); n != nil && n.Valid() {
			for _, a := range n.Ancestry() {
				t.into = append(t.into, a.Name)
			}
		} else {
			t.into = []queue.Name{t.queue}
		}
	case PhasePending:
		if live, _ := g.counts(); live > 0 {
			t.waiting, t.amount = true, g.demand()
		}
	}
	return t
}

// countLocked brings g's tally, and the queues' sums, up to date with its
// state. Every change of a group's phase, members, reservation, spec,
// PodGroup or driver calls it (through changedLocked), and tests check at
// every unlock that none was missed (verifyDerived).
func (m *Manager) countLocked(g *Group) {
	if m.groups[g.key] != g {
		return // forgotten: forgetGroupLocked took its tally away
	}
	t := m.tallyOfLocked(g)
	if t.equal(g.tally) {
		return
	}
	m.usage.count(g.tally, -1)
	m.usage.count(t, 1)
	g.tally = t
	if t.waiting {
		m.waitingGroups[g.key] = g
	} else {
		delete(m.waitingGroups, g.key)
	}
}

// recountLocked counts every group again, after the queue tree changed
// (queues, their parents and the namespaces they own).
func (m *Manager) recountLocked() {
	for _, g := range m.groups {
		m.countLocked(g)
	}
}

// changedLocked updates what is derived from g's state: its published
// queue order and its tally.
func (m *Manager) changedLocked(g *Group) {
	m.publishOrderLocked(g)
	m.countLocked(g)
}

// verifyTallies says how the kept tallies differ from a count from
// scratch, or "".
func (m *Manager) verifyTallies() string {
	fresh := newUsage()
	for _, key := range sortedKeys(m.groups) {
		g := m.groups[key]
		if want := m.tallyOfLocked(g); !want.equal(g.tally) {
			return fmt.Sprintf("pod group %s: tally %+v, its state says %+v", key, g.tally, want)
		}
		fresh.count(g.tally, 1)
		if _, listed := m.waitingGroups[key]; listed != g.tally.waiting {
			return fmt.Sprintf("pod group %s: listed as waiting %t, its tally says %t", key, listed, g.tally.waiting)
		}
	}
	if len(m.waitingGroups) != int(sum(m.usage.waiting)) {
		return fmt.Sprintf("%d groups listed as waiting, the queues count %d", len(m.waitingGroups), sum(m.usage.waiting))
	}
	for _, c := range []struct {
		name      string
		got, want map[queue.Name]resources.List
	}{
		{"allocated", m.usage.allocated, fresh.allocated},
		{"pending", m.usage.pending, fresh.pending},
		{"beyond", m.usage.beyond, fresh.beyond},
		{"demand", m.usage.demand, fresh.demand},
	} {
		if !maps.EqualFunc(c.got, c.want, resources.List.Equal) {
			return fmt.Sprintf("queues' %s %v, their groups' tallies sum to %v", c.name, c.got, c.want)
		}
	}
	if !maps.Equal(m.usage.admitted, fresh.admitted) || !maps.Equal(m.usage.waiting, fresh.waiting) {
		return fmt.Sprintf("queues' groups admitted %v and waiting %v, their tallies count %v and %v",
			m.usage.admitted, m.usage.waiting, fresh.admitted, fresh.waiting)
	}
	return ""
}

func sum(counts map[queue.Name]int32) int32 {
	var n int32
	for _, c := range counts {
		n += c
	}
	return n
}
