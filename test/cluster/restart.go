package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
)

// NoPeerProxyFlag turns off kube-apiserver's peer proxy (feature
// UnknownVersionInteroperabilityProxy), which serves API servers of
// different versions side by side, never the case here. Restartable
// clusters set it, and tests that run scheduler binaries should: in both,
// the goroutines of the proxy's client-certificate transport were seen to
// outlive the API server, and the leak check of RunMain reports them.
const NoPeerProxyFlag = "--feature-gates=UnknownVersionInteroperabilityProxy=false"

// restartableServerName is the name the serving certificate of a
// restartable cluster is issued for; its kubeconfig sets it as
// tls-server-name.
const restartableServerName = "localhost"

// RestartAPIServer stops the API server and starts a new one on the same
// etcd and key prefix, with the same flags, as a kube-apiserver restarted
// by its supervisor. It needs Options.Restartable: clients made from Config
// or KubeconfigPath, before or after, reach the new server at the same
// address with the same credentials; their open connections and watches
// are cut, as a real restart cuts them. It returns once the new server
// answers, with every object still there.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	if c.front == nil {
		return errors.New("restarting the API server: the cluster was not started with Options.Restartable")
	}
	c.StopAPIServer()
	return c.StartAPIServer(ctx)
}

// StopAPIServer stops the API server of a restartable cluster and cuts
// every connection to it; until StartAPIServer, connections to its address
// are accepted and closed at once. The caller must call StartAPIServer or
// Stop next.
func (c *Cluster) StopAPIServer() {
	// Cut the clients first: the server would otherwise wait for their
	// watches to time out before it stops.
	if c.front != nil {
		c.front.setBackend("")
	}
	c.stopAPIServer()
}

// StartAPIServer starts the API server of a restartable cluster again
// after StopAPIServer, and waits until it answers through Client.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	if c.front == nil {
		return errors.New("starting the API server: the cluster was not started with Options.Restartable")
	}
	addr, err := c.startAPIServer()
	if err != nil {
		return fmt.Errorf("starting kube-apiserver again: %w", err)
	}
	c.front.setBackend(addr)
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.Client.CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{})
		return err == nil, nil
	})
}

// restartable prepares what stays the same across API server restarts: a
// serving certificate, a bearer token for system:masters, and a front
// address. It returns the API server flags that use them.
func (c *Cluster) restartable() ([]string, error) {
	cert, key, err := certutil.GenerateSelfSignedCertKey(restartableServerName, []net.IP{net.ParseIP("127.0.0.1")}, nil)
	if err != nil {
		return nil, fmt.Errorf("generating a serving certificate: %w", err)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(b)
	// The certificate goes where --cert-dir keeps the one kube-apiserver
	// would generate (apiserver.crt and .key), since the test server also
	// reads it from there as its peer CA.
	certDir, tokenPath := filepath.Join(c.Dir, "certs"), filepath.Join(c.Dir, "tokens.csv")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		return nil, err
	}
	for path, data := range map[string][]byte{
		filepath.Join(certDir, "apiserver.crt"): cert,
		filepath.Join(certDir, "apiserver.key"): key,
		tokenPath:                               []byte(token + `,gangsched-admin,gangsched-admin,"system:masters"` + "\n"),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	f, err := newFront()
	if err != nil {
		return nil, err
	}
	c.front = f
	c.addTeardown(f.close)
	c.stable = &rest.Config{
		Host:            "https://" + f.addr(),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{ServerName: restartableServerName, CAData: cert},
	}
	return []string{"--cert-dir=" + certDir, "--token-auth-file=" + tokenPath, NoPeerProxyFlag}, nil
}

// front is a TCP forwarder at a fixed loopback address that passes each
// connection, TLS and all, to the API server of the moment, as a load
// balancer in front of kube-apiserver would.
type front struct {
	ln net.Listener

	mu      sync.Mutex
	backend string // host:port; "" while no API server runs
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

func newFront() (*front, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the API server front: %w", err)
	}
	f := &front{ln: ln, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

func (f *front) addr() string { return f.ln.Addr().String() }

// setBackend sends new connections to addr (a URL's host:port, or a URL),
// and cuts the ones open.
func (f *front) setBackend(addr string) {
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		addr = u.Host
	}
	f.mu.Lock()
	f.backend = addr
	f.mu.Unlock()
	f.cut()
}

// cut closes every open connection, both ends.
func (f *front) cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for conn := range f.conns {
		_ = conn.Close()
	}
}

// close stops listening, cuts every connection and waits for the copies
// to end.
func (f *front) close() {
	_ = f.ln.Close()
	f.cut()
	f.wg.Wait()
}

func (f *front) serve() {
	defer f.wg.Done()
	for {
		client, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.forward(client)
		}()
	}
}

// forward copies between client and the backend until either side closes.
func (f *front) forward(client net.Conn) {
	defer client.Close()
	f.mu.Lock()
	backend := f.backend
	f.mu.Unlock()
	if backend == "" {
		return
	}
	server, err := net.DialTimeout("tcp", backend, 5*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	if !f.track(client, server) {
		return
	}
	defer f.untrack(client, server)
	done := make(chan struct{}, 2)
	for _, p := range [][2]net.Conn{{server, client}, {client, server}} {
		go func() {
			_, _ = io.Copy(p[0], p[1])
			done <- struct{}{}
		}()
	}
	<-done
	_ = client.Close()
	_ = server.Close()
	<-done
}

// track records an open pair of connections, unless the API server was
// stopped while it was dialed.
func (f *front) track(conns ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.backend == "" {
		return false
	}
	for _, c := range conns {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *front) untrack(conns ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range conns {
		delete(f.conns, c)
	}
}
