// Package spark runs real Spark (spark-submit, its driver and executor
// JVMs) through gang-scheduler on a real API server, with a process kubelet
// (cluster.ProcessKubelet) running the pods' containers on this machine.
package spark

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gangsched/gangsched/test/cluster"
)

// Environment that points the tests at what they run.
const (
	// binaryEnv names the gang-scheduler binary; without it, the tests
	// build their own.
	binaryEnv = "GANG_SCHEDULER_BIN"
	// sparkHomeEnv names the Spark distribution (make spark installs one
	// in bin/pyspark-<version>/deps); without it, the tests look there.
	sparkHomeEnv = "GANGSCHED_SPARK_HOME"
	// requireEnv, when set, makes a missing Spark a failure instead of a
	// skip: make test sets it, after installing Spark.
	requireEnv = "GANGSCHED_REQUIRE_SPARK"
)

var binary string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "gangsched-spark-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if binary, err = cluster.Binary(binaryEnv, "./cmd/gang-scheduler", dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return cluster.RunMainWithoutLeakCheck(m)
	}())
}

// sparkDist is an installed Spark: its SPARK_HOME and the PYTHONPATH that
// makes its pyspark importable.
type sparkDist struct {
	home, pythonPath string
}

// findSpark returns the Spark the tests run, or skips t (fails it, with
// requireEnv set) when there is none.
func findSpark(t *testing.T) sparkDist {
	t.Helper()
	home := os.Getenv(sparkHomeEnv)
	if home == "" {
		root, err := cluster.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		matches, _ := filepath.Glob(filepath.Join(root, "bin", "pyspark-*", "deps"))
		if len(matches) > 0 {
			home = matches[len(matches)-1]
		}
	}
	if _, err := os.Stat(filepath.Join(home, "bin", "spark-submit")); home == "" || err != nil {
		if os.Getenv(requireEnv) != "" {
			t.Fatalf("no Spark found (%s=%q); make spark installs it", sparkHomeEnv, home)
		}
		t.Skipf("no Spark installed: make spark installs it (or set %s)", sparkHomeEnv)
	}
	pythonPath, err := cluster.SparkPythonPath(home)
	if err != nil {
		t.Fatal(err)
	}
	return sparkDist{home: home, pythonPath: pythonPath}
}
