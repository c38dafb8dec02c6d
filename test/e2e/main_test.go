// Package e2e runs the gang-scheduler binary, as deployed (the shipped
// configuration, leader election on), against a real API server.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
			if *b.path = os.Getenv(b.env); *b.path != "" {
				continue
			}
			root, err := cluster.RepoRoot()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			*b.path = filepath.Join(dir, filepath.Base(b.pkg))
			build := exec.Command("go", "build", "-o", *b.path, b.pkg)
			build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
			if err := build.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "building", b.pkg+":", err)
				return 1
			}
		}
		return cluster.RunMainWithoutLeakCheck(m)
	}())
}
