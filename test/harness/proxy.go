package harness

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"slices"
	"sync"
	"testing"
)

// Proxy is a forward HTTP proxy, as a site's proxy would be: absolute-URL
// requests for http and CONNECT tunnels for https. It forwards only to
// addresses of this machine and records what it was asked for.
type Proxy struct {
	URL string // http://host:port, for HTTP_PROXY and HTTPS_PROXY

	mu   sync.Mutex
	seen []string
}

// StartProxy runs a Proxy on host (an address of this machine: the pod
// network's gateway for pods) until the test ends.
func StartProxy(t *testing.T, host string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String()}
	// No proxy of its own, whatever the environment says.
	forward := &httputil.ReverseProxy{Rewrite: func(*httputil.ProxyRequest) {}, Transport: &http.Transport{}}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Host
		if r.Method != http.MethodConnect {
			target = r.URL.Host
		}
		if !r.URL.IsAbs() && r.Method != http.MethodConnect || !local(target) {
			http.Error(w, "this test proxy forwards only to this machine", http.StatusForbidden)
			return
		}
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+target+r.URL.Path)
		p.mu.Unlock()
		if r.Method == http.MethodConnect {
			tunnel(w, target)
			return
		}
		forward.ServeHTTP(w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// Requests are what the proxy forwarded, as "METHOD host:port/path".
func (p *Proxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

func tunnel(w http.ResponseWriter, target string) {
	up, err := net.Dial("tcp", target)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer up.Close()
	down, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer down.Close()
	io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, down); done <- struct{}{} }()
	go func() { io.Copy(down, up); done <- struct{}{} }()
	<-done
}

// local reports whether host:port names an address of this machine.
func local(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
