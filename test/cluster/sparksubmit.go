package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// SparkSubmitBase is what every app a harness submits sets: the image (none
// is pulled: the process kubelet runs SparkHome) and small JVMs.
var SparkSubmitBase = []string{
	"--conf", "spark.kubernetes.container.image=apache/spark:4.3.0",
	"--conf", "spark.driver.memory=512m",
	"--conf", "spark.executor.memory=512m",
}

// SparkSubmit runs SparkHome's spark-submit against the cluster for the
// app name in namespace, with SparkSubmitBase, args and app, in
// SubmitEnv with HOME set to home, and returns its output once it exits.
func (k *ProcessKubelet) SparkSubmit(ctx context.Context, namespace, name, home string, args []string, app ...string) (string, error) {
	all := append([]string{
		"--master", "k8s://" + k.Master(),
		"--name", name,
		"--conf", "spark.kubernetes.namespace=" + namespace,
	}, SparkSubmitBase...)
	all = append(append(all, args...), app...)
	cmd := exec.CommandContext(ctx, filepath.Join(k.opts.SparkHome, "bin", "spark-submit"), all...)
	cmd.Env = append(k.SubmitEnv(), "HOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("spark-submit %s: %w\n%s", name, err, Tail(string(out), 40))
	}
	return string(out), nil
}

// SparkPythonPath is the PYTHONPATH that makes the pyspark sdist whose
// deps/ folder is sparkHome importable (make spark installs it): pyspark
// beside deps/, py4j in lib/.
func SparkPythonPath(sparkHome string) (string, error) {
	root := filepath.Dir(sparkHome)
	py4j, _ := filepath.Glob(filepath.Join(root, "lib", "py4j-*-src.zip"))
	if len(py4j) == 0 {
		return "", fmt.Errorf("no py4j in %s/lib", root)
	}
	return root + string(os.PathListSeparator) + py4j[0], nil
}
