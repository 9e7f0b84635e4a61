package archiveserver

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocne-image/ocne-image/shared/ostree/deltapart"
)

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
	if file, ok := deltapart.Overlay(name); ok && !dirWanted && s.serveDelta(w, r, name, file) {
		return
	}
	if s.objects != nil && !dirWanted && !conditional(r.Header) {
		if o := s.objects.get(name); o != nil {
			plainHeaders(w.Header(), o.contentType, o.etag, o.lastModified, o.length)
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusOK)
			} else {
				w.Write(o.body)
			}
			return
		}
	}

	e, err := s.open(name)
	if err != nil {
		s.fail(w, err)
		return
	}
	if e.typ.IsDir() {
		e.close()
		// Like nginx with autoindex off: index.html or nothing. libostree
		// never asks for directories, so this only matters for browsers.
		dir := name
		name = path.Join(dir, "index.html")
		if e, err = s.open(name); err != nil || !e.typ.IsRegular() {
			e.close()
			http.NotFound(w, r)
			return
		}
		if !dirWanted {
			e.close()
			// Relative links in the index page need the trailing slash.
			// Build the target from the cleaned name, not the request, so
			// "//host" cannot turn into an off-site redirect.
			target := &url.URL{Path: "/" + dir + "/", RawQuery: r.URL.RawQuery}
			http.Redirect(w, r, target.String(), http.StatusMovedPermanently)
			return
		}
	} else if dirWanted || !e.typ.IsRegular() {
		// A FIFO or a device node someone bind-mounted into the tree is
		// never read.
		e.close()
		http.NotFound(w, r)
		return
	}
	defer e.close()
	s.send(w, r, name, e)
}

// smallBody is the largest file sent from memory. With the response
// header (about 260 bytes) it fits the 4 KiB buffer net/http keeps per
// connection, so header and body leave in one write(2), one TCP segment;
// most OSTree objects are this small. Larger files go out with sendfile(2).
const smallBody = 4096 - 512

// send answers a GET or HEAD for the regular file e. Plain requests, all
// an OSTree pull makes but for the summary, take a short path: one read
// and one write for small files, a header write and sendfile(2) for the
// rest. Ranges and conditional requests go through http.ServeContent.
func (s *Server) send(w http.ResponseWriter, r *http.Request, name string, e entry) {
	h := w.Header()
	if conditional(r.Header) {
		// Setting Content-Type stops ServeContent from sniffing the body.
		h["Content-Type"] = []string{contentType(name)}
		h["X-Content-Type-Options"] = []string{"nosniff"}
		h["Etag"] = []string{etag(e.mtime, e.size)}
		http.ServeContent(w, r, name, e.mtime, e.f)
		return
	}

	switch {
	case r.Method == http.MethodHead:
		fileHeaders(h, name, e)
		w.WriteHeader(http.StatusOK)
	case e.size <= smallBody:
		var body []byte
		keep := s.objects != nil && s.objects.fits(name, e.size) && immutable(name)
		if keep {
			body = make([]byte, e.size)
		} else {
			buf := s.bufs.Get().(*[smallBody]byte)
			defer s.bufs.Put(buf)
			body = buf[:e.size]
		}
		if _, err := io.ReadFull(e.f, body); err != nil {
			// Shrunk since fstat: nothing has been sent yet.
			http.Error(w, "read error", http.StatusInternalServerError)
			return
		}
		if keep {
			s.objects.add(name, body, e.mtime)
		}
		fileHeaders(h, name, e)
		w.Write(body)
	default:
		fileHeaders(h, name, e)
		if c, ok := r.Context().Value(connKey{}).(syscall.RawConn); ok {
			setCork(c, true)
			defer setCork(c, false)
		}
		w.WriteHeader(http.StatusOK)
		// Send the header now: with it written, net/http hands the body
		// to sendfile(2) at once instead of first copying 512 bytes
		// through user space to sniff a type we have already set.
		http.NewResponseController(w).Flush()
		// Limited: the sendfile then stops at the size, without a last
		// call to find the end of the file.
		io.Copy(w, &io.LimitedReader{R: e.f, N: e.size})
	}
}

// fileHeaders sets the headers of a plain 200 response with e's content.
func fileHeaders(h http.Header, name string, e entry) {
	plainHeaders(h, contentType(name), etag(e.mtime, e.size),
		e.mtime.UTC().Format(http.TimeFormat), strconv.FormatInt(e.size, 10))
}

// plainHeaders sets the headers of a plain 200 response. Direct
// assignment: the keys are in canonical form already.
func plainHeaders(h http.Header, contentType, etag, lastModified, length string) {
	h["Content-Type"] = []string{contentType}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	// Same shape as nginx's ETag, so libostree's conditional summary
	// fetches (If-None-Match) keep working across the switch.
	h["Etag"] = []string{etag}
	h["Last-Modified"] = []string{lastModified}
	h["Accept-Ranges"] = []string{"bytes"}
	h["Content-Length"] = []string{length}
}

// conditional reports whether h asks for a range or makes the response
// depend on a validator: the cases http.ServeContent handles.
func conditional(h http.Header) bool {
	for _, k := range [...]string{"Range", "If-Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"} {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

// etag is nginx's entity tag: hex modification time and size.
func etag(mtime time.Time, size int64) string {
	b := make([]byte, 0, 36)
	b = append(b, '"')
	b = strconv.AppendInt(b, mtime.Unix(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, size, 16)
	b = append(b, '"')
	return string(b)
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
