// Command report prints the table of a scheduler_perf run of bench/perf:
// for each workload, the default profile (upstream) and gangsched's profile
// side by side, with pods/s (scheduler_perf's SchedulingThroughput: the
// average and percentiles of per-second samples), the time to schedule
// every measured pod, per-pod and per-group attempt latency, and the ratio
// gangsched/upstream. Given several files (repeats, as `go test -count`
// writes them), each figure is the median of the repeats.
//
//	go run ./bench/perf/report [-markdown] _output/perf/BenchmarkPerfScheduling_benchmark_gangsched_*.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// gangschedSuffix ends the name of a test case that runs gangsched's
// profile; the test case without it runs the same workloads on the default
// profile (performance-config.yaml).
const gangschedSuffix = "Gangsched"

// Metric names scheduler_perf writes in a data item's "Metric" label.
const (
	metricThroughput       = "SchedulingThroughput"
	metricDuration         = "SchedulingDuration"
	metricPodAttempt       = "scheduler_scheduling_attempt_duration_seconds"
	metricGroupAttempt     = "scheduler_podgroup_scheduling_attempt_duration_seconds"
	metricGangschedAdmit   = "gangsched_group_admission_duration_seconds"
	resultScheduled        = "scheduled"
	schedulerUpstream      = "default"
	schedulerGangsched     = "gangsched"
	notApplicable          = "not applicable"
	labelName, labelMetric = "Name", "Metric"
)

// dataItems is the JSON file scheduler_perf writes to -data-items-dir.
type dataItems struct {
	Version   string     `json:"version"`
	DataItems []dataItem `json:"dataItems"`
}

type dataItem struct {
	Data   map[string]float64 `json:"data"`
	Unit   string             `json:"unit"`
	Labels map[string]string  `json:"labels"`
}

// run is what one workload on one profile measured, or the median of
// several repeats (-count): n says how many. A missing figure is nil.
type run struct {
	family, workload, scheduler string
	n                           int
	throughput                  map[string]float64 // pods/s: Average, Perc50, ...
	duration                    *float64           // s, until every measured pod was scheduled
	podAttempt                  map[string]float64 // ms, result=scheduled
	groupAttempt                map[string]float64 // ms, upstream's per-group attempt, result=scheduled
	groupAdmission              map[string]float64 // ms, gangsched's first attempt to admission
}

// parseName splits "BenchmarkPerfScheduling/<test case>/<workload>/<namespace>"
// into the test-case family (the name without gangschedSuffix), the
// workload and the scheduler.
func parseName(name string) (family, workload, scheduler string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) < 3 {
		return "", "", "", false
	}
	tc, workload := parts[1], parts[2]
	if f, cut := strings.CutSuffix(tc, gangschedSuffix); cut {
		return f, workload, schedulerGangsched, true
	}
	return tc, workload, schedulerUpstream, true
}

// collect groups data items into runs, in the order they first appear. A
// workload run several times in one file (go test -count) repeats its
// items: a metric the latest run of its workload has already starts the
// next run.
func collect(items []dataItem) []*run {
	var runs []*run
	latest := map[string]*run{}
	seen := map[*run]map[string]bool{}
	for _, it := range items {
		family, workload, scheduler, ok := parseName(it.Labels[labelName])
		if !ok {
			continue
		}
		key := family + "/" + workload + "/" + scheduler
		series := it.Labels[labelMetric] + "/" + it.Labels["result"] + "/" + it.Labels["extension_point"]
		r := latest[key]
		if r == nil || seen[r][series] {
			r = &run{family: family, workload: workload, scheduler: scheduler, n: 1}
			latest[key] = r
			seen[r] = map[string]bool{}
			runs = append(runs, r)
		}
		seen[r][series] = true
		result := it.Labels["result"]
		switch it.Labels[labelMetric] {
		case metricThroughput:
			r.throughput = it.Data
		case metricDuration:
			if d, ok := it.Data["Duration"]; ok {
				r.duration = &d
			}
		case metricPodAttempt:
			if result == resultScheduled {
				r.podAttempt = it.Data
			}
		case metricGroupAttempt:
			if result == resultScheduled {
				r.groupAttempt = it.Data
			}
		case metricGangschedAdmit:
			r.groupAdmission = it.Data
		}
	}
	return runs
}

