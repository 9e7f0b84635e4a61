//go:build unix

package archiveserver

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A FIFO in the tree must be refused without opening it: open(2) on a FIFO
// blocks until a writer appears, which would hang the request.
func TestFIFONotOpened(t *testing.T) {
	root, _ := fakeTree(t)
	if err := syscall.Mkfifo(filepath.Join(root, "ostree", "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	s := newTestServer(t, Options{Root: root})
	eachLookup(t, s, func(t *testing.T) {
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/ostree/fifo", nil))
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("request for a FIFO hung")
		}
		if rec.Code != http.StatusNotFound {
			t.Errorf("status = %d, want 404", rec.Code)
		}
	})
}
