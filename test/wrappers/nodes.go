package wrappers

import (
	"fmt"

	v1 "k8s.io/api/core/v1"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
)

// Nodes is a podgroup.Nodes for unit tests: the rooms given, the pods bound
// on them, and a version (the number of rooms unless Ver is set).
type Nodes struct {
	List  []podgroup.NodeRoom
	Bound map[string][]*v1.Pod
	Ver   uint64
}

var _ podgroup.Nodes = &Nodes{}

// Version tells whether the nodes changed (see podgroup.Nodes).
func (n *Nodes) Version() uint64 {
	if n.Ver != 0 {
		return n.Ver
	}
	return uint64(len(n.List))
}

// Rooms lists the nodes' room.
func (n *Nodes) Rooms() []podgroup.NodeRoom { return n.List }

// Pods lists the pods bound on each node.
func (n *Nodes) Pods() map[string][]*v1.Pod { return n.Bound }

// EmptyNodes returns n empty nodes named a, b, c, … of cpu cores, 64Gi and
// 110 pods each.
func EmptyNodes(n int, cpu int64) *Nodes {
	out := make([]podgroup.NodeRoom, n)
	for i := range out {
		name := string(rune('a' + i))
		if i >= 26 {
			name = fmt.Sprintf("n%d", i)
		}
		out[i] = podgroup.NodeRoom{Name: name, Node: MakeNode(name).Obj(), Free: resources.List{"cpu": cpu * 1000, "memory": 64 << 30, "pods": 110}}
	}
	return &Nodes{List: out}
}
