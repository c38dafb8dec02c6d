// Package resources holds resource vectors: pod requests, free room on a node
// and reserved room, as int64 amounts per resource name (CPU in millicores,
// everything else in its base unit), with the arithmetic the planner, the
// reservation ledger and the queue maths share.
package resources

import (
	"fmt"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// List maps a resource name to an amount: millicores for cpu, the base unit
// (bytes, devices, pods) for everything else. A missing name means zero.
type List map[v1.ResourceName]int64

// Pods is the pseudo-resource that counts pods, so that a node's pod limit is
// checked like any other resource.
const Pods = v1.ResourcePods

// FromResourceList converts a Kubernetes ResourceList; zero amounts are dropped.
func FromResourceList(rl v1.ResourceList) List {
	out := make(List, len(rl))
	for name, q := range rl {
		if v := amount(name, q); v != 0 {
			out[name] = v
		}
	}
	return out
}

// PodRequests returns what a pod requests, computed as the scheduler does
// (containers, init and sidecar containers, pod-level requests and overhead),
// plus one pod.
func PodRequests(pod *v1.Pod) List {
	out := FromResourceList(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))
	out[Pods] = 1
	return out
}

// amount turns a quantity into the integer unit of List.
func amount(name v1.ResourceName, q resource.Quantity) int64 {
	if name == v1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

// Clone returns a copy; the copy of a nil List is an empty List.
func (l List) Clone() List {
	out := make(List, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}

// Add adds o to l in place.
func (l List) Add(o List) {
	for k, v := range o {
		l[k] += v
	}
}

// Sub subtracts o from l in place; results may be negative.
func (l List) Sub(o List) {
	for k, v := range o {
		l[k] -= v
	}
}

// Scaled returns l times n.
func (l List) Scaled(n int64) List {
	out := make(List, len(l))
	for k, v := range l {
		out[k] = v * n
	}
	return out
}

// Fits reports whether every positive amount of l is covered by room.
func (l List) Fits(room List) bool {
	for k, v := range l {
		if v > 0 && room[k] < v {
			return false
		}
	}
	return true
}

// IsZero reports whether no amount is positive.
func (l List) IsZero() bool {
	for _, v := range l {
		if v > 0 {
			return false
		}
	}
	return true
}

// NonNegative returns a copy with negative amounts raised to zero.
func (l List) NonNegative() List {
	out := make(List, len(l))
	for k, v := range l {
		if v > 0 {
			out[k] = v
		}
	}
	return out
}

// Min returns the element-wise minimum of l and o over the names of l.
func (l List) Min(o List) List {
	out := make(List, len(l))
	for k, v := range l {
		out[k] = min(v, o[k])
	}
	return out
}

// Equal reports whether both lists hold the same amounts, a missing name
// counting as zero.
func (l List) Equal(o List) bool {
	for k, v := range l {
		if o[k] != v {
			return false
		}
	}
	for k, v := range o {
		if l[k] != v {
			return false
		}
	}
	return true
}

// Names returns the resource names of l in sorted order.
func (l List) Names() []v1.ResourceName {
	names := make([]v1.ResourceName, 0, len(l))
	for k := range l {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// ToResourceList converts back to a Kubernetes ResourceList.
func (l List) ToResourceList() v1.ResourceList {
	out := make(v1.ResourceList, len(l))
	for k, v := range l {
		switch k {
		case v1.ResourceCPU:
			out[k] = *resource.NewMilliQuantity(v, resource.DecimalSI)
		case v1.ResourceMemory, v1.ResourceEphemeralStorage:
			out[k] = *resource.NewQuantity(v, resource.BinarySI)
		default:
			out[k] = *resource.NewQuantity(v, resource.DecimalSI)
		}
	}
	return out
}

// String renders l for people, cpu first, then memory, then the rest by name,
// pods left out: "cpu 4, memory 8Gi, nvidia.com/gpu 1".
func (l List) String() string {
	var parts []string
	for _, name := range l.orderedNames() {
		if name == Pods {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s", name, Format(name, l[name])))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

func (l List) orderedNames() []v1.ResourceName {
	names := l.Names()
	rank := func(n v1.ResourceName) int {
		switch n {
		case v1.ResourceCPU:
			return 0
		case v1.ResourceMemory:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(names, func(a, b v1.ResourceName) int { return rank(a) - rank(b) })
	return names
}

// Format renders one amount in the unit people use for that resource.
func Format(name v1.ResourceName, v int64) string {
	switch name {
	case v1.ResourceCPU:
		return resource.NewMilliQuantity(v, resource.DecimalSI).String()
	case v1.ResourceMemory, v1.ResourceEphemeralStorage:
		return resource.NewQuantity(v, resource.BinarySI).String()
	}
	return resource.NewQuantity(v, resource.DecimalSI).String()
}

// Parse reads "cpu=1,memory=4Gi,nvidia.com/gpu=1" (the format of gangsched's
// annotations). Names are resource names, values Kubernetes quantities.
func Parse(s string) (List, error) {
	out := List{}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty resource list")
	}
	for _, part := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not name=quantity", part)
		}
		q, err := resource.ParseQuantity(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if q.Sign() < 0 {
			return nil, fmt.Errorf("%s: must not be negative", name)
		}
		out[v1.ResourceName(name)] += amount(v1.ResourceName(name), q)
	}
	return out, nil
}
