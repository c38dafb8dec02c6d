package cluster

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Scheduler is a gang-scheduler binary a test runs against a cluster.
type Scheduler struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	port    int
	exited  chan struct{}
}

// StartScheduler runs binary with the scheduler configuration config (its
// kubeconfig set) and the identity of kubeconfig for delegated
// authentication and authorization, serving its secure port on loopback with
// /healthz, /readyz, /livez and /metrics open, plus args. It runs until Kill
// or the end of the test; the tail of its log is shown if the test failed.
func StartScheduler(t testing.TB, binary, kubeconfig, name string, config []byte, args ...string) *Scheduler {
	t.Helper()
	dir := t.TempDir()
	cfgPath, logPath := filepath.Join(dir, "config.yaml"), filepath.Join(dir, name+".log")
	if err := os.WriteFile(cfgPath, config, 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &Scheduler{name: name, logPath: logPath, port: port, exited: make(chan struct{})}
	s.cmd = exec.Command(binary, append([]string{
		"--config=" + cfgPath,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--authentication-kubeconfig=" + kubeconfig, "--authorization-kubeconfig=" + kubeconfig,
		"--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
		"--v=2"}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		terminate(s.cmd, s.exited, 10*time.Second)
		_ = logFile.Close()
		if t.Failed() {
			if data, err := os.ReadFile(logPath); err == nil {
				t.Logf("%s scheduler log (tail):\n%s", name, Tail(string(data), 60))
			}
		}
	})
	return s
}

// Log returns what the scheduler logged so far.
func (s *Scheduler) Log() string {
	data, _ := os.ReadFile(s.logPath)
	return string(data)
}

// Name is the name the scheduler was started with.
func (s *Scheduler) Name() string { return s.name }

// Get fetches path from the scheduler's secure port: the status code and
// body, or 0 and the error.
func (s *Scheduler) Get(path string) (int, string) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d%s", s.port, path))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Kill kills the scheduler at once, as a crash or a lost node would.
func (s *Scheduler) Kill(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing the %s scheduler: %v", s.name, err)
	}
	<-s.exited
}

// Terminate stops the scheduler gracefully (SIGTERM, SIGKILL after 10s),
// as a rolling update or a drain stops a pod.
func (s *Scheduler) Terminate() {
	terminate(s.cmd, s.exited, 10*time.Second)
}

// Leads reports whether the scheduler holds its leader Lease, from its
// leader_election_master_status metric.
func (s *Scheduler) Leads() bool {
	code, body := s.Get("/metrics")
	if code != http.StatusOK {
		return false
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "leader_election_master_status{") && strings.HasSuffix(line, " 1") {
			return true
		}
	}
	return false
}

// terminate ends the process of cmd, whose exited is closed once it was
// waited for: SIGTERM, then SIGKILL after grace.
func terminate(cmd *exec.Cmd, exited <-chan struct{}, grace time.Duration) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
