package sim

import (
	"context"
	"io"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	queueclient "github.com/gangsched/gangsched/client/clientset/versioned"
	"github.com/gangsched/gangsched/test/cluster"
)

// EnvOptions say how to set up a run's cluster.
type EnvOptions struct {
	// LogOut receives the API server's log.
	LogOut io.Writer
	// Kwok and KwokModule are kwok's binary and module (StartKwok); with
	// no binary, nodes are bare API objects and the simulator starts pods.
	Kwok, KwokModule string
	// Dir receives kwok's log and stages.
	Dir string
	// Restartable lets the caller restart the API server
	// (cluster.Options.Restartable).
	Restartable bool
}

// Env is a cluster ready for a workload: a kube-apiserver on the etcd the
// caller started, the PodGroup and Queue CRDs, the workload's
// PriorityClasses and Queues, a namespace for its pods, and its nodes.
type Env struct {
	Cluster   *cluster.Cluster
	Namespace string
	kwok      *Kwok
}

// StartEnv sets up a cluster for wl.
func StartEnv(ctx context.Context, wl Workload, o EnvOptions) (env *Env, err error) {
	c, err := cluster.New(ctx, cluster.Options{LogOut: o.LogOut, Restartable: o.Restartable})
	if err != nil {
		return nil, err
	}
	env = &Env{Cluster: c}
	defer func() {
		if err != nil {
			env.Stop()
		}
	}()
	if err := c.InstallGangschedCRDs(ctx); err != nil {
		return nil, err
	}
	queues, err := queueclient.NewForConfig(cluster.JSONConfig(c.Config))
	if err != nil {
		return nil, err
	}
	if err := Setup(ctx, c.Client, queues, wl); err != nil {
		return nil, err
	}
	if env.Namespace, err = c.CreateNamespace(ctx, "spark"); err != nil {
		return nil, err
	}
	var annotations map[string]string
	if o.Kwok != "" {
		annotations = map[string]string{KwokNodeAnnotation: "fake"}
		if env.kwok, err = StartKwok(o.Kwok, o.KwokModule, c.KubeconfigPath, o.Dir); err != nil {
			return nil, err
		}
	}
	_, err = c.CreateAnnotatedNodes(ctx, "node", wl.Nodes, v1.ResourceList{
		v1.ResourceCPU: resource.MustParse(wl.NodeCPU), v1.ResourceMemory: resource.MustParse(wl.NodeMemory),
	}, nil, annotations)
	return env, err
}

// Stop stops kwok and the API server.
func (e *Env) Stop() {
	if e.kwok != nil {
		e.kwok.Stop()
	}
	e.Cluster.Stop()
}
