package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	apiextensionsclientset "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	kubeapiservertesting "k8s.io/kubernetes/cmd/kube-apiserver/app/testing"
	"k8s.io/kubernetes/test/integration/framework"
	"k8s.io/kubernetes/test/utils/ktesting"
	pgclientset "sigs.k8s.io/scheduler-plugins/pkg/generated/clientset/versioned"
)

// LoopbackServerName is the TLS server name under which the test API server
// presents its loopback certificate; kubeconfigs for it must set it as
// tls-server-name.
const LoopbackServerName = "apiserver-loopback-client"

// disabledAdmissionPlugins are admission plugins that need a
// controller-manager, which does not run here: ServiceAccount rejects pods
// whose service account no controller created, and TaintNodesByCondition
// gives every node created through the API a not-ready NoSchedule taint.
var disabledAdmissionPlugins = []string{"ServiceAccount", "TaintNodesByCondition"}

// Options configures a cluster started by StartWithOptions or New. The zero
// value is the default.
type Options struct {
	// Flags are extra kube-apiserver flags, parsed after the defaults (see
	// APIServerFlags). A repeated list flag such as
	// --disable-admission-plugins adds to the default list.
	Flags []string

	// LogOut receives the API server's log. When nil, the log goes to
	// apiserver.log in Cluster.Dir.
	LogOut io.Writer

	// LogVerbosity is the verbosity of that log (klog -v).
	LogVerbosity int

	// Restartable lets the test restart the API server on the same etcd
	// (RestartAPIServer). The upstream test server picks a new port, a
	// new loopback certificate and a new loopback token each time it
	// starts, so a restartable cluster gives its clients what a real
	// deployment gives them instead: a fixed address in front of the API
	// server (a TCP forwarder, as a load balancer), a serving certificate
	// of its own (in --cert-dir) and a static system:masters token
	// (--token-auth-file). Config and KubeconfigPath use those, so every
	// client follows the API server across restarts.
	Restartable bool
}

// Cluster is a running kube-apiserver, backed by etcd, with clients for it.
// No controller-manager, scheduler or kubelet runs; nodes are plain API
// objects (see CreateNodes).
type Cluster struct {
	// Config is the API server's loopback client configuration
	// (system:masters, protobuf, QPS 1000, burst 10000). Copy it before
	// changing it.
	Config *rest.Config
	// Client is a clientset for the built-in APIs.
	Client kubernetes.Interface
	// PodGroups is a scheduler-plugins clientset
	// (scheduling.x-k8s.io/v1alpha1 PodGroup and ElasticQuota); it speaks
	// JSON, since custom resources have no protobuf encoding. The CRDs must
	// be installed first (InstallCRDs, PodGroupCRDPath).
	PodGroups pgclientset.Interface
	// Dynamic is a dynamic client, for custom resources without a typed
	// clientset.
	Dynamic dynamic.Interface
	// APIExtensions is a clientset for CustomResourceDefinitions.
	APIExtensions apiextensionsclientset.Interface
	// KubeconfigPath is a kubeconfig file for Config (server URL, bearer
	// token, CA data, tls-server-name), for processes outside this one such
	// as a scheduler binary or kwok.
	KubeconfigPath string
	// Dir is a temporary directory owned by the cluster; it holds the
	// kubeconfig and, unless Options.LogOut was set, apiserver.log. Stop
	// removes it, except after a failed test.
	Dir string
	// LogPath is the API server's log file, or "" when Options.LogOut was
	// set.
	LogPath string

	logger klog.Logger

	// What starting the API server again takes (RestartAPIServer).
	tCtx    ktesting.TContext
	flags   []string
	storage *storagebackend.Config
	// front and stable are the fixed address and the client configuration
	// of a restartable cluster; nil otherwise.
	front  *front
	stable *rest.Config

	mu        sync.Mutex
	server    *kubeapiservertesting.TestServer // the API server running, if any
	teardowns []func()                         // run last-in first-out by Stop
	stopOnce  sync.Once
	keepDir   func() bool
}

// Start starts a cluster with default Options for a test or benchmark, on
// the etcd at KUBE_INTEGRATION_ETCD_URL (see RunMain) or, when that is
// unset, on a private etcd. It fails t if the cluster cannot start and stops
// the cluster when t ends; after a failed test Dir (with the API server log)
// is kept and its path logged.
func Start(t testing.TB) *Cluster {
	t.Helper()
	return StartWithOptions(t, Options{})
}

// StartWithOptions is Start with Options.
func StartWithOptions(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{keepDir: t.Failed}
	// Registered first so that it also runs when the API server start
	// calls t.Fatal.
	t.Cleanup(c.Stop)
	if err := c.start(context.Background(), &serverTB{t: t, c: c}, opts); err != nil {
		t.Fatalf("starting cluster: %v", err)
	}
	return c
}

