package spark

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gangsched/gangsched/test/cluster"
)

// Every Spark setting README shows (a --conf line) is one a test here
// submits with real Spark.
func TestREADMESparkConfsAreTested(t *testing.T) {
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, confs := range [][]string{cluster.SparkSubmitBase, gangConf, poolConf, dynamicConf, clientConf} {
		for i := 0; i+1 < len(confs); i++ {
			if confs[i] == "--conf" {
				tested[confs[i+1]] = true
			}
		}
	}
	shown := regexp.MustCompile(`--conf\s+('[^']*'|\S+)`).FindAllStringSubmatch(string(readme), -1)
	if len(shown) == 0 {
		t.Fatal("README shows no --conf line")
	}
	var untested []string
	for _, m := range shown {
		conf := strings.Trim(m[1], "'")
		if !tested[conf] && !slices.Contains(untested, conf) {
			untested = append(untested, conf)
		}
	}
	if len(untested) > 0 {
		t.Errorf("README shows Spark settings no test submits:\n%s", strings.Join(untested, "\n"))
	}
}
