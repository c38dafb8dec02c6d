package cluster

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apiserver/pkg/quota/v1/generic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubernetes/pkg/controller"
	"k8s.io/kubernetes/pkg/controller/resourcequota"
	quotainstall "k8s.io/kubernetes/pkg/quota/v1/install"
)

// StartQuotaController runs kube-controller-manager's resource quota
// controller against the cluster until ctx ends or the cluster stops (it
// stops first, so that its watches do not hold the API server's shutdown),
// as
// k8s.io/kubernetes/test/integration/quota does: it writes every
// ResourceQuota's status (hard and used), without which the API server's
// quota admission refuses the namespace's pods, and gives back what deleted
// pods used. The API server charges a quota at each pod creation itself.
func (c *Cluster) StartQuotaController(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	c.addTeardown(cancel)
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("quota controller client: %w", err)
	}
	factory := informers.NewSharedInformerFactory(client, controller.NoResyncPeriodFunc())
	discovery := client.Discovery().ServerPreferredNamespacedResources
	qc, err := quotainstall.NewQuotaConfigurationForControllers(generic.ListerFuncForResourceFunc(factory.ForResource), factory)
	if err != nil {
		return fmt.Errorf("quota configuration: %w", err)
	}
	started := make(chan struct{})
	rq, err := resourcequota.NewController(ctx, &resourcequota.ControllerOptions{
		QuotaClient:               client.CoreV1(),
		ResourceQuotaInformer:     factory.Core().V1().ResourceQuotas(),
		ResyncPeriod:              controller.NoResyncPeriodFunc,
		InformerFactory:           factory,
		ReplenishmentResyncPeriod: controller.NoResyncPeriodFunc,
		DiscoveryFunc:             discovery,
		IgnoredResourcesFunc:      qc.IgnoredResources,
		InformersStarted:          started,
		Registry:                  generic.NewRegistry(qc.Evaluators()),
	})
	if err != nil {
		return fmt.Errorf("quota controller: %w", err)
	}
	go rq.Run(ctx, 2)
	go rq.Sync(ctx, discovery, 30*time.Second)
	factory.Start(ctx.Done())
	close(started)
	return nil
}
