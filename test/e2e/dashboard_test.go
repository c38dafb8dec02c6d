package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gangsched/gangsched/test/cluster"
)

// promqlEnv names the tool that lists the metrics each dashboard query
// selects, parsed with Prometheus' PromQL parser (make promql-metrics
// builds it from hack/tools/promql-metrics).
const promqlEnv = "PROMQL_METRICS_BIN"

var (
	seriesLine  = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? `)
	labelName   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"`)
	labelValues = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
)

// servedSeries reads a Prometheus text exposition: the label names each
// metric is served with.
func servedSeries(body string) map[string]map[string]bool {
	served := map[string]map[string]bool{}
	s := bufio.NewScanner(strings.NewReader(body))
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		m := seriesLine.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		if served[m[1]] == nil {
			served[m[1]] = map[string]bool{}
		}
		for _, l := range labelName.FindAllStringSubmatch(m[3], -1) {
			served[m[1]][l[1]] = true
		}
	}
	return served
}

// checkDashboards checks that every query of the dashboards in
// manifests/dashboards parses and selects only metrics in body, a scrape of
// the binary's /metrics, by label names they are served with; and that
// every template variable's label_values names a served metric and label.
func checkDashboards(t *testing.T, body string) {
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := cluster.Tool(t, promqlEnv, "promql-metrics")
	dashboards, err := filepath.Glob(filepath.Join(root, "manifests", "dashboards", "*.json"))
	if err != nil || len(dashboards) == 0 {
		t.Fatalf("no dashboard in manifests/dashboards: %v", err)
	}
	served := servedSeries(body)
	missing := func(where, metric string, labels []string) {
		t.Helper()
		have, ok := served[metric]
		if !ok {
			t.Errorf("%s: %s is not served by gang-scheduler", where, metric)
			return
		}
		for _, l := range labels {
			if !have[l] {
				t.Errorf("%s: %s is served without a %q label", where, metric, l)
			}
		}
	}

	cmd := exec.Command(bin, dashboards...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("%s: %v: %s", bin, err, stderr.String())
	}
	queries := 0
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var q struct {
			File, Panel, Expr, Error string
			Metrics                  []string
			Labels                   map[string][]string
		}
		if err := dec.Decode(&q); err != nil {
			t.Fatal(err)
		}
		queries++
		where := filepath.Base(q.File) + ": panel " + q.Panel
		if q.Error != "" {
			t.Errorf("%s: %q does not parse: %s", where, q.Expr, q.Error)
			continue
		}
		if len(q.Metrics) == 0 {
			t.Errorf("%s: %q selects no metric", where, q.Expr)
		}
		for _, m := range q.Metrics {
			missing(where, m, q.Labels[m])
		}
	}
	if queries == 0 {
		t.Error("the dashboards hold no query")
	}

	for _, file := range dashboards {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			Templating struct {
				List []struct {
					Name  string          `json:"name"`
					Query json.RawMessage `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(raw, &dash); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, v := range dash.Templating.List {
			for _, m := range labelValues.FindAllStringSubmatch(string(v.Query), -1) {
				missing(filepath.Base(file)+": variable "+v.Name, m[1], []string{m[2]})
			}
		}
	}
	names := make([]string, 0, len(served))
	for n := range served {
		if strings.HasPrefix(n, "gangsched_") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	t.Logf("%d queries checked against %d served metrics (gangsched's: %s)", queries, len(served), strings.Join(names, " "))
}
