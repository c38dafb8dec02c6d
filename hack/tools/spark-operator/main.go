// Command spark-operator is Spark Operator's own main (kubeflow/spark-operator
// cmd/operator, v2.3.0), built from the Go module proxy in a module of its
// own, so that the real-Spark tests run the real controller and webhook
// without mixing its dependencies into gangsched's go.mod.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kubeflow/spark-operator/v2/cmd/operator/controller"
	"github.com/kubeflow/spark-operator/v2/cmd/operator/version"
	"github.com/kubeflow/spark-operator/v2/cmd/operator/webhook"
)

func main() {
	command := &cobra.Command{
		Use:   "spark-operator",
		Short: "Spark operator",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	command.AddCommand(controller.NewCommand(), webhook.NewCommand(), version.NewCommand())
	if err := command.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		os.Exit(1)
	}
}