// New starts a cluster outside of `go test`, for example in a demo or
// benchmark program. It uses the etcd at KUBE_INTEGRATION_ETCD_URL (see
// StartEtcd) or, when that is unset, a private etcd that Stop stops. The API
// server stops when ctx is canceled or Stop is called; the caller must call
// Stop in either case, to wait for it and release its resources.
//
// The API server's contextual log goes where opts says; its global klog
// output goes wherever the program's klog writes (stderr by default; see
// RedirectKlog). The harness itself logs to the logger in ctx.
func New(ctx context.Context, opts Options) (_ *Cluster, err error) {
	c := &Cluster{}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failNow)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("starting cluster: %s", string(f))
		}
		if err != nil {
			c.Stop()
		}
	}()
	if err := c.start(ctx, &serverTB{c: c}, opts); err != nil {
		return nil, fmt.Errorf("starting cluster: %w", err)
	}
	return c, nil
}

// Stop stops the API server (and the cluster's private etcd, if it has one)
// and removes Dir. It may be called more than once.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		teardowns := c.teardowns
		c.teardowns = nil
		c.mu.Unlock()
		for _, f := range slices.Backward(teardowns) {
			f()
		}
	})
}

// addTeardown registers f to run in Stop, before everything registered
// earlier.
func (c *Cluster) addTeardown(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.teardowns = append(c.teardowns, f)
}

// start brings the cluster up in six steps. Whatever it has set up is torn
// down by Stop, also when it fails.
func (c *Cluster) start(ctx context.Context, tb *serverTB, opts Options) error {
	// 1. A directory for the kubeconfig and the logs.
	dir, err := os.MkdirTemp("", "gangsched-cluster-")
	if err != nil {
		return fmt.Errorf("creating cluster directory: %w", err)
	}
	c.Dir = dir
	c.addTeardown(func() {
		if c.keepDir != nil && c.keepDir() {
			tb.logf("cluster: keeping %s (API server log: %s)", dir, c.LogPath)
			return
		}
		_ = os.RemoveAll(dir)
	})

	// 2. The API server's log.
	logOut := opts.LogOut
	if logOut == nil {
		c.LogPath = filepath.Join(dir, "apiserver.log")
		f, err := os.Create(c.LogPath)
		if err != nil {
			return fmt.Errorf("creating API server log: %w", err)
		}
		c.addTeardown(func() { _ = f.Close() })
		logOut = f
	}
	c.logger = textlogger.NewLogger(textlogger.NewConfig(
		textlogger.Output(logOut),
		textlogger.Verbosity(opts.LogVerbosity),
	))
	tb.logger = c.logger

	// 3. Storage: the shared etcd under a fresh key prefix, or a private
	// etcd if none is shared.
	storage := framework.SharedEtcd()
	if url := os.Getenv(EtcdURLEnv); url != "" {
		if !etcdAnswers(url) {
			return fmt.Errorf("etcd at %s=%s does not answer", EtcdURLEnv, url)
		}
	} else {
		etcdLog, err := os.Create(filepath.Join(dir, "etcd.log"))
		if err != nil {
			return fmt.Errorf("creating etcd log: %w", err)
		}
		c.addTeardown(func() { _ = etcdLog.Close() })
		url, stopEtcd, err := startEtcd(ctx, etcdLog)
		if err != nil {
			return fmt.Errorf("starting private etcd: %w", err)
		}
		c.addTeardown(stopEtcd)
		storage.Transport.ServerList = []string{url}
	}

	// 4. The API server. The server's context carries the file logger and
	// is canceled by Stop, which TearDownFn needs to return.
	c.tCtx = ktesting.InitCtx(klog.NewContext(ctx, c.logger), tb).WithCancel()
	c.addTeardown(func() { c.tCtx.Cancel("cluster stopped") })
	c.flags, c.storage = APIServerFlags(opts.Flags...), storage
	if opts.Restartable {
		flags, err := c.restartable()
		if err != nil {
			return fmt.Errorf("preparing a restartable API server: %w", err)
		}
		c.flags = append(c.flags, flags...)
	}
	c.addTeardown(c.stopAPIServer)
	addr, err := c.startAPIServer()
	if err != nil {
		return fmt.Errorf("starting kube-apiserver: %w", err)
	}
	if c.front != nil {
		c.front.setBackend(addr)
	}

	// 5. Clients.
	c.Config = rest.CopyConfig(c.server.ClientConfig)
	if c.stable != nil {
		c.Config.Host, c.Config.BearerToken, c.Config.TLSClientConfig = c.stable.Host, c.stable.BearerToken, c.stable.TLSClientConfig
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("creating clientset: %w", err)
	}
	if c.PodGroups, err = pgclientset.NewForConfig(JSONConfig(c.Config)); err != nil {
		return fmt.Errorf("creating scheduler-plugins clientset: %w", err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("creating dynamic client: %w", err)
	}
	if c.APIExtensions, err = apiextensionsclientset.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("creating apiextensions clientset: %w", err)
	}

	// 6. A kubeconfig for other processes.
	c.KubeconfigPath = filepath.Join(dir, "kubeconfig")
	if err := WriteKubeconfig(c.KubeconfigPath, c.Config); err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Cluster started", "server", c.Config.Host, "dir", dir)
	return nil
}

