package archiveserver

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// serveLogged wraps serve with the access log.
func (s *Server) serveLogged(w http.ResponseWriter, r *http.Request) {
	if s.opts.AccessLog == nil {
		s.serve(w, r)
		return
	}
	start := time.Now()
	lw := &logWriter{ResponseWriter: w}
	s.serve(lw, r)
	if lw.status == 0 {
		lw.status = http.StatusOK // handler wrote nothing at all
	}
	// RequestURI is quoted so a crafted path cannot forge log lines.
	line := fmt.Sprintf("%s %s %s %q %d %d %s\n",
		start.UTC().Format(time.RFC3339), r.RemoteAddr, r.Method, r.RequestURI,
		lw.status, lw.bytes, time.Since(start).Round(time.Microsecond))
	s.logMu.Lock()
	defer s.logMu.Unlock()
	io.WriteString(s.opts.AccessLog, line)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == HealthPath {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok\n")
		return
	}

	name, ok := rootName(r.URL.Path)
	if !ok {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	dirWanted := strings.HasSuffix(r.URL.Path, "/")

	typ, err := s.fileType(name)
	if err != nil {
		s.fail(w, err)
		return
	}
	if typ.IsDir() {
		// Like nginx with autoindex off: index.html or nothing. libostree
		// never asks for directories, so this only matters for browsers.
		dir := name
		name = path.Join(dir, "index.html")
		if typ, err = s.fileType(name); err != nil || !typ.IsRegular() {
			http.NotFound(w, r)
			return
		}
		if !dirWanted {
			// Relative links in the index page need the trailing slash.
			// Build the target from the cleaned name, not the request, so
			// "//host" cannot turn into an off-site redirect.
			target := &url.URL{Path: "/" + dir + "/", RawQuery: r.URL.RawQuery}
			http.Redirect(w, r, target.String(), http.StatusMovedPermanently)
			return
		}
	} else if dirWanted || !typ.IsRegular() {
		// Stat before Open keeps us from blocking on a FIFO or reading a
		// device node that someone bind-mounted into the tree.
		http.NotFound(w, r)
		return
	}

	f, err := s.open(name)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer f.Close()
	// Stat the open file: the entry may have been replaced since the check.
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}

	h := w.Header()
	// Setting Content-Type stops ServeContent from sniffing the body.
	h.Set("Content-Type", contentType(name))
	h.Set("X-Content-Type-Options", "nosniff")
	// Same shape as nginx's ETag, so libostree's conditional summary
	// fetches (If-None-Match) keep working across the switch.
	h.Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.ModTime().Unix(), fi.Size()))
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

// fail answers a failed lookup. Everything but a permission problem is a
// 404, including os.Root's refusal to leave the root, so a probe cannot
// tell what exists outside it.
func (s *Server) fail(w http.ResponseWriter, err error) {
	if errors.Is(err, fs.ErrPermission) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	http.Error(w, "not found", http.StatusNotFound)
}

// rootName turns a URL path into a name for os.Root. ".." segments are
// rejected outright rather than cleaned away: no legitimate client sends
// them, and os.Root would accept "a/../b".
func rootName(urlPath string) (string, bool) {
	if !strings.HasPrefix(urlPath, "/") || strings.IndexByte(urlPath, 0) >= 0 {
		return "", false
	}
	for seg := range strings.SplitSeq(urlPath, "/") {
		if seg == ".." {
			return "", false
		}
	}
	name := strings.TrimPrefix(path.Clean(urlPath), "/")
	if name == "" {
		name = "."
	}
	return name, true
}

// contentType maps a file name to its media type. The table is built in
// rather than taken from mime.TypeByExtension, which also reads the host's
// mime.types and would make responses differ between a workstation and the
// FROM-scratch image. OSTree objects (.commit, .dirtree, .dirmeta, .filez,
// .commitmeta, summary, config, refs) fall through to octet-stream.
func contentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".html", ".htm":
		return "text/html; charset=utf-8"
	case ".ks", ".cfg", ".txt":
		return "text/plain; charset=utf-8"
	case ".json", ".ign":
		return "application/json"
	case ".xml":
		return "application/xml"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".iso":
		return "application/x-iso9660-image"
	}
	return "application/octet-stream"
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
// ServeContent uses through io.Copy; hiding it would copy every object
// through user space.
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
