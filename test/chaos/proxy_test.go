package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gangsched/gangsched/test/cluster"
)

// What the brownout proxy does to one request while it browns out.
const (
	throttled   = "429"         // 429 Too Many Requests, Retry-After: 1
	unavailable = "503"         // 503 Service Unavailable, Retry-After: 1
	failed      = "500"         // 500 Internal Server Error, not retried by client-go
	lostReply   = "504-applied" // forwarded and applied, but answered 504: the client cannot tell it happened
	slowed      = "slow"        // forwarded after up to a second
	watchCut    = "watch-cut"   // a watch ended after 1-5 s
	passed      = "passed"      // forwarded untouched
)

// brownoutProxy stands between a scheduler and the API server. Outside a
// brownout it forwards everything; during one (brownout), each request is
// seeded-randomly throttled, refused, failed, answered with an error after
// it was applied, or slowed down, and every watch, open or new, is cut
// after a few seconds.
type brownoutProxy struct {
	URL    string
	server *http.Server

	mu      sync.Mutex
	rng     *rand.Rand
	until   time.Time
	watches map[*context.CancelFunc]bool
	counts  map[string]int
}

// startBrownoutProxy starts a proxy on loopback (plain HTTP) to the API
// server cfg names, with cfg's credentials.
func startBrownoutProxy(cfg *rest.Config, seed int64) (*brownoutProxy, error) {
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	tls := rest.CopyConfig(cfg)
	if tls.TLSClientConfig.ServerName == "" {
		tls.TLSClientConfig.ServerName = cluster.LoopbackServerName
	}
	transport, err := rest.TransportFor(tls)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &brownoutProxy{
		URL: "http://" + ln.Addr().String(), rng: rand.New(rand.NewSource(seed)),
		watches: map[*context.CancelFunc]bool{}, counts: map[string]int{},
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport, rp.FlushInterval = transport, -1 // watches stream
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		if !strings.Contains(err.Error(), "context canceled") {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	}
	p.server = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(rp, w, r) }), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.server.Serve(ln) }()
	return p, nil
}

// serve forwards one request, or not, as the brownout decides.
func (p *brownoutProxy) serve(rp *httputil.ReverseProxy, w http.ResponseWriter, r *http.Request) {
	watch := r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1"
	fate, delay, cut := p.decide(watch)
	p.count(fate)
	switch fate {
	case throttled, unavailable:
		w.Header().Set("Retry-After", "1")
		code := http.StatusTooManyRequests
		if fate == unavailable {
			code = http.StatusServiceUnavailable
		}
		apiError(w, code, "brownout")
		return
	case failed:
		apiError(w, http.StatusInternalServerError, "brownout: internal error")
		return
	case lostReply:
		rec := &discardWriter{header: http.Header{}}
		rp.ServeHTTP(rec, r)
		apiError(w, http.StatusGatewayTimeout, "brownout: the request was applied but its answer lost")
		return
	case slowed:
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if !watch {
		rp.ServeHTTP(w, r)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	p.mu.Lock()
	p.watches[&cancel] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.watches, &cancel)
		p.mu.Unlock()
	}()
	if cut > 0 {
		timer := time.AfterFunc(cut, cancel)
		defer timer.Stop()
	}
	rp.ServeHTTP(w, r.WithContext(ctx))
}

// decide draws a request's fate: outside a brownout it passes; a watch in
// one is cut after 1-5 s; any other request is throttled (30%), refused
// (15%), failed (10%), applied with its answer lost (5%), slowed (20%) or
// passed.
func (p *brownoutProxy) decide(watch bool) (fate string, delay, cut time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Now().After(p.until) {
		return passed, 0, 0
	}
	if watch {
		return watchCut, 0, time.Second + time.Duration(p.rng.Int63n(int64(4*time.Second)))
	}
	switch x := p.rng.Float64(); {
	case x < 0.30:
		return throttled, 0, 0
	case x < 0.45:
		return unavailable, 0, 0
	case x < 0.55:
		return failed, 0, 0
	case x < 0.60:
		return lostReply, 0, 0
	case x < 0.80:
		return slowed, time.Duration(p.rng.Int63n(int64(time.Second))), 0
	}
	return passed, 0, 0
}

// brownout starts a brownout of d from now, and cuts every open watch
// within 1-5 s.
func (p *brownoutProxy) brownout(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.until = time.Now().Add(d)
	for cancel := range p.watches {
		time.AfterFunc(time.Second+time.Duration(p.rng.Int63n(int64(4*time.Second))), *cancel)
	}
}

func (p *brownoutProxy) count(fate string) {
	p.mu.Lock()
	p.counts[fate]++
	p.mu.Unlock()
}

// Counts says how many requests met each fate.
func (p *brownoutProxy) Counts() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for fate, n := range p.counts {
		out = append(out, fmt.Sprintf("%s %d", fate, n))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// Stop closes the proxy and every connection through it.
func (p *brownoutProxy) Stop() { _ = p.server.Close() }

// apiError answers as the API server does: a Status object.
func apiError(w http.ResponseWriter, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":%q,"code":%d}`, message, code)
}

// discardWriter takes a forwarded answer nobody gets.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// writeProxiedKubeconfig writes a kubeconfig that reaches the API server of
// cfg through the proxy at proxyURL, with cfg's token.
func writeProxiedKubeconfig(path, proxyURL string, cfg *rest.Config) error {
	const name = "gangsched-proxied"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: proxyURL}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	return clientcmd.WriteToFile(*kc, path)
}
