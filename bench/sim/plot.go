package sim

import (
	"fmt"
	"io"
	"strings"
)

// series is one line of a chart.
type series struct {
	name   string
	points [][2]float64
}

var palette = []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd"}

// lineChart writes an SVG line chart, axes from 0 to the largest x and y.
func lineChart(w io.Writer, title, xLabel, yLabel string, lines []series) {
	const width, height, left, bottom, top, right = 720.0, 400.0, 70.0, 50.0, 40.0, 160.0
	maxX, maxY := 1e-9, 1e-9
	for _, l := range lines {
		for _, p := range l.points {
			maxX, maxY = max(maxX, p[0]), max(maxY, p[1])
		}
	}
	px := func(x float64) float64 { return left + x/maxX*(width-left-right) }
	py := func(y float64) float64 { return height - bottom - y/maxY*(height-bottom-top) }
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/><text x="%.0f" y="22" font-size="15">%s</text>`+"\n", left, title)
	fmt.Fprintf(w, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", left, py(0), px(maxX), py(0))
	fmt.Fprintf(w, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", left, py(0), left, py(maxY))
	for i := 0; i <= 4; i++ {
		x, y := maxX*float64(i)/4, maxY*float64(i)/4
		fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="middle">%.3g</text>`+"\n", px(x), py(0)+18, x)
		fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="end">%.3g</text>`+"\n", left-6, py(y)+4, y)
		fmt.Fprintf(w, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#ddd"/>`+"\n", left, py(y), px(maxX), py(y))
	}
	fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text>`+"\n", px(maxX/2), height-10, xLabel)
	fmt.Fprintf(w, `<text x="16" y="%.0f" transform="rotate(-90 16 %.0f)" text-anchor="middle">%s</text>`+"\n", py(maxY/2), py(maxY/2), yLabel)
	for i, l := range lines {
		color := palette[i%len(palette)]
		var pts []string
		for _, p := range l.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		fmt.Fprintf(w, `<rect x="%.0f" y="%.0f" width="14" height="4" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			width-right+15, top+20*float64(i)+6, color, width-right+35, top+20*float64(i)+12, l.name)
	}
	fmt.Fprintln(w, "</svg>")
}

// WriteUtilization charts the share of the cluster's CPU bound to pods over
// time, one line per scheduler.
func WriteUtilization(w io.Writer, results []*Result, capacityCPU float64) {
	var lines []series
	for _, r := range results {
		l := series{name: r.Scheduler}
		for _, s := range r.Samples {
			l.points = append(l.points, [2]float64{s.At.Seconds(), 100 * float64(s.BoundCPU) / 1000 / capacityCPU})
		}
		lines = append(lines, l)
	}
	lineChart(w, "CPU bound to pods", "seconds", "% of the cluster", lines)
}

// WriteLatencyCDF charts, per scheduler, the share of apps started (all
// pods running) within a given time of their submission; apps that never
// started keep a line below 100%.
func WriteLatencyCDF(w io.Writer, results []*Result) {
	var lines []series
	for _, r := range results {
		l := series{name: r.Scheduler, points: [][2]float64{{0, 0}}}
		for i, d := range r.GangLatency {
			l.points = append(l.points, [2]float64{d.Seconds(), 100 * float64(i+1) / float64(r.Apps)})
		}
		lines = append(lines, l)
	}
	lineChart(w, "Apps started within a time of submission", "seconds", "% of apps", lines)
}

// WriteCSV writes one row per scheduler.
func WriteCSV(w io.Writer, results []*Result) {
	fmt.Fprintln(w, "scheduler,apps,completed,partial_at_end,resubmitted,preempted_at_end,held_cpu_at_end,wasted_cpu_seconds,makespan_seconds,latency_p50_seconds,latency_p99_seconds,pods_bound,pods_per_second,mean_cpu_bound,mean_cpu_in_whole_apps,plain_pods,plain_bound,plain_wait_p50_seconds,plain_wait_p99_seconds,scheduler_cpu_seconds,scheduler_max_rss_mib,outcome")
	for _, r := range results {
		bound, whole := r.MeanCPU()
		fmt.Fprintf(w, "%s,%d,%d,%d,%d,%d,%.0f,%.0f,%.1f,%.1f,%.1f,%d,%.2f,%.0f,%.0f,%d,%d,%.3f,%.3f,%.1f,%.0f,%q\n", r.Scheduler, r.Apps, r.Completed, r.Partial, r.Resubmitted, r.Preempted,
			r.HeldCPUAtEnd, r.WastedCPUSeconds, r.Makespan.Seconds(), Percentile(r.GangLatency, 50).Seconds(),
			Percentile(r.GangLatency, 99).Seconds(), r.PodsBound, r.Throughput(), bound, whole, r.Plain, len(r.PlainLatency),
			Percentile(r.PlainLatency, 50).Seconds(), Percentile(r.PlainLatency, 99).Seconds(),
			r.SchedulerCPUSeconds, float64(r.SchedulerMaxRSS)/(1<<20), r.Outcome)
	}
}

// WriteQueuesCSV writes one row per scheduler and queue: the queue's share
// of the CPU-seconds used while every queue had apps waiting, against the
// share its weight asks for.
func WriteQueuesCSV(w io.Writer, results []*Result) {
	fmt.Fprintln(w, "scheduler,queue,weight,weight_share,cpu_share,cpu_seconds,contended_seconds,apps_completed")
	for _, r := range results {
		for _, q := range r.Queues {
			fmt.Fprintf(w, "%s,%s,%d,%.3f,%.3f,%.0f,%.1f,%d\n", r.Scheduler, q.Name, q.Weight, q.WeightShare, q.Share,
				q.CPUSeconds, r.ContendedWindow.Seconds(), q.Completed)
		}
	}
}

// MeanCPU is the CPU (cores) bound to pods on average over the run's
// samples, and the part of it in apps running whole: the work done.
func (r *Result) MeanCPU() (bound, whole float64) {
	if len(r.Samples) == 0 {
		return 0, 0
	}
	for _, s := range r.Samples {
		bound += float64(s.BoundCPU)
		whole += float64(s.BoundCPU - s.HeldCPU - s.PlainCPU)
	}
	n := float64(len(r.Samples)) * 1000
	return bound / n, whole / n
}

// Throughput is pods bound per second of the run.
func (r *Result) Throughput() float64 {
	if r.Makespan <= 0 {
		return 0
	}
	return float64(r.PodsBound) / r.Makespan.Seconds()
}
