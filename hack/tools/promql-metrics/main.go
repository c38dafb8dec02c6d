// Command promql-metrics reads Grafana dashboards and prints, for every
// query in them, the metric names it selects, parsed with Prometheus' own
// PromQL parser. Grafana's variables ($queue, $__rate_interval...) are
// replaced by values the parser accepts first. The dashboard test
// (test/e2e) checks those names against what gang-scheduler serves.
//
// Usage: promql-metrics dashboard.json...
//
// Output: one JSON object per query, {"file", "panel", "expr", "metrics",
// "labels"}: the metrics it selects and the label names it matches or
// aggregates them by;
// the exit status is 1 when a query does not parse.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"

	"github.com/prometheus/prometheus/promql/parser"
)

// query is one expression of a dashboard and the metrics it selects.
type query struct {
	File    string   `json:"file"`
	Panel   string   `json:"panel"`
	Expr    string   `json:"expr"`
	Metrics []string `json:"metrics"`
	// Labels are the label names each metric's selectors match on or are
	// aggregated by.
	Labels map[string][]string `json:"labels"`
	Error  string              `json:"error,omitempty"`
}

var (
	intervalVar = regexp.MustCompile(`\$\{?__(rate_interval|interval|range)\}?`)
	otherVar    = regexp.MustCompile(`\$\{?\w+(:\w+)?\}?`)
)

func main() {
	failed := false
	enc := json.NewEncoder(os.Stdout)
	for _, file := range os.Args[1:] {
		raw, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var dash struct {
			Panels []panel `json:"panels"`
		}
		if err := json.Unmarshal(raw, &dash); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			os.Exit(2)
		}
		for _, p := range flatten(dash.Panels) {
			for _, t := range p.Targets {
				q := query{File: file, Panel: p.Title, Expr: t.Expr, Metrics: []string{}, Labels: map[string][]string{}}
				if t.Expr == "" {
					q.Error = "a target without expr"
				} else if labels, err := selectors(t.Expr); err != nil {
					q.Error = err.Error()
				} else {
					for name, ls := range labels {
						q.Metrics = append(q.Metrics, name)
						q.Labels[name] = ls
					}
					sort.Strings(q.Metrics)
				}
				failed = failed || q.Error != ""
				_ = enc.Encode(q)
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}

// panel is what promql-metrics reads of a Grafana panel; rows hold panels.
type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

// selectors parses expr, its Grafana variables replaced, and returns the
// metric names its selectors name, each with the label names it is matched
// on or aggregated by.
func selectors(expr string) (map[string][]string, error) {
	expr = intervalVar.ReplaceAllString(expr, "5m")
	expr = otherVar.ReplaceAllString(expr, ".*")
	node, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	labels := map[string]map[string]bool{}
	parser.Inspect(node, func(n parser.Node, path []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			name = "(a selector without a metric name)"
		}
		if labels[name] == nil {
			labels[name] = map[string]bool{}
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != "__name__" {
				labels[name][m.Name] = true
			}
		}
		// An aggregation "by" labels above the selector groups it by them.
		for _, up := range path {
			if agg, ok := up.(*parser.AggregateExpr); ok && !agg.Without {
				for _, l := range agg.Grouping {
					labels[name][l] = true
				}
			}
		}
		return nil
	})
	out := map[string][]string{}
	for name, set := range labels {
		out[name] = []string{}
		for l := range set {
			out[name] = append(out[name], l)
		}
		sort.Strings(out[name])
	}
	return out, nil
}
