package archiveserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Object contents look like HTML on purpose: if the server ever sniffed,
// these would come back as text/html.
const (
	configBody = "[core]\nrepo_version=1\nmode=archive-z2\n"
	refBody    = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	filezBody  = "<html><body>not really html</body></html>"
	commitBody = "<!DOCTYPE html>commit bytes"
	ksBody     = "text\nreboot\n"
	secretBody = "root:x:0:0:secret\n"
	filezPath  = "ostree/objects/ab/cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789.filez"
	commitPath = "ostree/objects/ab/cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789.commit"
)

// fakeTree builds root/ (served) and outside/ (must stay unreachable) in a
// temp dir and returns both paths.
func fakeTree(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside = filepath.Join(base, "outside")
	files := map[string]string{
		"root/ostree/config":             configBody,
		"root/ostree/refs/heads/ock":     refBody,
		"root/ostree/summary":            "summary bytes",
		"root/" + filezPath:              filezBody,
		"root/" + commitPath:             commitBody,
		"root/ks/ks.cfg":                 ksBody,
		"root/ks/node.ks":                ksBody,
		"root/ks/node.ign":               `{"ignition":{"version":"3.4.0"}}`,
		"root/ks/meta.json":              `{}`,
		"root/ks/readme.txt":             "hello\n",
		"root/site/index.html":           "<h1>index</h1>",
		"outside/secret":                 secretBody,
		"outside/dir/secret":             secretBody,
		"root/ostree/objects/ab/.keep":   "",
		"root/ostree/refs/remotes/.keep": "",
	}
	for name, body := range files {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"root/ostree/out-abs":     filepath.Join(outside, "secret"),
		"root/ostree/out-rel":     "../../outside/secret",
		"root/ostree/out-dir":     filepath.Join(outside, "dir"),
		"root/ks/alias.cfg":       "ks.cfg",                            // relative, stays inside: served
		"root/ks/abs-inside.cfg":  filepath.Join(root, "ks", "ks.cfg"), // absolute: os.Root refuses all absolute links
		"root/ks/up-and-back.cfg": "../ks/ks.cfg",                      // leaves ks/ but not the root: served
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(base, filepath.FromSlash(name))); err != nil {
			t.Skipf("symlinks not supported: %v", err)
		}
	}
	return root, outside
}

