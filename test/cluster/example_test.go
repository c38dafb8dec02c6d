package cluster_test

import (
	"context"
	"fmt"
	"os"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gangsched/gangsched/test/cluster"
)

// A demo program starts etcd and a cluster, installs the PodGroup CRD, adds
// nodes and hands the kubeconfig to an external scheduler.
func ExampleNew() {
	ctx := context.Background()
	_, stopEtcd, err := cluster.StartEtcd(ctx, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer stopEtcd()

	c, err := cluster.New(ctx, cluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer c.Stop()

	crd, err := cluster.PodGroupCRDPath()
	if err == nil {
		err = c.InstallCRDs(ctx, crd)
	}
	if err == nil {
		_, err = c.CreateNodes(ctx, "node", 4, v1.ResourceList{
			v1.ResourceCPU:    resource.MustParse("8"),
			v1.ResourceMemory: resource.MustParse("32Gi"),
		}, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println("kube-scheduler --kubeconfig", c.KubeconfigPath)
}
