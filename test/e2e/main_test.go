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

// binaryEnv names the gang-scheduler binary to test; without it, the tests
// build one.
const binaryEnv = "GANG_SCHEDULER_BIN"

var binary string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		binary = os.Getenv(binaryEnv)
		if binary == "" {
			root, err := cluster.RepoRoot()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			dir, err := os.MkdirTemp("", "gangsched-e2e-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			binary = filepath.Join(dir, "gang-scheduler")
			build := exec.Command("go", "build", "-o", binary, "./cmd/gang-scheduler")
			build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
			if err := build.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "building gang-scheduler:", err)
				return 1
			}
		}
		return cluster.RunMainWithoutLeakCheck(m)
	}())
}