// key names a workload on a profile.
func (r *run) key() string { return r.family + "/" + r.workload + "/" + r.scheduler }

// merge turns the runs of several files (repeats of the same benchmark:
// one file per go test, or several runs in one with -count) into one run per workload
// and profile, each figure the median of the repeats that have it.
func merge(files [][]*run) []*run {
	var order []string
	repeats := map[string][]*run{}
	for _, runs := range files {
		for _, r := range runs {
			if _, seen := repeats[r.key()]; !seen {
				order = append(order, r.key())
			}
			repeats[r.key()] = append(repeats[r.key()], r)
		}
	}
	var out []*run
	for _, k := range order {
		rs := repeats[k]
		if len(rs) == 1 {
			out = append(out, rs[0])
			continue
		}
		m := &run{family: rs[0].family, workload: rs[0].workload, scheduler: rs[0].scheduler, n: len(rs)}
		m.throughput = medianData(rs, func(r *run) map[string]float64 { return r.throughput })
		m.podAttempt = medianData(rs, func(r *run) map[string]float64 { return r.podAttempt })
		m.groupAttempt = medianData(rs, func(r *run) map[string]float64 { return r.groupAttempt })
		m.groupAdmission = medianData(rs, func(r *run) map[string]float64 { return r.groupAdmission })
		if d := medianData(rs, func(r *run) map[string]float64 {
			if r.duration == nil {
				return nil
			}
			return map[string]float64{"Duration": *r.duration}
		}); d != nil {
			v := d["Duration"]
			m.duration = &v
		}
		out = append(out, m)
	}
	return out
}

// medianData is, for each bucket, the median over rs of field(r)[bucket];
// nil when no run has the field.
func medianData(rs []*run, field func(*run) map[string]float64) map[string]float64 {
	values := map[string][]float64{}
	for _, r := range rs {
		for k, v := range field(r) {
			values[k] = append(values[k], v)
		}
	}
	if len(values) == 0 {
		return nil
	}
	out := map[string]float64{}
	for k, vs := range values {
		out[k] = median(vs)
	}
	return out
}

// median of vs (not empty): the middle value, or the mean of the two
// middle ones.
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// row is one line of the table: a run and, on gangsched's line, the ratios
// gangsched/default of each round (see pairRatios).
type row struct {
	*run
	ratioAvg, ratioDuration []float64
}

// rows merges the files' runs (see merge), orders them by family and
// workload, default first, and puts the per-round ratios on gangsched's
// lines.
func rows(files [][]*run) []row {
	sorted := merge(files)
	slices.SortStableFunc(sorted, func(a, b *run) int {
		if c := strings.Compare(a.family, b.family); c != 0 {
			return c
		}
		if c := compareWorkloads(a.workload, b.workload); c != 0 {
			return c
		}
		return strings.Compare(a.scheduler, b.scheduler) // "default" < "gangsched"
	})
	avg, dur := pairRatios(files)
	var out []row
	for _, r := range sorted {
		rw := row{run: r}
		if r.scheduler == schedulerGangsched {
			w := r.family + "/" + r.workload
			rw.ratioAvg, rw.ratioDuration = avg[w], dur[w]
		}
		out = append(out, rw)
	}
	return out
}

// pairRatios pairs each gangsched run with the default run of the same
// workload in the same round — the same file, and the same repeat within
// it — and returns, by "family/workload", gangsched/default of average
// pods/s and of 1/duration for each round. Pairing within a round keeps a
// slow spell on the shared cores, which hits both runs of a round, out of
// the ratio more than a ratio of medians would.
func pairRatios(files [][]*run) (avg, dur map[string][]float64) {
	avg, dur = map[string][]float64{}, map[string][]float64{}
	for _, runs := range files {
		repeat := map[string]int{}
		byRepeat := map[string]*run{}
		for _, r := range runs {
			k := fmt.Sprintf("%s#%d", r.key(), repeat[r.key()])
			repeat[r.key()]++
			byRepeat[k] = r
		}
		for _, r := range runs {
			if r.scheduler != schedulerGangsched {
				continue
			}
			repeat[r.key()+"/paired"]++
			i := repeat[r.key()+"/paired"] - 1
			u := byRepeat[fmt.Sprintf("%s/%s/%s#%d", r.family, r.workload, schedulerUpstream, i)]
			if u == nil {
				continue
			}
			w := r.family + "/" + r.workload
			if a, b := r.throughput["Average"], u.throughput["Average"]; a > 0 && b > 0 {
				avg[w] = append(avg[w], a/b)
			}
			if r.duration != nil && u.duration != nil && *r.duration > 0 {
				dur[w] = append(dur[w], *u.duration / *r.duration)
			}
		}
	}
	return avg, dur
}