// startAPIServer starts an API server with the cluster's flags and storage
// and returns its address (a URL).
func (c *Cluster) startAPIServer() (string, error) {
	keysBefore := testKeyFiles()
	server, err := startTestServer(c.tCtx, c.flags, c.storage)
	// StartTestServer removes its service account key file itself, but
	// other helpers (framework.StartTestServer) leave theirs behind. Remove
	// any that appeared while this server started: by the time Stop runs,
	// every server that started meanwhile has read its key.
	newKeys := newFiles(keysBefore, testKeyFiles())
	c.addTeardown(func() {
		for _, k := range newKeys {
			_ = os.Remove(k)
		}
	})
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.server = &server
	c.mu.Unlock()
	return server.ClientConfig.Host, nil
}

// stopAPIServer stops the API server, if one runs.
func (c *Cluster) stopAPIServer() {
	c.mu.Lock()
	server := c.server
	c.server = nil
	c.mu.Unlock()
	if server != nil {
		server.TearDownFn()
	}
}

// startTestServer calls the upstream StartTestServer and turns its panics,
// such as pflag's on an unknown flag, into errors. The failNow panic of
// serverTB passes through to New.
func startTestServer(tCtx ktesting.TContext, flags []string, storage *storagebackend.Config) (server kubeapiservertesting.TestServer, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(failNow); ok {
				panic(r)
			}
			err = fmt.Errorf("test server panicked: %v", r)
		}
	}()
	return kubeapiservertesting.StartTestServer(tCtx,
		&kubeapiservertesting.TestServerInstanceOptions{
			EnableCertAuth: true,
			// The invariant checks scrape /metrics at teardown to test the
			// API server itself, which is not what these tests are about.
			DisableInvariantChecks: true,
		},
		flags, storage)
}

// APIServerFlags returns the kube-apiserver flags a Cluster runs with:
// upstream's framework.DefaultTestServerFlags with the admission plugins
// that need a controller-manager (ServiceAccount, TaintNodesByCondition)
// disabled, followed by extra.
func APIServerFlags(extra ...string) []string {
	const disableFlag = "--disable-admission-plugins="
	disabled := slices.Clone(disabledAdmissionPlugins)
	var flags []string
	for _, f := range framework.DefaultTestServerFlags() {
		if list, ok := strings.CutPrefix(f, disableFlag); ok {
			for _, p := range strings.Split(list, ",") {
				if p != "" && !slices.Contains(disabled, p) {
					disabled = append(disabled, p)
				}
			}
			continue
		}
		flags = append(flags, f)
	}
	flags = append(flags, disableFlag+strings.Join(disabled, ","))
	return append(flags, extra...)
}

// JSONConfig returns a copy of cfg that sends and accepts JSON, as clients
// of custom resources must.
func JSONConfig(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType = "application/json"
	cfg.AcceptContentTypes = "application/json"
	return cfg
}

// WriteKubeconfig writes a kubeconfig for cfg, a test API server's loopback
// configuration, to path: server URL, bearer token, CA data and
// tls-server-name (LoopbackServerName unless cfg names another).
func WriteKubeconfig(path string, cfg *rest.Config) error {
	caData := cfg.TLSClientConfig.CAData
	if len(caData) == 0 && cfg.TLSClientConfig.CAFile != "" {
		var err error
		if caData, err = os.ReadFile(cfg.TLSClientConfig.CAFile); err != nil {
			return fmt.Errorf("reading API server CA: %w", err)
		}
	}
	if len(caData) == 0 {
		return errors.New("writing kubeconfig: client config has no CA")
	}
	serverName := cfg.TLSClientConfig.ServerName
	if serverName == "" {
		serverName = LoopbackServerName
	}
	const name = "gangsched"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: caData,
		TLSServerName:            serverName,
	}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

// testKeyFiles lists the service account key files that Kubernetes' test
// API servers create in /tmp.
func testKeyFiles() []string {
	files, _ := filepath.Glob("/tmp/insecure_test_key*")
	return files
}

// newFiles returns the entries of after that are not in before.
func newFiles(before, after []string) []string {
	var added []string
	for _, f := range after {
		if !slices.Contains(before, f) {
			added = append(added, f)
		}
	}
	return added
}
