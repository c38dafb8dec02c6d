// Package e2e runs the gang-scheduler binary, as deployed (the shipped
// configuration, leader election on), against a real API server.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/gangsched/gangsched/test/cluster"
)

// binaryEnv and pluginEnv name the gang-scheduler and kubectl-gang
// binaries to test; without them, the tests build their own.
const (
	binaryEnv = "GANG_SCHEDULER_BIN"
	pluginEnv = "KUBECTL_GANG_BIN"
)

var binary, plugin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "gangsched-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		for _, b := range []struct {
			path *string
			env  string
			pkg  string
		}{{&binary, binaryEnv, "./cmd/gang-scheduler"}, {&plugin, pluginEnv, "./cmd/kubectl-gang"}} {
			if *b.path, err = cluster.Binary(b.env, b.pkg, dir); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return cluster.RunMainWithoutLeakCheck(m)
	}())
}
