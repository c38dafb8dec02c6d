// Package queue is gangsched's queue layer: the tree of Queues with their
// validation, each queue's fair share of the cluster (hierarchical weighted
// max-min fairness on dominant resource share), and the orders and rules
// admission and preemption follow. It is pure: podgroup.Manager feeds it
// queues, capacity and usage, and asks it questions.
package queue

import (
	"cmp"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/resources"
)

// Name is a queue's name.
type Name string

// Node is one queue of the tree.
type Node struct {
	Name   Name
	Parent Name
	// Weight, Guaranteed and Max are the queue's spec; Weight defaults to 1.
	Weight     float64
	Guaranteed resources.List
	Max        resources.List
	// Errs says what is wrong with the queue; an invalid queue is left out
	// of the tree, and so are its descendants.
	Errs     field.ErrorList
	children []*Node
	parent   *Node
}

// Valid reports whether the queue is usable.
func (n *Node) Valid() bool { return len(n.Errs) == 0 }

// Tree is the queue hierarchy.
type Tree struct {
	nodes map[Name]*Node
	roots []*Node
	// namespaces maps a namespace to the queue that owns it.
	namespaces map[string]Name
}

// Build validates the queues and links them into a tree, with a default
// queue (weight 1, no limits) when queues has none. Objects may come in
// any order; a queue is invalid when its weight is negative, a guaranteed
// amount exceeds its max, its parent does not exist or is invalid, or it is
// on a cycle. Namespaces claimed by two queues go to the first by name.
func Build(queues []*v1alpha1.Queue) *Tree {
	t := &Tree{nodes: map[Name]*Node{}, namespaces: map[string]Name{}}
	sorted := slices.Clone(queues)
	slices.SortFunc(sorted, func(a, b *v1alpha1.Queue) int { return cmp.Compare(a.Name, b.Name) })
	for _, q := range sorted {
		t.nodes[Name(q.Name)] = nodeOf(q)
	}
	// The default queue exists even before its object does.
	if _, ok := t.nodes[v1alpha1.DefaultQueue]; !ok {
		t.nodes[v1alpha1.DefaultQueue] = &Node{Name: v1alpha1.DefaultQueue, Weight: 1}
		sorted = append(sorted, &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultQueue}})
		slices.SortFunc(sorted, func(a, b *v1alpha1.Queue) int { return cmp.Compare(a.Name, b.Name) })
	}
	// Parents must exist; cycles are found by walking up.
	spec := field.NewPath("spec")
	for _, n := range t.nodes {
		if n.Parent == "" {
			continue
		}
		if _, ok := t.nodes[n.Parent]; !ok {
			n.Errs = append(n.Errs, field.NotFound(spec.Child("parent"), string(n.Parent)))
		} else if t.onCycle(n) {
			n.Errs = append(n.Errs, field.Invalid(spec.Child("parent"), string(n.Parent), "forms a cycle of parents"))
		}
	}
	// A queue under an invalid queue is unusable too.
	invalid := map[Name]bool{}
	for _, n := range t.nodes {
		if !n.Valid() {
			invalid[n.Name] = true
		}
	}
	for _, n := range t.nodes {
		if n.Valid() {
			if bad := t.invalidAncestor(n, invalid); bad != "" {
				n.Errs = append(n.Errs, field.Invalid(spec.Child("parent"), string(n.Parent), fmt.Sprintf("ancestor queue %s is invalid", bad)))
			}
		}
	}
	for _, q := range sorted {
		n := t.nodes[Name(q.Name)]
		// An invalid queue still owns its namespaces: their groups wait
		// for it to be fixed rather than slip into another queue.
		for _, ns := range q.Spec.Namespaces {
			if _, taken := t.namespaces[ns]; !taken {
				t.namespaces[ns] = n.Name
			}
		}
		if !n.Valid() {
			continue
		}
		if n.Parent == "" {
			t.roots = append(t.roots, n)
		} else {
			p := t.nodes[n.Parent]
			n.parent = p
			p.children = append(p.children, n)
		}
	}
	return t
}

