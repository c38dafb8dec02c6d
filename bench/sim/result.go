package sim

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

// Result is what one scheduler made of a workload.
type Result struct {
	// Scheduler names the scheduler under test.
	Scheduler string
	// Outcome says how the run ended.
	Outcome string
	Apps    int
	// Completed counts finished apps; Partial apps left with a bound driver
	// but not all executors running (stuck, holding resources); Preempted
	// apps whose driver the scheduler deleted and that were not resubmitted
	// (see Options.Resubmit); Resubmitted how many times apps were
	// resubmitted after preemption.
	Completed, Partial, Preempted, Resubmitted int
	// Makespan is from the first arrival to the last finish (or the end).
	Makespan time.Duration
	// WastedCPUSeconds is CPU held by apps that were not running whole,
	// integrated over the run.
	WastedCPUSeconds float64
	// HeldCPUAtEnd is the CPU partial apps hold when the run ends.
	HeldCPUAtEnd float64
	// GangLatency holds, per started app, the time from submission until all
	// its pods ran.
	GangLatency []time.Duration
	// Samples is the cluster's state over time.
	Samples []Sample
	// PodsBound counts the pods that got a node during the run.
	PodsBound int
	// SchedulerCPUSeconds and SchedulerMaxRSS are what the scheduler
	// process used over the run: CPU time, and its peak resident memory.
	SchedulerCPUSeconds float64
	SchedulerMaxRSS     int64
	// Writes are the API server's writes over the run, by "VERB
	// resource[/subresource]" (cluster.APIWrites), from every client: the
	// scheduler's (kube-scheduler's client is limited to 50 requests a
	// second, which bounds how fast it binds), kwok's and the simulator's.
	Writes map[string]float64
	// Plain counts the plain pods submitted; PlainLatency holds, per bound
	// plain pod, the time from its creation until it had a node.
	Plain        int
	PlainLatency []time.Duration
	// Queues holds each queue's use of the cluster while every app had been
	// submitted and every queue had apps waiting (ContendedWindow long).
	Queues          []QueueResult
	ContendedWindow time.Duration
	// Stuck describes up to five apps partially placed at the end: their
	// pods by phase and node.
	Stuck []string
}

// QueueResult is one queue's part of a run.
type QueueResult struct {
	Name   string
	Weight int32
	// Completed counts its finished apps.
	Completed int
	// CPUSeconds is the CPU its apps' pods held in the contended window;
	// Share is that part of all queues' CPU-seconds, and WeightShare the
	// part its weight asks for.
	CPUSeconds, Share, WeightShare float64
}

func (s *Simulator) result(wl Workload, start, end time.Time, outcome string) *Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &Result{Outcome: outcome, Apps: len(wl.Apps), Samples: slices.Clone(s.samples), PodsBound: len(s.bound),
		Plain: len(wl.Plain), ContendedWindow: s.queueWindow}
	for _, st := range s.plain {
		if !st.bound.IsZero() {
			r.PlainLatency = append(r.PlainLatency, st.bound.Sub(st.submitted))
		}
	}
	slices.Sort(r.PlainLatency)
	completed := map[string]int{}
	last := start
	for _, st := range s.apps {
		r.Resubmitted += st.resubmitted
		switch {
		case !st.done.IsZero():
			r.Completed++
			completed[st.app.Queue]++
			if st.done.After(last) {
				last = st.done
			}
		case !st.preempted.IsZero():
			r.Preempted++
		case !st.driverBound.IsZero() && st.started.IsZero():
			r.Partial++
		}
		if !st.started.IsZero() {
			r.GangLatency = append(r.GangLatency, st.started.Sub(st.submitted))
		}
	}
	if r.Completed < r.Apps {
		last = end
	}
	r.Makespan = last.Sub(start)
	slices.Sort(r.GangLatency)
	r.Stuck = s.describeStuckLocked(5)
	for i, smp := range r.Samples {
		prev := time.Duration(0)
		if i > 0 {
			prev = r.Samples[i-1].At
		}
		r.WastedCPUSeconds += float64(smp.HeldCPU) / 1000 * (smp.At - prev).Seconds()
	}
	if n := len(r.Samples); n > 0 {
		r.HeldCPUAtEnd = float64(r.Samples[n-1].HeldCPU) / 1000
	}
	var cpuTotal, weightTotal float64
	for _, q := range wl.Queues {
		cpuTotal += s.queueCPU[q.Name]
		weightTotal += float64(q.Weight)
	}
	for _, q := range wl.Queues {
		qr := QueueResult{Name: q.Name, Weight: q.Weight, Completed: completed[q.Name], CPUSeconds: s.queueCPU[q.Name]}
		if cpuTotal > 0 {
			qr.Share = qr.CPUSeconds / cpuTotal
		}
		if weightTotal > 0 {
			qr.WeightShare = float64(q.Weight) / weightTotal
		}
		r.Queues = append(r.Queues, qr)
	}
	return r
}

