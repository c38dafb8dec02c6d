// Command kubectl-gang is a kubectl plugin: `kubectl gang status` shows each
// queue with a bar of what it holds against its fair share, and each
// waiting group with the reason the scheduler gave. Install it by putting
// the binary on PATH (make build puts it in ./bin).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	queueclientset "github.com/gangsched/gangsched/client/clientset/versioned"
	"github.com/gangsched/gangsched/status"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kubectl gang:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] != "status" {
		return fmt.Errorf("usage: kubectl gang status [--kubeconfig FILE] [--scheduler-name gang-scheduler]")
	}
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	scheduler := fs.String("scheduler-name", "gang-scheduler", "the scheduler whose pods to show")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if *kubeconfig != "" {
		rules.ExplicitPath = *kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	queues, err := queueclientset.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	report, err := status.Gather(ctx, client, queues, *scheduler)
	if err != nil {
		return err
	}
	status.Write(os.Stdout, report, time.Now())
	return nil
}
