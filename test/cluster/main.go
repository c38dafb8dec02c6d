package cluster

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/test/integration/framework"
)

// leakTimeout bounds how long RunMain waits for goroutines to end after the
// tests passed before it reports them as leaked.
const leakTimeout = 30 * time.Second

// RunMain is the body of a TestMain for packages that use Start: it starts
// one etcd for the whole test binary (see StartEtcd), runs the tests, stops
// etcd and, if the tests passed, checks for leaked goroutines as upstream's
// framework.EtcdMain does (allowing leakTimeout for them to end). It returns
// the exit code for os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(cluster.RunMain(m)) }
//
// If KUBE_INTEGRATION_ETCD_URL already names an etcd that accepts
// connections, that one is used and left running.
//
// etcd's output and the global klog output (see RedirectKlog; the API
// servers log there too) go to etcd.log and klog.log in a temporary
// directory, which is removed when the tests pass and kept, with its path
// printed, when they fail.
func RunMain(m *testing.M) int { return runMainLogged(m, true) }

// RunMainWithoutLeakCheck is RunMain without the goroutine leak check, for
// tests of programs that run in processes of their own, where the API
// server's own late goroutines are all a check could find.
func RunMainWithoutLeakCheck(m *testing.M) int { return runMainLogged(m, false) }

func runMainLogged(m *testing.M, leakCheck bool) int {
	// Parse now so that -help exits before etcd starts; m.Run parses again
	// harmlessly.
	flag.Parse()

	logDir, err := os.MkdirTemp("", "gangsched-test-logs-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot run integration tests: creating log dir: %v\n", err)
		return 1
	}
	code := runMain(m, logDir, leakCheck)
	if code == 0 {
		_ = os.RemoveAll(logDir)
	} else {
		fmt.Fprintf(os.Stderr, "etcd and klog logs: %s\n", logDir)
	}
	return code
}

func runMain(m *testing.M, logDir string, leakCheck bool) int {
	klogFile, err := os.Create(filepath.Join(logDir, "klog.log"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot run integration tests: %v\n", err)
		return 1
	}
	defer klogFile.Close()
	restoreKlog, err := RedirectKlog(klogFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot run integration tests: %v\n", err)
		return 1
	}
	defer func() {
		klog.Flush()
		restoreKlog()
	}()

	// Must come before the tests start goroutines.
	leakOpts := framework.IgnoreBackgroundGoroutines()

	code, err := runWithEtcd(m, logDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot run integration tests: %v\n", err)
		return 1
	}
	if code != 0 || !leakCheck {
		return code // Failed tests often leak; don't wait for them.
	}
	if err := findLeaks(leakOpts...); err != nil {
		fmt.Fprintf(os.Stderr, "goroutines leaked by the tests: %v\n", err)
		return 1
	}
	return 0
}

// runWithEtcd runs the tests with the etcd at KUBE_INTEGRATION_ETCD_URL, or
// with one it starts and stops.
func runWithEtcd(m *testing.M, logDir string) (int, error) {
	if url := os.Getenv(EtcdURLEnv); url != "" && etcdAnswers(url) {
		klog.Background().V(1).Info("Using running etcd", "url", url)
		return m.Run(), nil
	}
	etcdLog, err := os.Create(filepath.Join(logDir, "etcd.log"))
	if err != nil {
		return 0, err
	}
	defer etcdLog.Close()
	_, stop, err := StartEtcd(context.Background(), etcdLog)
	if err != nil {
		return 0, err
	}
	defer stop()
	return m.Run(), nil
}

// findLeaks retries goleak.Find for up to leakTimeout: API servers and
// client-go transports end their goroutines a little after teardown.
func findLeaks(opts ...goleak.Option) error {
	deadline := time.Now().Add(leakTimeout)
	for {
		err := goleak.Find(opts...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		runtime.GC() // Runs the cleanups of client-go's tlsTransportCache.
		time.Sleep(100 * time.Millisecond)
	}
}
