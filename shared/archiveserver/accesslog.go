package archiveserver

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// accessLogBatch is how much a batching access log gathers before it
// writes regardless of its flush interval.
const accessLogBatch = 64 << 10

// accessLog writes one line per request:
//
//	2026-11-24T13:08:12Z 10.0.0.7:41234 GET "/ostree/config" 200 58 41µs
//
// With a flush interval it gathers lines and writes them in batches: an
// install makes tens of thousands of requests, and a write per request to
// a container's log pipe costs the server and the log collector more than
// the request itself.
type accessLog struct {
	w     io.Writer
	every time.Duration // 0: write each line at once

	mu    sync.Mutex // the writer may not be safe for concurrent use
	buf   []byte
	timer *time.Timer // pending flush of buf; nil when buf is empty
}

func newAccessLog(w io.Writer, every time.Duration) *accessLog {
	return &accessLog{w: w, every: every}
}

// record logs one request that started at start.
func (l *accessLog) record(r *http.Request, start time.Time, status int, bytes int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := start.UTC().AppendFormat(l.buf, time.RFC3339)
	b = append(b, ' ')
	b = append(b, r.RemoteAddr...)
	b = append(b, ' ')
	b = append(b, r.Method...)
	b = append(b, ' ')
	// Quoted, so a crafted path cannot forge log lines.
	b = strconv.AppendQuote(b, r.RequestURI)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, ' ')
	b = append(b, time.Since(start).Round(time.Microsecond).String()...)
	b = append(b, '\n')
	l.buf = b
	switch {
	case l.every <= 0 || len(b) >= accessLogBatch:
		l.flushLocked()
	case l.timer == nil:
		l.timer = time.AfterFunc(l.every, l.flush)
	}
}

// flush writes what has gathered.
func (l *accessLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

func (l *accessLog) flushLocked() {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if len(l.buf) > 0 {
		// A log that cannot be written must not fail the requests.
		l.w.Write(l.buf)
		l.buf = l.buf[:0]
	}
}

// serveLogged wraps serve with the access log.
func (s *Server) serveLogged(w http.ResponseWriter, r *http.Request) {
	if s.log == nil {
		s.serve(w, r)
		return
	}
	start := time.Now()
	lw := &logWriter{ResponseWriter: w}
	s.serve(lw, r)
	if lw.status == 0 {
		lw.status = http.StatusOK // handler wrote nothing at all
	}
	s.log.record(r, start, lw.status, lw.bytes)
}

// logWriter records the status and body size for the access log.
type logWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the sendfile path of the underlying ResponseWriter, which
// send and ServeContent use through io.Copy; hiding it would copy every
// large object through user space.
func (w *logWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *logWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

var _ io.ReaderFrom = (*logWriter)(nil)
