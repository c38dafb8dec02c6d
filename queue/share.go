package queue

import (
	"cmp"
	"math"

	"github.com/gangsched/gangsched/resources"
)

// Standing is where one queue stands against its fair share: what it holds
// and what it is entitled to, with every comparison the scheduler makes of
// the two (which queue is served first, which may be preempted, whether a
// group would take its queue over its share). The pod count is not a
// resource fair share divides: it is left out of every comparison.
type Standing struct {
	// Allocated is what the queue's admitted groups hold.
	Allocated resources.List
	// Share is its fair share (Tree.FairShares).
	Share resources.List
}

// DominantShare is how far the queue is into its fair share: its largest
// Allocated/Share over the resources it holds (dominant resource fairness,
// as Kueue's fair sharing and YuniKorn's DRF order queues). 0 holds
// nothing; a queue holding a resource it has no share of is +Inf.
func (s Standing) DominantShare() float64 {
	r := 0.0
	for name, a := range s.Allocated {
		if name == resources.Pods || a <= 0 {
			continue
		}
		share := s.Share[name]
		if share <= 0 {
			return math.Inf(1)
		}
		r = max(r, float64(a)/float64(share))
	}
	return r
}

// Compare orders two standings by dominant share, lower first: the queue
// further below its fair share is served first and preempted last. It is
// a total order on the values DominantShare takes (+Inf last).
func Compare(a, b Standing) int {
	return cmp.Compare(a.DominantShare(), b.DominantShare())
}

// With returns the standing once need is allocated too.
func (s Standing) With(need resources.List) Standing {
	alloc := s.Allocated.Clone()
	alloc.Add(need)
	return Standing{Allocated: alloc, Share: s.Share}
}

// Without returns the standing once freed is given back.
func (s Standing) Without(freed resources.List) Standing {
	alloc := s.Allocated.Clone()
	alloc.Sub(freed)
	return Standing{Allocated: alloc, Share: s.Share}
}

// Borrows reports whether the queue holds more than its fair share of
// some resource: room it may have to give back.
func (s Standing) Borrows() bool {
	for name, a := range s.Allocated {
		if name != resources.Pods && a > s.Share[name] {
			return true
		}
	}
	return false
}

// OverOn reports whether the queue holds more than its fair share of one
// of the resources need asks for (a positive amount): for a standing With
// a group's need, whether admitting the group takes the queue beyond its
// share where the group adds to it.
func (s Standing) OverOn(need resources.List) bool {
	for name, n := range need {
		if name != resources.Pods && n > 0 && s.Allocated[name] > s.Share[name] {
			return true
		}
	}
	return false
}
