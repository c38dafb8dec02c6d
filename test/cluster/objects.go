package cluster

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// defaultMaxPods is the pod capacity CreateNodes gives a node whose capacity
// does not set one, the kubelet's default.
const defaultMaxPods = 110

// createWorkers bounds the concurrent API calls of CreateNodes.
const createWorkers = 16

// CreateNodes creates n nodes named <prefix>-0 ... <prefix>-<n-1> as plain
// API objects (no kubelet): capacity and allocatable are capacity, plus
// pods: 110 when capacity has no pod count, the labels are labels plus
// kubernetes.io/hostname, the Ready condition is True and there are no
// taints. It returns the nodes as stored, in name order.
//
// The API server keeps a node's status on create (nodes are the exception
// among built-in kinds), so each node takes one request; should the status
// come back empty anyway, it is written with UpdateStatus.
func (c *Cluster) CreateNodes(ctx context.Context, prefix string, n int, capacity v1.ResourceList, labels map[string]string) ([]*v1.Node, error) {
	return c.CreateAnnotatedNodes(ctx, prefix, n, capacity, labels, nil)
}

// CreateAnnotatedNodes is CreateNodes with annotations on every node (for
// example the one that hands nodes to kwok).
func (c *Cluster) CreateAnnotatedNodes(ctx context.Context, prefix string, n int, capacity v1.ResourceList, labels, annotations map[string]string) ([]*v1.Node, error) {
	logger := klog.FromContext(ctx)
	nodes := make([]*v1.Node, n)
	var (
		mu       sync.Mutex
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workqueue.ParallelizeUntil(ctx, createWorkers, n, func(i int) {
		node := makeNode(fmt.Sprintf("%s-%d", prefix, i), capacity, labels)
		node.Annotations = maps.Clone(annotations)
		node, err := c.createNode(ctx, node)
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
			cancel()
			return
		}
		nodes[i] = node
	})
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("creating nodes %s-*: %w", prefix, err)
	}
	logger.V(2).Info("Created nodes", "prefix", prefix, "count", n)
	return nodes, nil
}

// CreateNode creates one node as given (its status included), for nodes
// with taints or labels of their own.
func (c *Cluster) CreateNode(ctx context.Context, node *v1.Node) (*v1.Node, error) {
	return c.createNode(ctx, node)
}

func (c *Cluster) createNode(ctx context.Context, node *v1.Node) (*v1.Node, error) {
	status := node.Status
	created, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating node %s: %w", node.Name, err)
	}
	if len(created.Status.Allocatable) > 0 && len(created.Status.Conditions) > 0 {
		return created, nil
	}
	created.Status = status
	updated, err := c.Client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("setting status of node %s: %w", node.Name, err)
	}
	return updated, nil
}

// makeNode returns the node that CreateNodes creates for name.
func makeNode(name string, capacity v1.ResourceList, labels map[string]string) *v1.Node {
	capacity = capacity.DeepCopy()
	if capacity == nil {
		capacity = v1.ResourceList{}
	}
	if _, ok := capacity[v1.ResourcePods]; !ok {
		capacity[v1.ResourcePods] = *resource.NewQuantity(defaultMaxPods, resource.DecimalSI)
	}
	nodeLabels := maps.Clone(labels)
	if nodeLabels == nil {
		nodeLabels = map[string]string{}
	}
	nodeLabels[v1.LabelHostname] = name
	now := metav1.Now()
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: nodeLabels},
		Status: v1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity.DeepCopy(),
			Phase:       v1.NodeRunning,
			Conditions: []v1.NodeCondition{{
				Type:               v1.NodeReady,
				Status:             v1.ConditionTrue,
				Reason:             "KubeletReady",
				Message:            "node created by the test cluster",
				LastHeartbeatTime:  now,
				LastTransitionTime: now,
			}},
		},
	}
}

// CreateNamespace creates a namespace with a generated name that starts with
// prefix and returns the name.
func (c *Cluster) CreateNamespace(ctx context.Context, prefix string) (string, error) {
	if !strings.HasSuffix(prefix, "-") {
		prefix += "-"
	}
	ns, err := c.Client.CoreV1().Namespaces().Create(ctx, &v1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("creating namespace %s*: %w", prefix, err)
	}
	return ns.Name, nil
}
