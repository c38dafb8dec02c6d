package sim

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
}

// DefaultScheduler is kube-scheduler's stock profile, built from the same
// Kubernetes module as gang-scheduler.
var DefaultScheduler = Scheduler{Name: "default", Stock: true}

// GangScheduler is gangsched as manifests/ configures it.
var GangScheduler = Scheduler{Name: "gangsched"}

// CoschedulingScheduler returns scheduler-plugins' Coscheduling run by binary.
func CoschedulingScheduler(binary string) Scheduler {
	return Scheduler{Name: "coscheduling", Coscheduling: true, Binary: binary}
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

// Process is a scheduler running as its own process.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
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
	logFile, err := os.Create(filepath.Join(dir, s.Name+"-scheduler.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "--config="+cfgPath, "--secure-port=0", "--v=2")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", binary, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(p.done) }()

	canary := w.MakePod(namespace, "canary").Scheduler(SchedulerName).Obj()
	canary.UID = ""
	if _, err := client.CoreV1().Pods(namespace).Create(ctx, canary, metav1.CreateOptions{}); err != nil {
		p.Stop()
		return nil, err
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("scheduler exited; see %s", logFile.Name())
		default:
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
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				maxRSS = kb << 10
			}
		}
	}
	return cpuSeconds, maxRSS
}

// Stop ends the process and waits for it.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