func nodeOf(q *v1alpha1.Queue) *Node {
	n := &Node{Name: Name(q.Name), Parent: Name(q.Spec.Parent), Weight: 1}
	spec := field.NewPath("spec")
	if q.Spec.Weight != nil {
		if *q.Spec.Weight < 0 {
			n.Errs = append(n.Errs, field.Invalid(spec.Child("weight"), *q.Spec.Weight, "must not be negative"))
		}
		n.Weight = float64(*q.Spec.Weight)
	}
	n.Guaranteed = resources.FromResourceList(q.Spec.Guaranteed)
	if q.Spec.Max != nil {
		n.Max = resources.FromResourceList(q.Spec.Max)
		for name, m := range q.Spec.Max {
			if m.Sign() < 0 {
				n.Errs = append(n.Errs, field.Invalid(spec.Child("max").Key(string(name)), m.String(), "must not be negative"))
			}
		}
	}
	for name, g := range q.Spec.Guaranteed {
		if g.Sign() < 0 {
			n.Errs = append(n.Errs, field.Invalid(spec.Child("guaranteed").Key(string(name)), g.String(), "must not be negative"))
			continue
		}
		if m, capped := q.Spec.Max[name]; capped && g.Cmp(m) > 0 {
			n.Errs = append(n.Errs, field.Invalid(spec.Child("guaranteed").Key(string(name)), g.String(),
				fmt.Sprintf("must not exceed spec.max[%s] (%s)", name, m.String())))
		}
	}
	return n
}

// onCycle reports whether walking up from n comes back to n.
func (t *Tree) onCycle(n *Node) bool {
	seen := map[Name]bool{}
	for cur := t.nodes[n.Parent]; cur != nil; cur = t.nodes[cur.Parent] {
		if cur.Name == n.Name {
			return true
		}
		if seen[cur.Name] {
			return false // a cycle above n, not through it
		}
		seen[cur.Name] = true
	}
	return false
}

// invalidAncestor returns the nearest queue above n that is in invalid, or "".
func (t *Tree) invalidAncestor(n *Node, invalid map[Name]bool) Name {
	seen := map[Name]bool{}
	for cur := t.nodes[n.Parent]; cur != nil && !seen[cur.Name]; cur = t.nodes[cur.Parent] {
		seen[cur.Name] = true
		if invalid[cur.Name] {
			return cur.Name
		}
	}
	return ""
}

// Get returns the named queue, or nil.
func (t *Tree) Get(name Name) *Node { return t.nodes[name] }

// Names lists every queue, valid or not, by name.
func (t *Tree) Names() []Name {
	names := make([]Name, 0, len(t.nodes))
	for n := range t.nodes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// IsLeaf reports whether the queue has no valid children.
func (n *Node) IsLeaf() bool { return len(n.children) == 0 }

// Ancestry returns the queue and its ancestors, nearest first.
func (n *Node) Ancestry() []*Node {
	var out []*Node
	for cur := n; cur != nil; cur = cur.parent {
		out = append(out, cur)
	}
	return out
}

// NamespaceQueue returns the queue that owns a namespace, if any.
func (t *Tree) NamespaceQueue(namespace string) (Name, bool) {
	q, ok := t.namespaces[namespace]
	return q, ok
}

// FairShares divides capacity over the valid queues, level by level: the
// roots share capacity, each queue's children share what it got (see
// Divide). demand gives each leaf queue's demand; a parent's demand is the
// sum of its children's. The result has an entry for every valid queue.
func (t *Tree) FairShares(capacity resources.List, demand map[Name]resources.List) map[Name]resources.List {
	subtree := map[Name]resources.List{}
	var total func(n *Node) resources.List
	total = func(n *Node) resources.List {
		d := demand[n.Name].Clone()
		for _, c := range n.children {
			d.Add(total(c))
		}
		subtree[n.Name] = d
		return d
	}
	for _, r := range t.roots {
		total(r)
	}
	shares := map[Name]resources.List{}
	var divide func(pool resources.List, level []*Node)
	divide = func(pool resources.List, level []*Node) {
		ents := make([]Entitlement, len(level))
		for i, n := range level {
			ents[i] = Entitlement{Weight: n.Weight, Guaranteed: n.Guaranteed, Max: n.Max, Demand: subtree[n.Name]}
		}
		for i, share := range Divide(pool, capacity, ents) {
			shares[level[i].Name] = share
			if len(level[i].children) > 0 {
				divide(share, level[i].children)
			}
		}
	}
	divide(capacity, t.roots)
	return shares
}
