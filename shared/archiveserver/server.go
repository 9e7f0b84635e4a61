// Package archiveserver is a small static HTTP server for an OSTree archive
// repository and a Kickstart directory. It replaces nginx in the
// ock-ostree container image, where it is the only program, so it depends
// on the standard library (and golang.org/x/sys/unix) alone.
package archiveserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// Defaults match the nginx-based image this server replaces, so existing
// "podman run -v $PWD/ks:/usr/share/nginx/html/ks" instructions keep working.
const (
	DefaultRoot   = "/usr/share/nginx/html"
	DefaultListen = ":80"

	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	// DefaultShutdownTimeout stays below the 10s that "podman stop" waits
	// before SIGKILL, so a stop drains what it can and still exits cleanly.
	DefaultShutdownTimeout = 5 * time.Second
)

// HealthPath is reserved for liveness probes; a file of that name under the
// root is never served.
const HealthPath = "/healthz"

// ErrNoRoot reports that Options.Root does not name a directory.
var ErrNoRoot = errors.New("no such directory")

// Options configures a Server. For the timeouts, zero selects the default
// and a negative value disables the timeout.
type Options struct {
	// Root is the directory served at "/". Nothing outside it is reachable,
	// not even through symbolic links.
	Root string
	// Listen is the TCP address used by ListenAndServe.
	Listen string

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	// WriteTimeout bounds the time to write a whole response. It is off by
	// default: it is not a stall timeout, and a large .filez object or static
	// delta on a slow link would be cut off mid-transfer.
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
	// DrainDelay keeps serving this long after ctx is cancelled, with
	// keep-alives off, before shutting down. Behind a Kubernetes Service
	// the endpoint is removed only after SIGTERM; requests that arrive
	// meanwhile are still answered, and clients reconnect to replicas
	// that stay. Zero (the default) shuts down at once.
	DrainDelay time.Duration

	// AccessLog receives one line per request; nil disables it.
	AccessLog io.Writer
	// AccessLogFlush, when positive, gathers access log lines and writes
	// them this long after the first of a batch (or once 64 KiB are
	// waiting, or on Close). Zero writes every line as it is logged.
	AccessLogFlush time.Duration
	// ErrorLog receives server errors and the startup line; nil discards them.
	ErrorLog io.Writer

	// ObjectCache is how many bytes of small OSTree objects (those sent
	// from memory anyway) are kept in memory once read. Objects are named
	// by their checksum and never change, so they are not looked at again
	// on disk. Zero selects DefaultObjectCache; negative disables it.
	ObjectCache int64

	// PartCacheDir is where static delta parts rebuilt from their recipes
	// are kept (in a directory made there, removed by Close); empty means
	// os.TempDir(). If no directory can be made there, each request
	// rebuilds its part.
	PartCacheDir string
	// PartCache is how many bytes of rebuilt parts are kept there, least
	// recently used out first; a part that does not fit is rebuilt for
	// each request. Zero selects DefaultPartCache; negative keeps none.
	PartCache int64
}

// Server serves files below Options.Root over HTTP.
type Server struct {
	opts Options
	root *os.Root
	// fast does root's lookups in one system call where the kernel can
	// (Linux openat2); nil: root does them.
	fast *beneath

	log     *accessLog   // nil: no access log
	objects *objectCache // nil: off
	parts   *partCache
	errLog  *log.Logger // Options.ErrorLog's
	bufs    sync.Pool   // *[smallBody]byte: small files are read into these
}

