package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

const (
	// ModulePath is the Go module path of this repository; RepoRoot looks
	// for the go.mod that declares it.
	ModulePath = "github.com/gangsched/gangsched"

	// EtcdURLEnv is the environment variable through which Kubernetes'
	// integration helpers (framework.SharedEtcd) find etcd.
	EtcdURLEnv = "KUBE_INTEGRATION_ETCD_URL"

	// EtcdBinEnv names an etcd binary to use instead of <repo>/bin/etcd.
	EtcdBinEnv = "ETCD_BIN"

	etcdStartTimeout = 30 * time.Second
	etcdStopTimeout  = 5 * time.Second
)

// RepoRoot returns the root of this repository: the nearest directory, from
// the working directory upwards, whose go.mod declares ModulePath.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("getting working directory: %w", err)
	}
	for {
		if modulePathOf(filepath.Join(dir, "go.mod")) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod for module %s above the working directory", ModulePath)
		}
		dir = parent
	}
}

// modulePathOf returns the module path declared in the go.mod file at path,
// or "" if the file cannot be read or declares none.
func modulePathOf(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`)
		}
	}
	return ""
}

// EtcdPath returns the etcd binary to run, looked up in this order: the
// ETCD_BIN environment variable, <repo>/bin/etcd, etcd in PATH.
func EtcdPath() (string, error) {
	if p := os.Getenv(EtcdBinEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("etcd binary from %s: %w", EtcdBinEnv, err)
		}
		return p, nil
	}
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, "bin", "etcd")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no etcd binary: set %s, run `make etcd` to build <repo>/bin/etcd, or put etcd in PATH", EtcdBinEnv)
}

// StartEtcd starts a single-member etcd on 127.0.0.1 with free random client
// and peer ports, a data directory in a new temporary directory and
// --unsafe-no-fsync, waits until it reports healthy, and sets
// KUBE_INTEGRATION_ETCD_URL to its client URL. etcd's output goes to logOut
// (discarded when nil).
//
// ctx bounds only the start-up; the process runs until stop is called. stop
// terminates etcd (SIGTERM, then SIGKILL after 5 s), waits for it, removes
// the data directory and restores KUBE_INTEGRATION_ETCD_URL. It may be
// called more than once.
func StartEtcd(ctx context.Context, logOut io.Writer) (url string, stop func(), err error) {
	url, stop, err = startEtcd(ctx, logOut)
	if err != nil {
		return "", nil, err
	}
	prev, hadPrev := os.LookupEnv(EtcdURLEnv)
	if err := os.Setenv(EtcdURLEnv, url); err != nil {
		stop()
		return "", nil, fmt.Errorf("setting %s: %w", EtcdURLEnv, err)
	}
	stopEtcd := stop
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stopEtcd()
			if os.Getenv(EtcdURLEnv) != url {
				return // Someone else changed it meanwhile; leave it alone.
			}
			if hadPrev {
				_ = os.Setenv(EtcdURLEnv, prev)
			} else {
				_ = os.Unsetenv(EtcdURLEnv)
			}
		})
	}
	return url, stop, nil
}

// startEtcd is StartEtcd without touching the environment. It retries a few
// times because another process may take a free port between the probe and
// etcd's bind.
func startEtcd(ctx context.Context, logOut io.Writer) (string, func(), error) {
	bin, err := EtcdPath()
	if err != nil {
		return "", nil, err
	}
	if logOut == nil {
		logOut = io.Discard
	}
	const attempts = 3
	var lastErr error
	for i := 0; i < attempts; i++ {
		url, stop, err := startEtcdOnce(ctx, bin, logOut)
		if err == nil {
			return url, stop, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return "", nil, lastErr
}

func startEtcdOnce(ctx context.Context, bin string, logOut io.Writer) (string, func(), error) {
	logger := klog.FromContext(ctx)
	ports, err := freePorts(2)
	if err != nil {
		return "", nil, err
	}
	dataDir, err := os.MkdirTemp("", "gangsched-etcd-")
	if err != nil {
		return "", nil, fmt.Errorf("creating etcd data dir: %w", err)
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	args := []string{
		"--name=default",
		"--data-dir=" + dataDir,
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--unsafe-no-fsync",
		"--log-level=warn",
		// As upstream's integration etcd: room for large benchmarks.
		"--quota-backend-bytes=" + strconv.FormatInt(8<<30, 10),
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logOut
	cmd.Stderr = logOut
	setParentDeathSignal(cmd)
	logger.V(2).Info("Starting etcd", "binary", bin, "url", clientURL, "dataDir", dataDir)
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dataDir)
		return "", nil, fmt.Errorf("starting etcd %s: %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()

	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(etcdStopTimeout):
				logger.Info("etcd did not exit after SIGTERM, killing it", "timeout", etcdStopTimeout)
				_ = cmd.Process.Kill()
				<-exited
			}
			if err := os.RemoveAll(dataDir); err != nil {
				logger.Error(err, "Removing etcd data dir", "dataDir", dataDir)
			}
			logger.V(2).Info("etcd stopped", "url", clientURL)
		})
	}

	if err := waitEtcdHealthy(ctx, clientURL, exited); err != nil {
		stop()
		if waitErr != nil {
			err = fmt.Errorf("%w (etcd exited: %w)", err, waitErr)
		}
		return "", nil, err
	}
	logger.V(1).Info("etcd is ready", "url", clientURL)
	return clientURL, stop, nil
}

// waitEtcdHealthy polls etcd's /health endpoint until it reports healthy,
// etcd exits, ctx ends or etcdStartTimeout passes.
func waitEtcdHealthy(ctx context.Context, clientURL string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, etcdStartTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	var lastErr error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientURL+"/health", nil)
		if err != nil {
			return fmt.Errorf("building etcd health request: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"health":"true"`) {
				return nil
			}
			err = fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		}
		lastErr = err
		select {
		case <-exited:
			return fmt.Errorf("etcd at %s exited before it was healthy (last check: %w)", clientURL, lastErr)
		case <-ctx.Done():
			return fmt.Errorf("waiting for etcd at %s to be healthy: %w (last check: %w)", clientURL, context.Cause(ctx), lastErr)
		case <-ticker.C:
		}
	}
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago.
func freePorts(n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		listeners = append(listeners, l)
		addr, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			return nil, errors.New("finding a free port: listener has no TCP address")
		}
		ports = append(ports, addr.Port)
	}
	return ports, nil
}

// etcdAnswers reports whether something accepts TCP connections at the
// host:port of an http:// etcd URL.
func etcdAnswers(url string) bool {
	hostPort := strings.TrimPrefix(url, "http://")
	conn, err := net.DialTimeout("tcp", hostPort, time.Second)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}