// Percentile returns the p-th percentile (0-100) of sorted durations, or 0.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// WriteTable prints results side by side as a Markdown table, one column
// per scheduler.
func WriteTable(w io.Writer, results []*Result) {
	rows := [][]string{{""}}
	for _, r := range results {
		rows[0] = append(rows[0], r.Scheduler)
	}
	add := func(name string, f func(*Result) string) {
		row := []string{name}
		for _, r := range results {
			row = append(row, f(r))
		}
		rows = append(rows, row)
	}
	add("apps completed", func(r *Result) string { return fmt.Sprintf("%d / %d", r.Completed, r.Apps) })
	add("apps stuck partially placed at the end", func(r *Result) string { return fmt.Sprint(r.Partial) })
	add("preempted apps resubmitted / left preempted", func(r *Result) string { return fmt.Sprintf("%d / %d", r.Resubmitted, r.Preempted) })
	add("CPU held by stuck apps at the end", func(r *Result) string { return fmt.Sprintf("%.0f cores", r.HeldCPUAtEnd) })
	add("CPU-seconds held by apps not running whole", func(r *Result) string { return fmt.Sprintf("%.0f", r.WastedCPUSeconds) })
	add("makespan", func(r *Result) string { return r.Makespan.Round(time.Second).String() })
	add("gang start latency p50 / p99 (apps started)", func(r *Result) string {
		return fmt.Sprintf("%s / %s (%d)", Percentile(r.GangLatency, 50).Round(100*time.Millisecond),
			Percentile(r.GangLatency, 99).Round(100*time.Millisecond), len(r.GangLatency))
	})
	add("pods bound per second", func(r *Result) string { return fmt.Sprintf("%.1f", r.Throughput()) })
	add("mean CPU bound / of it in apps running whole", func(r *Result) string {
		bound, whole := r.MeanCPU()
		return fmt.Sprintf("%.0f / %.0f", bound, whole)
	})
	if len(results) > 0 && results[0].Plain > 0 {
		add("plain pods bound; wait p50 / p99", func(r *Result) string {
			return fmt.Sprintf("%d / %d; %s / %s", len(r.PlainLatency), r.Plain,
				Percentile(r.PlainLatency, 50).Round(10*time.Millisecond), Percentile(r.PlainLatency, 99).Round(10*time.Millisecond))
		})
	}
	if len(results) > 0 && len(results[0].Queues) > 0 {
		add("time every queue had apps waiting", func(r *Result) string { return r.ContendedWindow.Round(time.Second).String() })
		for i, q := range results[0].Queues {
			add(fmt.Sprintf("queue %s (weight %d, %.0f%%): CPU share, apps done", q.Name, q.Weight, 100*q.WeightShare), func(r *Result) string {
				if r.ContendedWindow == 0 {
					return fmt.Sprintf("-, %d", r.Queues[i].Completed)
				}
				return fmt.Sprintf("%.0f%%, %d", 100*r.Queues[i].Share, r.Queues[i].Completed)
			})
		}
	}
	if results[0].Writes != nil {
		add("API writes per pod bound, all clients: bindings / pod status / PodGroups / Events", func(r *Result) string {
			if r.PodsBound == 0 {
				return "-"
			}
			per := func(keys ...string) string {
				var n float64
				for _, k := range keys {
					n += r.Writes[k]
				}
				return fmt.Sprintf("%.2f", n/float64(r.PodsBound))
			}
			return per("POST pods/binding") + " / " + per("PATCH pods/status", "PUT pods/status") + " / " +
				per("PATCH podgroups", "PUT podgroups", "PUT podgroups/status", "PATCH podgroups/status") + " / " +
				per("POST events", "PATCH events")
		})
	}
	add("scheduler CPU time / peak memory", func(r *Result) string {
		return fmt.Sprintf("%.1fs / %.0f MiB", r.SchedulerCPUSeconds, float64(r.SchedulerMaxRSS)/(1<<20))
	})
	add("outcome", func(r *Result) string { return r.Outcome })

	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len(cell))
		}
	}
	for n, row := range rows {
		for i, cell := range row {
			fmt.Fprintf(w, "| %-*s ", widths[i], cell)
		}
		fmt.Fprintln(w, "|")
		if n == 0 {
			for i := range row {
				fmt.Fprintf(w, "|%s", strings.Repeat("-", widths[i]+2))
			}
			fmt.Fprintln(w, "|")
		}
	}
}

// describeStuckLocked says, for up to n partially placed apps, where their
// pods are.
func (s *Simulator) describeStuckLocked(n int) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(s.apps)) {
		st := s.apps[name]
		if st.driverBound.IsZero() || !st.started.IsZero() || !st.done.IsZero() || !st.preempted.IsZero() || len(out) == n {
			continue
		}
		pods, _ := s.lister.Pods(s.opts.Namespace).List(labels.SelectorFromSet(labels.Set{"spark-app-name": name}))
		states := map[string]int{}
		for _, p := range pods {
			where := "unbound"
			if p.Spec.NodeName != "" {
				where = "bound"
			}
			states[fmt.Sprintf("%s %s", where, p.Status.Phase)]++
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(states)) {
			parts = append(parts, fmt.Sprintf("%d %s", states[k], k))
		}
		out = append(out, fmt.Sprintf("%s (%d executors): %s", name, st.app.Executors, strings.Join(parts, ", ")))
	}
	return out
}
