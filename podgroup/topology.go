package podgroup

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"

	"github.com/gangsched/gangsched/resources"
)

// Annotations by which a group asks to be placed inside one domain of a
// node label (a zone, a rack: the value is the label's key), on its
// PodGroup or Spark driver, as Kueue's podset-required-topology and
// podset-preferred-topology ask it of a PodSet.
const (
	// AnnotationRequiredTopology: the group is admitted only when it fits
	// whole on the nodes of one domain, and its members are placed there.
	AnnotationRequiredTopology = "gangsched.io/required-topology"
	// AnnotationPreferredTopology: the group is placed in one domain when
	// one fits it whole, and spread over the nodes otherwise.
	AnnotationPreferredTopology = "gangsched.io/preferred-topology"
)

// Topology is a group's ask to be placed in one domain of a node label.
type Topology struct {
	// Key is the node label whose values are the domains.
	Key string
	// Required: the group waits until one domain fits it whole.
	Required bool
}

// topologyOf reads the topology annotations, adding an error naming the
// field when the key is not a label key or both are set.
func topologyOf(annotations map[string]string, errs *field.ErrorList) *Topology {
	path := field.NewPath("metadata", "annotations")
	req, hasReq := annotations[AnnotationRequiredTopology]
	pref, hasPref := annotations[AnnotationPreferredTopology]
	var t *Topology
	switch {
	case hasReq && hasPref:
		*errs = append(*errs, field.Forbidden(path.Key(AnnotationPreferredTopology),
			fmt.Sprintf("may not be set with %s", AnnotationRequiredTopology)))
		return nil
	case hasReq:
		t = &Topology{Key: req, Required: true}
	case hasPref:
		t = &Topology{Key: pref}
	default:
		return nil
	}
	if msgs := validation.IsQualifiedName(t.Key); len(msgs) > 0 {
		name := AnnotationPreferredTopology
		if t.Required {
			name = AnnotationRequiredTopology
		}
		*errs = append(*errs, field.Invalid(path.Key(name), t.Key, "must be a node label key: "+strings.Join(msgs, "; ")))
		return nil
	}
	return t
}

// maxDomainsNamed bounds how many domains a message names.
const maxDomainsNamed = 3

// planInDomainLocked plans g inside one domain of its topology: of the
// domains it fits whole, the one it fills best (the least room left, so
// that larger groups keep the roomier domains), checked with the
// profile's filters. It returns the plan, or why no domain fits.
func (m *Manager) planInDomainLocked(logger klog.Logger, g *Group, rooms []NodeRoom, items []Item, required int, nodes Nodes) (planResult, string) {
	t := g.spec.Topology
	byDomain := byDomain(rooms, t.Key)
	if len(byDomain) == 0 {
		return planResult{}, fmt.Sprintf("no node has label %s", t.Key)
	}
	type fit struct {
		value string
		free  resources.List
	}
	var fits []fit
	var why []string
	for _, v := range slices.Sorted(maps.Keys(byDomain)) {
		if _, short := newPlanner(logger, byDomain[v], items, required, nil).plan(nil, true); short != nil {
			why = append(why, fmt.Sprintf("%s=%s %s", t.Key, v, short.Message()))
			continue
		}
		free := resources.List{}
		for _, r := range byDomain[v] {
			free.Add(r.Free)
		}
		fits = append(fits, fit{value: v, free: free})
	}
	slices.SortFunc(fits, func(a, b fit) int {
		return cmp.Or(cmp.Compare(a.free[v1.ResourceCPU], b.free[v1.ResourceCPU]),
			cmp.Compare(a.free[v1.ResourceMemory], b.free[v1.ResourceMemory]), cmp.Compare(a.value, b.value))
	})
	for _, f := range fits {
		planner := newPlanner(logger, byDomain[f.value], items, required, nil)
		placement, short := planner.plan(simulationOf(nodes, nil), true)
		if short != nil {
			why = append(why, fmt.Sprintf("%s=%s %s", t.Key, f.value, short.Message()))
			continue
		}
		return planResult{items: items, placement: placement, domain: t.Key + "=" + f.value}, ""
	}
	if len(why) > maxDomainsNamed {
		why = append(why[:maxDomainsNamed], fmt.Sprintf("and %d more", len(why)-maxDomainsNamed))
	}
	return planResult{}, fmt.Sprintf("fits in no %s of %d: %s", t.Key, len(byDomain), strings.Join(why, "; "))
}

// byDomain groups the rooms of the nodes that have label key by its value.
func byDomain(rooms []NodeRoom, key string) map[string][]NodeRoom {
	out := map[string][]NodeRoom{}
	for _, r := range rooms {
		if r.Node == nil {
			continue
		}
		if v, ok := r.Node.Labels[key]; ok {
			out[v] = append(out[v], r)
		}
	}
	return out
}

// Domain returns the node label and value the members of an admitted group
// with a required topology must be placed in; ok is false for any other
// group.
func (m *Manager) Domain(key Key) (label, value string, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[key]
	if g == nil || g.spec.Topology == nil || !g.spec.Topology.Required || g.domain == "" ||
		(g.phase != PhaseAdmitted && g.phase != PhaseRunning) {
		return "", "", false
	}
	label, value, _ = strings.Cut(g.domain, "=")
	return label, value, true
}