func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Root == "" {
		opts.Root, _ = fakeTree(t)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// serveTCP serves s on a loopback port until the test ends and returns
// its base URL.
func serveTCP(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

// eachLookup runs f with s looking names up through openat2 (where the
// kernel has it) and then through os.Root, the fallback.
func eachLookup(t *testing.T, s *Server, f func(t *testing.T)) {
	t.Helper()
	if s.fast != nil {
		t.Run("openat2", f)
		s.fast.close()
		s.fast = nil
	} else {
		t.Log("no openat2 here: testing the os.Root lookups only")
	}
	t.Run("os.Root", f)
}

func TestHandler(t *testing.T) {
	s := newTestServer(t, Options{})
	eachLookup(t, s, func(t *testing.T) { testHandler(t, s.Handler()) })
}

func testHandler(t *testing.T, h http.Handler) {
	const (
		octet = "application/octet-stream"
		plain = "text/plain; charset=utf-8"
		json  = "application/json"
	)
	tests := []struct {
		name       string
		method     string
		target     string
		header     map[string]string
		wantStatus int
		wantType   string            // checked when set
		wantBody   *string           // checked when set
		wantHeader map[string]string // exact values
	}{
		{name: "config", target: "/ostree/config", wantStatus: 200, wantType: octet, wantBody: ptr(configBody),
			wantHeader: map[string]string{"Content-Length": fmt.Sprint(len(configBody)), "Accept-Ranges": "bytes"}},
		{name: "config HEAD", method: "HEAD", target: "/ostree/config", wantStatus: 200, wantType: octet, wantBody: ptr(""),
			wantHeader: map[string]string{"Content-Length": fmt.Sprint(len(configBody))}},
		{name: "ref", target: "/ostree/refs/heads/ock", wantStatus: 200, wantType: octet, wantBody: ptr(refBody)},
		{name: "summary", target: "/ostree/summary", wantStatus: 200, wantType: octet},
		{name: "filez not sniffed", target: "/" + filezPath, wantStatus: 200, wantType: octet, wantBody: ptr(filezBody),
			wantHeader: map[string]string{"X-Content-Type-Options": "nosniff"}},
		{name: "commit not sniffed", target: "/" + commitPath, wantStatus: 200, wantType: octet, wantBody: ptr(commitBody)},
		{name: "filez HEAD", method: "HEAD", target: "/" + filezPath, wantStatus: 200, wantType: octet, wantBody: ptr("")},
		{name: "ks.cfg", target: "/ks/ks.cfg", wantStatus: 200, wantType: plain, wantBody: ptr(ksBody)},
		{name: "ks HEAD", method: "HEAD", target: "/ks/ks.cfg", wantStatus: 200, wantType: plain, wantBody: ptr("")},
		{name: ".ks", target: "/ks/node.ks", wantStatus: 200, wantType: plain},
		{name: ".ign", target: "/ks/node.ign", wantStatus: 200, wantType: json},
		{name: ".json", target: "/ks/meta.json", wantStatus: 200, wantType: json},
		{name: ".txt", target: "/ks/readme.txt", wantStatus: 200, wantType: plain},
		{name: "dot segment cleaned", target: "/ostree/./config", wantStatus: 200, wantBody: ptr(configBody)},
		{name: "query ignored", target: "/ostree/config?x=1", wantStatus: 200, wantBody: ptr(configBody)},

		// Ranges and conditionals, as libostree and curl resume use them.
		{name: "range", target: "/" + filezPath, header: map[string]string{"Range": "bytes=0-5"},
			wantStatus: 206, wantType: octet, wantBody: ptr(filezBody[:6]),
			wantHeader: map[string]string{"Content-Range": fmt.Sprintf("bytes 0-5/%d", len(filezBody)), "Content-Length": "6"}},
		{name: "range open end", target: "/ostree/config", header: map[string]string{"Range": "bytes=7-"},
			wantStatus: 206, wantBody: ptr(configBody[7:]),
			wantHeader: map[string]string{"Content-Range": fmt.Sprintf("bytes 7-%d/%d", len(configBody)-1, len(configBody))}},
		{name: "range suffix", target: "/ks/ks.cfg", header: map[string]string{"Range": "bytes=-7"},
			wantStatus: 206, wantType: plain, wantBody: ptr(ksBody[len(ksBody)-7:])},
		{name: "range unsatisfiable", target: "/ostree/config", header: map[string]string{"Range": "bytes=9999-"},
			wantStatus: 416, wantHeader: map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", len(configBody))}},
		{name: "if-modified-since", target: "/ostree/config",
			header:     map[string]string{"If-Modified-Since": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)},
			wantStatus: 304},

		// Directories: index.html or 404; libostree never asks for them.
		{name: "repo dir", target: "/ostree", wantStatus: 404},
		{name: "repo dir slash", target: "/ostree/", wantStatus: 404},
		{name: "root dir", target: "/", wantStatus: 404},
		{name: "objects dir", target: "/ostree/objects/ab/", wantStatus: 404},
		{name: "index", target: "/site/", wantStatus: 200, wantType: "text/html; charset=utf-8", wantBody: ptr("<h1>index</h1>")},
		{name: "index redirect", target: "/site?a=b", wantStatus: 301, wantHeader: map[string]string{"Location": "/site/?a=b"}},
		{name: "file with slash", target: "/ostree/config/", wantStatus: 404},
		{name: "missing", target: "/ostree/objects/ff/nope.filez", wantStatus: 404},
		{name: "missing ref", target: "/ostree/refs/heads/nope", wantStatus: 404},

		{name: "healthz", target: "/healthz", wantStatus: 200, wantBody: ptr("ok\n")},
		{name: "healthz HEAD", method: "HEAD", target: "/healthz", wantStatus: 200},

		// Only GET and HEAD.
		{name: "POST", method: "POST", target: "/ostree/config", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "PUT", method: "PUT", target: "/ostree/config", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "DELETE", method: "DELETE", target: "/ostree/config", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "PATCH missing", method: "PATCH", target: "/nope", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "OPTIONS", method: "OPTIONS", target: "/", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "POST healthz", method: "POST", target: "/healthz", wantStatus: 405},

		// Escapes through the URL: rejected before touching the disk.
		{name: "dotdot raw", target: "/ostree/../../etc/passwd", wantStatus: 400},
		{name: "dotdot to outside", target: "/../outside/secret", wantStatus: 400},
		{name: "dotdot staying inside", target: "/ks/../ostree/config", wantStatus: 400},
		{name: "dotdot encoded", target: "/ostree/%2e%2e/%2e%2e/etc/passwd", wantStatus: 400},
		{name: "dotdot encoded upper", target: "/ostree/%2E%2E/%2E%2E/outside/secret", wantStatus: 400},
		{name: "dotdot encoded slash", target: "/ostree/..%2f..%2foutside/secret", wantStatus: 400},
		{name: "trailing dotdot", target: "/ostree/..", wantStatus: 400},
		{name: "nul byte", target: "/ostree/config%00.txt", wantStatus: 400},
		{name: "dots in name ok", target: "/ostree/..config", wantStatus: 404},

		// Escapes through symlinks: os.Root refuses them; we answer 404.
		{name: "symlink abs outside", target: "/ostree/out-abs", wantStatus: 404},
		{name: "symlink rel outside", target: "/ostree/out-rel", wantStatus: 404},
		{name: "symlink dir outside", target: "/ostree/out-dir/secret", wantStatus: 404},
		// Symlinks inside the root: relative ones are followed, absolute
		// ones are refused even when they point inside (os.Root rule).
		{name: "symlink rel inside", target: "/ks/alias.cfg", wantStatus: 200, wantType: plain, wantBody: ptr(ksBody)},
		{name: "symlink rel up and back", target: "/ks/up-and-back.cfg", wantStatus: 200, wantBody: ptr(ksBody)},
		{name: "symlink abs inside", target: "/ks/abs-inside.cfg", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			req := httptest.NewRequest(method, tt.target, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)

			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", res.StatusCode, tt.wantStatus, body)
			}
			if tt.wantType != "" {
				if got := res.Header.Get("Content-Type"); got != tt.wantType {
					t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
				}
			}
			if tt.wantBody != nil && string(body) != *tt.wantBody {
				t.Errorf("body = %q, want %q", body, *tt.wantBody)
			}
			for k, want := range tt.wantHeader {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if strings.Contains(string(body), "secret") {
				t.Errorf("body leaks a file from outside the root: %q", body)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestETagConditional(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ostree/summary", nil))
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}

	req := httptest.NewRequest("GET", "/ostree/summary", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: status = %d, want 304", rec.Code)
	}
}

func TestContentType(t *testing.T) {
	tests := map[string]string{
		"ostree/objects/ab/cd.commit":     "application/octet-stream",
		"ostree/objects/ab/cd.commitmeta": "application/octet-stream",
		"ostree/objects/ab/cd.dirtree":    "application/octet-stream",
		"ostree/objects/ab/cd.dirmeta":    "application/octet-stream",
		"ostree/objects/ab/cd.filez":      "application/octet-stream",
		"ostree/deltas/ab/cd/superblock":  "application/octet-stream",
		"ostree/summary":                  "application/octet-stream",
		"ostree/summary.sig":              "application/octet-stream",
		"ostree/config":                   "application/octet-stream",
		"ostree/refs/heads/ock":           "application/octet-stream",
		"something.unknown":               "application/octet-stream",
		"ks/ks.cfg":                       "text/plain; charset=utf-8",
		"ks/NODE.KS":                      "text/plain; charset=utf-8",
		"ks/readme.txt":                   "text/plain; charset=utf-8",
		"ks/node.ign":                     "application/json",
		"ks/meta.json":                    "application/json",
		"index.html":                      "text/html; charset=utf-8",
	}
	for name, want := range tests {
		if got := contentType(name); got != want {
			t.Errorf("contentType(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestAccessLog(t *testing.T) {
	var log bytes.Buffer
	h := newTestServer(t, Options{AccessLog: &log}).Handler()

	for _, r := range []struct{ method, target, rng string }{
		{"GET", "/ostree/config", ""},
		{"HEAD", "/ostree/config", ""},
		{"GET", "/ostree/config", "bytes=0-3"},
		{"GET", "/missing", ""},
		{"POST", "/ostree/config", ""},
		{"GET", "/ostree/bad\nline", ""},
	} {
		req := httptest.NewRequest(r.method, "/", nil)
		req.URL.Path, req.RequestURI = r.target, r.target // NewRequest would reject the newline
		if r.rng != "" {
			req.Header.Set("Range", r.rng)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}

	lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	want := []string{
		fmt.Sprintf(`GET "/ostree/config" 200 %d`, len(configBody)),
		`HEAD "/ostree/config" 200 0`,
		`GET "/ostree/config" 206 4`,
		`GET "/missing" 404 10`,
		`POST "/ostree/config" 405 19`,
		`GET "/ostree/bad\nline" 404 10`, // quoted: one request, one line
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d log lines, want %d:\n%s", len(lines), len(want), log.String())
	}
	for i, line := range lines {
		re := regexp.MustCompile(`^\S+Z 192\.0\.2\.1:1234 ` + regexp.QuoteMeta(want[i]) + ` \S+$`)
		if !re.MatchString(line) {
			t.Errorf("line %d = %q, want %q", i, line, re)
		}
	}
}

// lines counts the complete lines written so far.
func (b *syncBuffer) lines() int {
	return strings.Count(b.String(), "\n")
}

func TestAccessLogBatched(t *testing.T) {
	get := func(h http.Handler) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ostree/config", nil))
	}

	t.Run("written after the interval", func(t *testing.T) {
		var log syncBuffer
		h := newTestServer(t, Options{AccessLog: &log, AccessLogFlush: 50 * time.Millisecond}).Handler()
		get(h)
		get(h)
		if n := log.lines(); n != 0 {
			t.Errorf("%d lines written at once, want them gathered", n)
		}
		deadline := time.Now().Add(5 * time.Second)
		for log.lines() < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := log.lines(); n != 2 {
			t.Errorf("%d lines after the interval, want 2", n)
		}
	})

	t.Run("written on Close", func(t *testing.T) {
		var log syncBuffer
		s := newTestServer(t, Options{AccessLog: &log, AccessLogFlush: time.Hour})
		get(s.Handler())
		s.Close()
		if n := log.lines(); n != 1 {
			t.Errorf("%d lines after Close, want 1", n)
		}
	})

	t.Run("written when the batch is full", func(t *testing.T) {
		var log syncBuffer
		h := newTestServer(t, Options{AccessLog: &log, AccessLogFlush: time.Hour}).Handler()
		// 64 KiB of lines of about 80 bytes: some 800 requests.
		for i := 0; log.lines() == 0; i++ {
			if i == 5000 {
				t.Fatal("nothing written after 5000 requests")
			}
			get(h)
		}
	})
}

func TestNew(t *testing.T) {
	root, _ := fakeTree(t)
	tests := []struct {
		name    string
		root    string
		wantErr error // nil: any error
	}{
		{name: "missing", root: filepath.Join(root, "nope"), wantErr: ErrNoRoot},
		{name: "file", root: filepath.Join(root, "ostree", "config"), wantErr: ErrNoRoot},
		{name: "empty", root: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{Root: tt.root})
			if err == nil {
				s.Close()
				t.Fatal("New succeeded, want error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}

	s := newTestServer(t, Options{Root: root, WriteTimeout: -1, IdleTimeout: time.Second})
	if s.opts.ReadHeaderTimeout != DefaultReadHeaderTimeout || s.opts.WriteTimeout != 0 ||
		s.opts.IdleTimeout != time.Second || s.opts.Listen != DefaultListen {
		t.Errorf("options not defaulted as documented: %+v", s.opts)
	}
}

// syncBuffer is a bytes.Buffer the server goroutines and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestListenAndServe(t *testing.T) {
	var errLog, accessLog syncBuffer
	s := newTestServer(t, Options{Listen: "127.0.0.1:0", ErrorLog: &errLog, AccessLog: &accessLog})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx) }()

	// The startup line is the only place the chosen port shows up.
	re := regexp.MustCompile(` on (127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == ""; time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(errLog.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("server did not start; log: %q", errLog.String())
		}
	}

	res, err := http.Get("http://" + addr + "/" + filezPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != filezBody {
		t.Fatalf("GET = %d %q", res.StatusCode, body)
	}
	// Over a real connection the body goes through logWriter.ReadFrom.
	if want := fmt.Sprintf(`"/%s" 200 %d `, filezPath, len(filezBody)); !strings.Contains(accessLog.String(), want) {
		t.Errorf("access log %q lacks %q", accessLog.String(), want)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ListenAndServe = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

// startBigDownload serves a root holding one large object and returns a
// connection whose response headers have been read but whose body has not,
// so the request is still in flight.
func startBigDownload(t *testing.T, opts Options) (ctx context.CancelFunc, done <-chan error, br *bufio.Reader, res *http.Response, size int64) {
	t.Helper()
	const bigSize = 64 << 20 // well beyond loopback socket buffers
	opts.Root = t.TempDir()
	big := filepath.Join(opts.Root, "big.filez")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: cheap to create, still 64 MiB to send.
	if err := f.Truncate(bigSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s := newTestServer(t, opts)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(c, ln) }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(16 << 10)
	}
	fmt.Fprintf(conn, "GET /big.filez HTTP/1.1\r\nHost: test\r\n\r\n")
	br = bufio.NewReader(conn)
	res, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.ContentLength != bigSize {
		t.Fatalf("response %d, length %d", res.StatusCode, res.ContentLength)
	}
	return cancel, errc, br, res, bigSize
}

func TestServeDrainsInFlight(t *testing.T) {
	cancel, done, _, res, size := startBigDownload(t, Options{ShutdownTimeout: 10 * time.Second})

	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v with a download still in flight", err)
	case <-time.After(200 * time.Millisecond):
	}

	n, err := io.Copy(io.Discard, res.Body)
	if err != nil || n != size {
		t.Fatalf("read %d of %d bytes: %v", n, size, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the download finished")
	}
}

func TestServeShutdownTimeout(t *testing.T) {
	const grace = 200 * time.Millisecond
	cancel, done, _, _, _ := startBigDownload(t, Options{ShutdownTimeout: grace})

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Serve = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d < grace {
			t.Errorf("Serve returned after %s, before the %s grace period", d, grace)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not give up on a stalled client")
	}
}

// TestServeDrainDelay: after cancel, the server still answers new requests
// for DrainDelay, telling clients to close the connection (so they come
// back through the Service to a replica that stays), then shuts down.
func TestServeDrainDelay(t *testing.T) {
	const delay = 500 * time.Millisecond
	opts := Options{Root: t.TempDir(), DrainDelay: delay}
	os.WriteFile(filepath.Join(opts.Root, "config"), []byte("[core]\n"), 0o644)
	s := newTestServer(t, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String() + "/config"

	start := time.Now()
	cancel()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET during the drain delay: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !res.Close {
		t.Errorf("during the drain delay: status %d, Connection: close %v; want 200 and close", res.StatusCode, res.Close)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
		if d := time.Since(start); d < delay {
			t.Errorf("shut down after %s, before the %s drain delay", d, delay)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the drain delay")
	}
}

// TestBodySizes covers both ways a plain GET is answered, from memory up
// to smallBody and with sendfile beyond, over a real connection (where
// net/http's sendfile and our TCP_CORK apply) and through a
// ResponseRecorder (plain io.Copy).
func TestBodySizes(t *testing.T) {
	root := t.TempDir()
	sizes := []int{0, 1, smallBody - 1, smallBody, smallBody + 1, 100 << 10}
	bodies := map[string][]byte{}
	for _, n := range sizes {
		name := fmt.Sprintf("obj-%d.filez", n)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + n) // differs per size and position
		}
		if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		bodies[name] = b
	}
	var accessLog syncBuffer
	s := newTestServer(t, Options{Root: root, AccessLog: &accessLog})
	base := serveTCP(t, s)

	check := func(t *testing.T, via, method, name string, code int, hdr http.Header, body []byte) {
		t.Helper()
		want := bodies[name]
		name += via
		if code != 200 {
			t.Fatalf("%s %s: status %d", method, name, code)
		}
		if got := hdr.Get("Content-Length"); got != fmt.Sprint(len(want)) {
			t.Errorf("%s %s: Content-Length %q, want %d", method, name, got, len(want))
		}
		if hdr.Get("Etag") == "" || hdr.Get("Last-Modified") == "" || hdr.Get("Accept-Ranges") != "bytes" {
			t.Errorf("%s %s: validators missing: %v", method, name, hdr)
		}
		if method == "HEAD" {
			want = nil
		}
		if !bytes.Equal(body, want) {
			t.Errorf("%s %s: body of %d bytes differs from the file's %d", method, name, len(body), len(want))
		}
	}
	eachLookup(t, s, func(t *testing.T) {
		for _, n := range sizes {
			name := fmt.Sprintf("obj-%d.filez", n)
			for _, method := range []string{"GET", "HEAD"} {
				req, _ := http.NewRequest(method, base+"/"+name, nil)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil {
					t.Fatalf("%s %s: %v", method, name, err)
				}
				check(t, "", method, name, res.StatusCode, res.Header, body)

				rec := httptest.NewRecorder()
				s.Handler().ServeHTTP(rec, httptest.NewRequest(method, "/"+name, nil))
				check(t, " (recorder)", method, name, rec.Code, rec.Header(), rec.Body.Bytes())
			}
		}
	})
	// Each GET over the connection is logged with its full size.
	for _, n := range sizes {
		if want := fmt.Sprintf(`GET "/obj-%d.filez" 200 %d `, n, n); !strings.Contains(accessLog.String(), want) {
			t.Errorf("access log lacks %q", want)
		}
	}
}