// New opens opts.Root and returns a Server for it. The root is opened once,
// so later requests cannot be redirected outside it by replacing the path.
// Call Close to release it.
func New(opts Options) (*Server, error) {
	if opts.Root == "" {
		return nil, errors.New("root directory not set")
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	opts.ReadHeaderTimeout = timeout(opts.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	opts.ReadTimeout = timeout(opts.ReadTimeout, DefaultReadTimeout)
	opts.WriteTimeout = timeout(opts.WriteTimeout, 0)
	opts.IdleTimeout = timeout(opts.IdleTimeout, DefaultIdleTimeout)
	opts.ShutdownTimeout = timeout(opts.ShutdownTimeout, DefaultShutdownTimeout)
	if opts.ErrorLog == nil {
		opts.ErrorLog = io.Discard
	}

	root, err := os.OpenRoot(opts.Root)
	if err != nil {
		// OpenRoot reports "not a directory" with an unexported error, so
		// classify with Stat to give the common mistake a clear message.
		if fi, serr := os.Stat(opts.Root); errors.Is(serr, fs.ErrNotExist) || (serr == nil && !fi.IsDir()) {
			return nil, fmt.Errorf("root %s: %w", opts.Root, ErrNoRoot)
		}
		return nil, fmt.Errorf("open root: %w", err)
	}
	fast, err := openBeneath(opts.Root)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open root: %w", err)
	}
	s := &Server{
		opts: opts,
		root: root,
		fast: fast,
		bufs: sync.Pool{New: func() any { return new([smallBody]byte) }},
	}
	if opts.AccessLog != nil {
		s.log = newAccessLog(opts.AccessLog, opts.AccessLogFlush)
	}
	if opts.PartCacheDir == "" {
		opts.PartCacheDir = os.TempDir()
	}
	switch {
	case opts.PartCache == 0:
		s.parts = newPartCache(opts.PartCacheDir, DefaultPartCache)
	case opts.PartCache > 0:
		s.parts = newPartCache(opts.PartCacheDir, opts.PartCache)
	}
	s.errLog = log.New(opts.ErrorLog, "archive-server: ", log.LstdFlags)
	switch {
	case opts.ObjectCache == 0:
		s.objects = newObjectCache(DefaultObjectCache)
	case opts.ObjectCache > 0:
		s.objects = newObjectCache(opts.ObjectCache)
	}
	return s, nil
}

// timeout maps the Options convention (0 = default, <0 = none) onto
// http.Server's (0 = none).
func timeout(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// Close writes out the access log and releases the root directory. It
// does not stop a running Serve; cancel its context for that.
func (s *Server) Close() error {
	if s.log != nil {
		s.log.flush()
	}
	if s.parts != nil {
		s.parts.remove()
	}
	if s.fast != nil {
		s.fast.close()
	}
	return s.root.Close()
}

// file is an open file below the root. Both implementations (*os.File and
// fdFile) are syscall.Conns, which lets net/http use sendfile(2).
type file interface {
	io.ReadSeekCloser
	syscall.Conn
}

// entry is an open file and what fstat said about it.
type entry struct {
	f     file
	typ   fs.FileMode // type bits only
	size  int64
	mtime time.Time
}

// close closes e's file, if there is one.
func (e entry) close() {
	if e.f != nil {
		e.f.Close()
	}
}

// open opens name below the root without blocking on a FIFO. The caller
// decides by e.typ what to do with it.
func (s *Server) open(name string) (entry, error) {
	if s.fast != nil {
		return s.fast.open(name)
	}
	f, err := s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return entry{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return entry{}, err
	}
	return entry{f: f, typ: fi.Mode().Type(), size: fi.Size(), mtime: fi.ModTime()}, nil
}

// Handler returns the HTTP handler, including access logging.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveLogged)
}

// ListenAndServe listens on Options.Listen and serves until ctx is
// cancelled. It then stops accepting connections, waits up to
// Options.ShutdownTimeout for in-flight requests and returns nil if they all
// finished.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return err // already names the operation and address
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on an existing listener, which it closes.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		ErrorLog:          s.errLog,
		ConnContext:       withRawConn,
	}
	fmt.Fprintf(s.opts.ErrorLog, "archive-server: serving %s on %s\n", s.opts.Root, ln.Addr())

	if s.log != nil {
		defer s.log.flush()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	select {
	case err := <-errc:
		// http.Server.Serve only returns early on a listener failure.
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	if s.opts.DrainDelay > 0 {
		hs.SetKeepAlivesEnabled(false)
		select {
		case err := <-errc:
			return fmt.Errorf("serve %s: %w", ln.Addr(), err)
		case <-time.After(s.opts.DrainDelay):
		}
	}

	// ctx is already cancelled; keep its values but not its cancellation.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close() // cut off whatever did not drain in time
		<-errc
		return fmt.Errorf("shutdown after %s: %w", s.opts.ShutdownTimeout, err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// connKey is the request context key of the connection's syscall.RawConn.
type connKey struct{}

// withRawConn gives requests their TCP connection's descriptor, for
// setCork.
func withRawConn(ctx context.Context, c net.Conn) context.Context {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return ctx
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return ctx
	}
	return context.WithValue(ctx, connKey{}, rc)
}