// compareWorkloads orders workload names by node count, then by name, so
// 500Nodes_* come before 5000Nodes_*.
func compareWorkloads(a, b string) int {
	na, nb := leadingInt(a), leadingInt(b)
	if na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

func leadingInt(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func num(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func get(m map[string]float64, k string) string {
	v, ok := m[k]
	return num(v, ok)
}

func ptr(p *float64) string {
	if p == nil {
		return "-"
	}
	return num(*p, true)
}

// ratio is the median of the per-round ratios, and their range when there
// are several.
func ratio(rs []float64) string {
	switch len(rs) {
	case 0:
		return "-"
	case 1:
		return fmt.Sprintf("%.2fx", rs[0])
	}
	return fmt.Sprintf("%.2fx (%.2f–%.2f)", median(rs), slices.Min(rs), slices.Max(rs))
}

// group is the per-group latency: upstream's per-group attempt, or
// gangsched's first attempt to admission (a different measure, marked).
func group(r *run, k string) string {
	if r.groupAttempt != nil {
		return get(r.groupAttempt, k)
	}
	if r.groupAdmission != nil {
		return get(r.groupAdmission, k) + "†"
	}
	return "-"
}

var header = []string{"test case", "workload", "scheduler", "runs",
	"pods/s avg", "p50", "p90", "p99", "all scheduled (s)",
	"pod attempt p50 (ms)", "p99", "group p50 (ms)", "p99",
	"gangsched/default pods/s avg", "by duration (all scheduled)"}

func (r row) cells() []string {
	return []string{r.family, r.workload, r.scheduler, strconv.Itoa(r.n),
		get(r.throughput, "Average"), get(r.throughput, "Perc50"), get(r.throughput, "Perc90"), get(r.throughput, "Perc99"),
		ptr(r.duration),
		get(r.podAttempt, "Perc50"), get(r.podAttempt, "Perc99"),
		group(r.run, "Perc50"), group(r.run, "Perc99"),
		ratio(r.ratioAvg), ratio(r.ratioDuration)}
}

func write(w io.Writer, rs []row, markdown bool) error {
	if markdown {
		fmt.Fprintf(w, "| %s |\n", strings.Join(header, " | "))
		fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(header)))
		for _, r := range rs {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r.cells(), " | "))
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, r := range rs {
			fmt.Fprintln(tw, strings.Join(r.cells(), "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, "\n† gangsched reports no per-group attempt; this is gangsched_group_admission_duration_seconds "+
		"(a group's first attempt to its admission, buckets from 100 ms), not the same measure.\n"+
		"Several runs: each figure is the median over the runs; a ratio is the median (and range) of the ratios of the runs paired round by round.\n"+
		"pod attempt = scheduler_scheduling_attempt_duration_seconds{result=scheduled}, which includes the binding cycle (Permit wait, bind).")
	return err
}

func main() {
	markdown := flag.Bool("markdown", false, "print a Markdown table")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: report [-markdown] FILE.json...")
		os.Exit(2)
	}
	var files [][]*run
	for _, path := range flag.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "reading data items: %v\n", err)
			os.Exit(1)
		}
		var d dataItems
		if err := json.Unmarshal(data, &d); err != nil {
			fmt.Fprintf(os.Stderr, "decoding data items in %s: %v\n", path, err)
			os.Exit(1)
		}
		files = append(files, collect(d.DataItems))
	}
	if err := write(os.Stdout, rows(files), *markdown); err != nil {
		fmt.Fprintf(os.Stderr, "writing the table: %v\n", err)
		os.Exit(1)
	}
}
