package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		name                        string
		in                          string
		family, workload, scheduler string
		ok                          bool
	}{
		{"upstream test case", "BenchmarkPerfScheduling/GangScheduling/500Nodes_300Gangs_900Pods/gang-ns-0",
			"GangScheduling", "500Nodes_300Gangs_900Pods", schedulerUpstream, true},
		{"gangsched test case", "BenchmarkPerfScheduling/SchedulingBasicGangsched/500Nodes/namespace-2",
			"SchedulingBasic", "500Nodes", schedulerGangsched, true},
		{"no workload", "BenchmarkPerfScheduling/GangScheduling", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			family, workload, scheduler, ok := parseName(tt.in)
			if diff := cmp.Diff([]any{tt.family, tt.workload, tt.scheduler, tt.ok}, []any{family, workload, scheduler, ok}); diff != "" {
				t.Errorf("parseName(%q) (-want,+got):\n%s", tt.in, diff)
			}
		})
	}
}

func item(name, metric, result string, data map[string]float64) dataItem {
	return dataItem{Data: data, Labels: map[string]string{"Name": name, "Metric": metric, "result": result}}
}

func TestRowsPairsGangschedWithUpstream(t *testing.T) {
	const up, gs = "BenchmarkPerfScheduling/GangScheduling/5000Nodes_3Gangs/gang-ns-0", "BenchmarkPerfScheduling/GangSchedulingGangsched/5000Nodes_3Gangs/gang-ns-0"
	const small = "BenchmarkPerfScheduling/GangScheduling/500Nodes_1Gang/gang-ns-0"
	items := []dataItem{
		item(gs, metricThroughput, notApplicable, map[string]float64{"Average": 150}),
		item(gs, metricDuration, notApplicable, map[string]float64{"Duration": 20}),
		item(gs, metricGangschedAdmit, notApplicable, map[string]float64{"Perc50": 400, "Perc99": 900}),
		item(up, metricThroughput, notApplicable, map[string]float64{"Average": 100}),
		item(up, metricDuration, notApplicable, map[string]float64{"Duration": 30}),
		item(up, metricGroupAttempt, resultScheduled, map[string]float64{"Perc50": 5, "Perc99": 9}),
		item(up, metricGroupAttempt, "unschedulable", map[string]float64{"Perc50": 50}),
		item(small, metricThroughput, notApplicable, map[string]float64{"Average": 80}),
	}
	rs := rows([][]*run{collect(items)})
	var got [][]string
	for _, r := range rs {
		c := r.cells()
		got = append(got, []string{c[1], c[2], c[4], c[8], c[11], c[12], c[13], c[14]})
	}
	want := [][]string{
		{"500Nodes_1Gang", "default", "80.0", "-", "-", "-", "-", "-"},
		{"5000Nodes_3Gangs", "default", "100", "30.0", "5.00", "9.00", "-", "-"},
		{"5000Nodes_3Gangs", "gangsched", "150", "20.0", "400†", "900†", "1.50x", "1.50x"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want,+got):\n%s", diff)
	}
	var buf bytes.Buffer
	if err := write(&buf, rs, true); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n| "); lines != 3 {
		t.Errorf("markdown table has %d data rows, want 3:\n%s", lines, buf.String())
	}
}

func TestMergeTakesMediansOfRepeats(t *testing.T) {
	const name = "BenchmarkPerfScheduling/SchedulingBasic/500Nodes/namespace-2"
	var files [][]*run
	for _, avg := range []float64{300, 100, 200} {
		files = append(files, collect([]dataItem{
			item(name, metricThroughput, notApplicable, map[string]float64{"Average": avg, "Perc50": avg / 10}),
			item(name, metricDuration, notApplicable, map[string]float64{"Duration": 1000 / avg}),
		}))
	}
	got := merge(files)
	if len(got) != 1 {
		t.Fatalf("merge returned %d runs, want 1", len(got))
	}
	want := map[string]float64{"Average": 200, "Perc50": 20}
	if diff := cmp.Diff(want, got[0].throughput); diff != "" {
		t.Errorf("throughput (-want,+got):\n%s", diff)
	}
	if got[0].n != 3 || got[0].duration == nil || *got[0].duration != 5 {
		t.Errorf("got n=%d duration=%v, want n=3 duration=5", got[0].n, got[0].duration)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"one", []float64{4}, 4},
		{"odd count", []float64{9, 1, 5}, 5},
		{"even count", []float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestCollectSplitsRepeatsInOneFile(t *testing.T) {
	const name = "BenchmarkPerfScheduling/SchedulingBasicGangsched/500Nodes/namespace-2"
	var items []dataItem
	for _, avg := range []float64{100, 300} {
		items = append(items,
			item(name, metricThroughput, notApplicable, map[string]float64{"Average": avg}),
			item(name, metricPodAttempt, resultScheduled, map[string]float64{"Perc50": avg}),
			item(name, metricPodAttempt, "unschedulable", map[string]float64{"Perc50": 1}))
	}
	runs := collect(items)
	if len(runs) != 2 {
		t.Fatalf("collect found %d runs, want 2", len(runs))
	}
	got := merge([][]*run{runs})
	if len(got) != 1 || got[0].n != 2 || got[0].throughput["Average"] != 200 || got[0].podAttempt["Perc50"] != 200 {
		t.Errorf("merge = n %d, throughput %v, pod attempt %v; want n 2, averages 200", got[0].n, got[0].throughput, got[0].podAttempt)
	}
}

func TestRatiosArePairedRoundByRound(t *testing.T) {
	const up, gs = "BenchmarkPerfScheduling/SchedulingBasic/500Nodes/namespace-2", "BenchmarkPerfScheduling/SchedulingBasicGangsched/500Nodes/namespace-2"
	// A slow second round: both profiles are slower, gangsched by the same
	// factor as in the fast rounds.
	var files [][]*run
	for _, r := range []struct{ up, gs float64 }{{100, 110}, {40, 36}, {120, 120}} {
		files = append(files, collect([]dataItem{
			item(up, metricThroughput, notApplicable, map[string]float64{"Average": r.up}),
			item(gs, metricThroughput, notApplicable, map[string]float64{"Average": r.gs}),
		}))
	}
	rs := rows(files)
	if len(rs) != 2 {
		t.Fatalf("got %d rows, want 2", len(rs))
	}
	if diff := cmp.Diff([]float64{1.1, 0.9, 1}, rs[1].ratioAvg); diff != "" {
		t.Errorf("per-round ratios (-want,+got):\n%s", diff)
	}
	if got, want := ratio(rs[1].ratioAvg), "1.00x (0.90–1.10)"; got != want {
		t.Errorf("ratio cell = %q, want %q", got, want)
	}
}
