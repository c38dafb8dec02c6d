package sim

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/gangsched/gangsched/manifests"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// SchedulerName is the name every simulated pod asks for, whichever
// scheduler answers to it.
const SchedulerName = "gang-scheduler"

// Scheduler is a scheduler under test.
type Scheduler struct {
	// Name labels the scheduler in reports.
	Name string
	// Stock runs kube-scheduler's default profile instead of gangsched's.
	Stock bool
	// Coscheduling runs scheduler-plugins' Coscheduling profile, as its
	// manifests/coscheduling/scheduler-config.yaml configures it; Binary
	// must then be scheduler-plugins' scheduler (bench/coscheduling).
	Coscheduling bool
	// Binary overrides the scheduler binary StartProcess is given.
	Binary string
	// Controller, if set, is a controller binary run alongside the
	// scheduler with --kubeconfig: scheduler-plugins' PodGroup controller,
	// which Coscheduling relies on to move PodGroups along.
	Controller string
}

// DefaultScheduler is kube-scheduler's stock profile, built from the same
// Kubernetes module as gang-scheduler.
var DefaultScheduler = Scheduler{Name: "default", Stock: true}

// GangScheduler is gangsched as manifests/ configures it.
var GangScheduler = Scheduler{Name: "gangsched"}

// CoschedulingScheduler returns scheduler-plugins' Coscheduling run by binary
// and its PodGroup controller run by controller.
func CoschedulingScheduler(binary, controller string) Scheduler {
	return Scheduler{Name: "coscheduling", Coscheduling: true, Binary: binary, Controller: controller}
}

// coschedulingConfig is scheduler-plugins' shipped Coscheduling profile
// (manifests/coscheduling/scheduler-config.yaml in v0.34.7) under the
// benchmark's scheduler name, with gangsched's permit timeout.
const coschedulingConfig = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: false
clientConnection:
  kubeconfig: %q
profiles:
- schedulerName: %s
  plugins:
    multiPoint:
      enabled:
      - name: Coscheduling
    queueSort:
      enabled:
      - name: Coscheduling
      disabled:
      - name: "*"
  pluginConfig:
  - name: Coscheduling
    args:
      permitWaitingTimeSeconds: 60
`

// config renders the scheduler's configuration for the cluster of kubeconfig.
func (s Scheduler) config(kubeconfig string) ([]byte, error) {
	if s.Coscheduling {
		return []byte(fmt.Sprintf(coschedulingConfig, kubeconfig, SchedulerName)), nil
	}
	return manifests.SchedulerConfig(manifests.RenderOptions{Kubeconfig: kubeconfig, Stock: s.Stock})
}

// Process is a scheduler running as its own process (and its controller).
type Process struct {
	*child
	controller *child
	// port serves /metrics over HTTPS on loopback, without authentication.
	port int
}

// StartProcess runs binary (cmd/gang-scheduler) with the scheduler's
// configuration against the cluster of kubeconfig, logging into dir, and
// waits until it binds a canary pod in namespace.
func StartProcess(ctx context.Context, s Scheduler, binary, kubeconfig, dir string, client kubernetes.Interface, namespace string) (*Process, error) {
	cfg, err := s.config(kubeconfig)
	if err != nil {
		return nil, err
	}
	if s.Binary != "" {
		binary = s.Binary
	}
	cfgPath := filepath.Join(dir, s.Name+"-config.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, s.Name+"-scheduler.log")
	c, err := startChild(binary, logPath, "--config="+cfgPath, "--v=2",
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics,/debug/pprof/*")
	if err != nil {
		return nil, err
	}
	p := &Process{child: c, port: port}
	if s.Controller != "" {
		p.controller, err = startChild(s.Controller, filepath.Join(dir, s.Name+"-controller.log"),
			"--kubeconfig="+kubeconfig, "--metricsAddr=0", "--probeAddr=0")
		if err != nil {
			p.Stop()
			return nil, err
		}
	}

	canary := w.MakePod(namespace, "canary").Scheduler(SchedulerName).Obj()
	canary.UID = ""
	if _, err := client.CoreV1().Pods(namespace).Create(ctx, canary, metav1.CreateOptions{}); err != nil {
		p.Stop()
		return nil, err
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("scheduler exited; see %s", logPath)
		}
		got, err := client.CoreV1().Pods(namespace).Get(ctx, "canary", metav1.GetOptions{})
		return err == nil && got.Spec.NodeName != "", nil
	})
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("waiting for %s to schedule: %w", s.Name, err)
	}
	zero := int64(0)
	_ = client.CoreV1().Pods(namespace).Delete(ctx, "canary", metav1.DeleteOptions{GracePeriodSeconds: &zero})
	return p, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Metrics returns the scheduler's /metrics page.
func (p *Process) Metrics(ctx context.Context) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/metrics", p.port), nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return string(body), err
}

// SumMetric adds up the samples of a metric in a /metrics page, over all
// its label values; found is false when it has none.
func SumMetric(page, name string) (sum float64, found bool) {
	for _, line := range strings.Split(page, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			sum, found = sum+v, true
		}
	}
	return sum, found
}

// RSS returns the process's resident memory now, from /proc.
func (p *Process) RSS() int64 {
	return procStatusKB(p.cmd.Process.Pid, "VmRSS:") << 10
}

// procStatusKB reads a "kB" field of /proc/pid/status.
func procStatusKB(pid int, field string) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// Usage returns the CPU time the process used so far and its peak resident
// memory, from /proc.
func (p *Process) Usage() (cpuSeconds float64, maxRSS int64) {
	pid := p.cmd.Process.Pid
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command name, which is in parentheses: utime
		// and stime are the 12th and 13th, in clock ticks (100 a second).
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
			f := strings.Fields(string(stat)[i+1:])
			if len(f) > 12 {
				ut, _ := strconv.ParseFloat(f[11], 64)
				st, _ := strconv.ParseFloat(f[12], 64)
				cpuSeconds = (ut + st) / 100
			}
		}
	}
	return cpuSeconds, procStatusKB(pid, "VmHWM:") << 10
}

// Stop ends the scheduler and its controller.
func (p *Process) Stop() {
	if p.controller != nil {
		p.controller.Stop()
	}
	p.child.Stop()
}
