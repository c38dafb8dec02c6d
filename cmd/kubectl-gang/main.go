// Command kubectl-gang is a kubectl plugin: `kubectl gang status` shows each
// queue with a bar of what it holds against its fair share, and each
// waiting group with the reason the scheduler gave; `kubectl gang describe
// NAME` shows one group: its members, where its room was reserved, why it
// waits and its Events (-o json for programs). Install it by putting
// the binary on PATH (make build puts it in ./bin).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	pgclientset "sigs.k8s.io/scheduler-plugins/pkg/generated/clientset/versioned"

	queueclientset "github.com/gangsched/gangsched/client/clientset/versioned"
	"github.com/gangsched/gangsched/status"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kubectl gang:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  kubectl gang status [--kubeconfig FILE] [--scheduler-name gang-scheduler]
  kubectl gang describe NAME [-n NAMESPACE] [-o text|json] [--kubeconfig FILE]`

func run(args []string) error {
	if len(args) == 0 || (args[0] != "status" && args[0] != "describe") {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	scheduler := fs.String("scheduler-name", "gang-scheduler", "the scheduler whose pods to show (status)")
	namespace := fs.String("n", "", "the group's namespace (describe; default: the kubeconfig's)")
	output := fs.String("o", "text", "output format of describe: text or json")
	// The group's name may come before the flags, as kubectl takes it.
	rest := args[1:]
	var name string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if args[0] == "describe" && (name == "" || (*output != "text" && *output != "json")) {
		return errors.New(usage)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if *kubeconfig != "" {
		rules.ExplicitPath = *kubeconfig
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if args[0] == "describe" {
		if *namespace == "" {
			if *namespace, _, err = loader.Namespace(); err != nil {
				return err
			}
		}
		pgClient, err := pgclientset.NewForConfig(cfg)
		if err != nil {
			return err
		}
		d, err := status.Describe(ctx, client, pgClient, *namespace, name)
		if err != nil {
			return err
		}
		if *output == "json" {
			return status.WriteDescriptionJSON(os.Stdout, d)
		}
		status.WriteDescription(os.Stdout, d, time.Now())
		return nil
	}
	queues, err := queueclientset.NewForConfig(cfg)
	if err != nil {
		return err
	}
	report, err := status.Gather(ctx, client, queues, *scheduler)
	if err != nil {
		return err
	}
	status.Write(os.Stdout, report, time.Now())
	return nil
}
