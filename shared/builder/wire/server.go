package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
)

// Server is the pod's end: it publishes a build's progress and result over
// HTTP. It implements convert.Progress.
type Server struct {
	// CutAfter, if > 0, makes the first archive response stop after that
	// many bytes, as a dropped connection would: tests use it to prove
	// that fetching resumes.
	CutAfter int64
	cut      atomic.Bool

	mu     sync.Mutex
	status Status
	file   string
	read   atomic.Int64
	total  atomic.Int64
}

// NewServer returns a server in the building state.
func NewServer() *Server { return &Server{status: Status{State: StateBuilding}} }

func (s *Server) Start(total int64) { s.total.Store(total) }
func (s *Server) Add(n int)         { s.read.Add(int64(n)) }

// Ready publishes the built archive.
func (s *Server) Ready(res *Result) error {
	digest, size, err := fileDigest(res.Output)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = Status{State: StateReady, Result: res, Digest: digest, Size: size}
	s.file = res.Output
	return nil
}

// Pushed records that the archive went to its destination.
func (s *Server) Pushed(res *Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = Status{State: StatePushed, Result: res}
}

// Fail records the error that ended the build.
func (s *Server) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = Status{State: StateFailed, Error: err.Error()}
}

// Status returns the current status.
func (s *Server) Status() Status {
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	st.Read, st.Total = s.read.Load(), s.total.Load()
	return st
}

// Handler serves the status and, once ready, the archive with Range
// support, which is how a cut transfer resumes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET "+PathReady, func(w http.ResponseWriter, _ *http.Request) {
		if s.Status().State != StateReady {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Status())
	})
	mux.HandleFunc("GET "+PathArchive, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		file := s.file
		s.mu.Unlock()
		if file == "" {
			http.Error(w, "the archive is not built yet", http.StatusConflict)
			return
		}
		f, err := os.Open(file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-tar")
		if s.CutAfter > 0 && !s.cut.Swap(true) {
			cutAfter(w, f, fi.Size(), s.CutAfter)
			return
		}
		http.ServeContent(w, r, "", fi.ModTime(), f)
	})
	return mux
}

func fileDigest(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n, nil
}

// cutAfter promises the whole file, sends n bytes and drops the connection.
func cutAfter(w http.ResponseWriter, f *os.File, size, n int64) {
	w.Header().Set("Content-Length", fmt.Sprint(size))
	w.WriteHeader(http.StatusOK)
	io.CopyN(w, f, n)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
}
