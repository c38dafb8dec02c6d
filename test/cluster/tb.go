package cluster

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"k8s.io/klog/v2"
	"k8s.io/kubernetes/test/utils/ktesting"
)

// failNow is the panic value with which serverTB aborts StartTestServer
// outside of a test; New recovers it.
type failNow string

// serverTB is the ktesting.TB handed to the upstream StartTestServer. Its
// log output goes to the cluster's API server log instead of the test log,
// and its cleanups run in Cluster.Stop, after the API server has stopped.
// Failures go to t when there is one; outside a test (t == nil) they are
// logged, and FailNow panics with failNow.
type serverTB struct {
	t      testing.TB // nil outside a test
	c      *Cluster
	logger klog.Logger

	mu     sync.Mutex
	failed bool
}

var _ ktesting.TB = &serverTB{}

func (s *serverTB) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if s.t != nil {
		s.t.Log(msg)
		return
	}
	s.logger.Info(msg)
}

func (s *serverTB) Attr(key, value string) {
	if s.t != nil {
		s.t.Attr(key, value)
	}
}

func (s *serverTB) Chdir(dir string) {
	if s.t != nil {
		s.t.Chdir(dir)
		return
	}
	s.Fatalf("Chdir(%q) is not supported outside a test", dir)
}

func (s *serverTB) Cleanup(f func()) { s.c.addTeardown(f) }

func (s *serverTB) Error(args ...any) { s.report(1, fmt.Sprint(args...), false) }

func (s *serverTB) Errorf(format string, args ...any) {
	s.report(1, fmt.Sprintf(format, args...), false)
}

// report records a failure with message msg: on t, or else in the log and
// s.failed, followed by a failNow panic if fatal. depth is the number of
// frames between report and the method of serverTB that was called, which
// is itself called by ktesting.TContext.
func (s *serverTB) report(depth int, msg string, fatal bool) {
	if s.t != nil {
		s.t.Helper()
		if fatal {
			s.t.Fatal(msg)
		}
		s.t.Error(msg)
		return
	}
	s.logger.WithCallDepth(depth+2).Error(nil, msg)
	s.Fail()
	if fatal {
		panic(failNow(msg))
	}
}

func (s *serverTB) Fail() {
	if s.t != nil {
		s.t.Fail()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = true
}

func (s *serverTB) FailNow() {
	if s.t != nil {
		s.t.FailNow()
		return
	}
	s.Fail()
	panic(failNow("test server failed"))
}

func (s *serverTB) Failed() bool {
	if s.t != nil {
		return s.t.Failed()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *serverTB) Fatal(args ...any) { s.report(1, fmt.Sprint(args...), true) }

func (s *serverTB) Fatalf(format string, args ...any) {
	s.report(1, fmt.Sprintf(format, args...), true)
}

func (s *serverTB) Helper() {
	if s.t != nil {
		s.t.Helper()
	}
}

// Log and Logf write to the API server log: StartTestServer logs its
// progress there, which would clutter `go test -v` output.
// Both are called by ktesting.TContext, hence the call depth.
func (s *serverTB) Log(args ...any) { s.logger.WithCallDepth(2).Info(fmt.Sprint(args...)) }

func (s *serverTB) Logf(format string, args ...any) {
	s.logger.WithCallDepth(2).Info(fmt.Sprintf(format, args...))
}

func (s *serverTB) Name() string {
	if s.t != nil {
		return s.t.Name()
	}
	return "cluster"
}

func (s *serverTB) Setenv(key, value string) {
	if s.t != nil {
		s.t.Setenv(key, value)
		return
	}
	prev, had := os.LookupEnv(key)
	if err := os.Setenv(key, value); err != nil {
		s.Fatalf("setting %s: %v", key, err)
	}
	s.Cleanup(func() {
		if had {
			_ = os.Setenv(key, prev)
		} else {
			_ = os.Unsetenv(key)
		}
	})
}

func (s *serverTB) Skip(args ...any) { s.Skipf("%s", fmt.Sprint(args...)) }

func (s *serverTB) Skipf(format string, args ...any) {
	if s.t != nil {
		s.t.Skipf(format, args...)
		return
	}
	s.Fatalf("skipped: "+format, args...)
}

func (s *serverTB) SkipNow() { s.Skipf("SkipNow called") }

func (s *serverTB) Skipped() bool {
	if s.t != nil {
		return s.t.Skipped()
	}
	return false
}

func (s *serverTB) TempDir() string {
	dir, err := os.MkdirTemp(s.c.Dir, "tmp-")
	if err != nil {
		s.Fatalf("creating temp dir: %v", err)
	}
	return dir
}
