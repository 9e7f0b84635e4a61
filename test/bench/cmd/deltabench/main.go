// Command deltabench measures static deltas against the real ostree client.
//
//	deltabench write -repo DIR [-ref ock] [-part-size BYTES] [-compress stored|xz]
//	    writes our from-scratch delta of the ref and a summary into the
//	    archive repository DIR (staticdelta.FromRepo) and prints its size.
//
//	deltabench pull (-repo DIR | -url URL) [-ref ock] [-commit C] [-delay 10ms]
//	    [-ostree BIN] [-fsync] [-args "--disable-static-deltas"]
//	    serves DIR, or proxies to the server at URL, on loopback, each
//	    request delayed, and pulls the ref with `ostree pull` (BIN, default
//	    the ostree on PATH) into a fresh bare-user repository under $TMPDIR;
//	    checks it with `ostree fsck` and, with -commit, that the ref is C;
//	    prints one line of key=value pairs:
//
//	    pull: delay=D seconds=S requests=N loose=L parts=P bytes=B kinds=K
//
//	    loose counts the objects requested (not the commit's detached
//	    metadata, which every pull asks for), parts delta parts, bytes the
//	    response bodies, and K is every kind of request with its count; a
//	    second line is ostree's own summary of the pull.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocne-image/ocne-image/shared/ostree/staticdelta"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "write":
		err = write(os.Args[2:])
	case "pull":
		err = pull(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deltabench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: deltabench write -repo DIR [-ref R] [-part-size N] [-compress stored|xz]\n       deltabench pull (-repo DIR | -url URL) [-ref R] [-commit C] [-delay D] [-ostree BIN] [-fsync] [-args ARGS]")
	os.Exit(2)
}

func write(args []string) error {
	fl := flag.NewFlagSet("write", flag.ExitOnError)
	repo := fl.String("repo", "", "archive repository")
	ref := fl.String("ref", "ock", "ref")
	partSize := fl.Int64("part-size", staticdelta.DefaultPartSize, "part payload size in bytes")
	compress := fl.String("compress", "stored", "part compression: stored or xz")
	fl.Parse(args)
	opts := staticdelta.Options{PartSize: *partSize}
	switch *compress {
	case "stored":
	case "xz":
		opts.Compression = staticdelta.XZ
	default:
		return fmt.Errorf("-compress %q: want stored or xz", *compress)
	}
	start := time.Now()
	d, err := staticdelta.FromRepo(*repo, *ref, opts)
	if err != nil {
		return err
	}
	bytes, objects := d.Size()
	fmt.Printf("write: %s parts=%d objects=%d fallbacks=%d bytes=%d seconds=%.2f\n",
		opts.Compression, len(d.Parts), objects, len(d.Fallbacks), bytes, time.Since(start).Seconds())
	return nil
}

func pull(args []string) error {
	fl := flag.NewFlagSet("pull", flag.ExitOnError)
	repo := fl.String("repo", "", "archive repository to serve")
	upstream := fl.String("url", "", "archive repository URL to proxy to, instead of -repo")
	ref := fl.String("ref", "ock", "ref")
	commit := fl.String("commit", "", "commit the ref must be once pulled")
	delay := fl.Duration("delay", 0, "delay added to every request")
	bin := fl.String("ostree", "ostree", "the ostree CLI to pull with")
	fsync := fl.Bool("fsync", false, "leave core.fsync on in the client repository")
	extra := fl.String("args", "", "extra arguments for ostree pull")
	fl.Parse(args)

	var backend http.Handler
	switch {
	case (*repo == "") == (*upstream == ""):
		return fmt.Errorf("pull: give one of -repo DIR and -url URL")
	case *repo != "":
		backend = http.FileServer(http.Dir(*repo))
	default:
		u, err := url.Parse(*upstream)
		if err != nil || u.Scheme != "http" {
			return fmt.Errorf("pull: -url %q: want an http:// URL", *upstream)
		}
		backend = &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) },
			// The client keeps up to 8 requests in flight: as many
			// connections to the server stay open, so the proxy adds no
			// connection set-up of its own.
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
		}
	}
	var mu sync.Mutex
	kinds := map[string]int{}
	var served atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(*delay)
		mu.Lock()
		kinds[kind(r.URL.Path)]++
		mu.Unlock()
		backend.ServeHTTP(countingWriter{w, &served}, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(ln)
	defer srv.Close()

	client, err := os.MkdirTemp("", "deltabench-client-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(client)
	run := func(args ...string) (string, error) {
		out, err := exec.Command(*bin, append([]string{"--repo=" + client}, args...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s %s: %v\n%s", *bin, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	setup := [][]string{{"init", "--mode=bare-user"}, {"remote", "add", "--no-gpg-verify", "ock", "http://" + ln.Addr().String()}}
	if !*fsync {
		setup = append(setup, []string{"config", "set", "core.fsync", "false"})
	}
	for _, args := range setup {
		if _, err := run(args...); err != nil {
			return err
		}
	}
	start := time.Now()
	out, err := run(append([]string{"pull", "ock", *ref}, strings.Fields(*extra)...)...)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if _, err := run("fsck", "--quiet"); err != nil {
		return err
	}
	if *commit != "" {
		got, err := run("rev-parse", "ock:"+*ref)
		if err != nil {
			return err
		}
		if got != *commit {
			return fmt.Errorf("pulled ock:%s is %s, want %s", *ref, got, *commit)
		}
	}
	var total int
	var list []string
	for k, n := range kinds {
		total += n
		list = append(list, fmt.Sprintf("%s:%d", k, n))
	}
	sort.Strings(list)
	loose := 0
	// Not commitmeta: the commit's detached metadata, which every client
	// asks for once (404 unless the commit is signed), delta or not.
	for _, k := range []string{"file", "filez", "dirtree", "dirmeta", "commit"} {
		loose += kinds[k]
	}
	fmt.Printf("pull: delay=%s seconds=%.2f requests=%d loose=%d parts=%d bytes=%d kinds=%s\n  ostree: %s\n",
		*delay, elapsed.Seconds(), total, loose, kinds["part"], served.Load(), strings.Join(list, ","), lastLine(out))
	return nil
}

// kind names what a request was for: an object type, a delta part, ...
func kind(p string) string {
	switch {
	case strings.HasPrefix(p, "/objects/"):
		return strings.TrimPrefix(filepath.Ext(p), ".")
	case strings.HasPrefix(p, "/deltas/") && strings.HasSuffix(p, "/superblock"):
		return "superblock"
	case strings.HasPrefix(p, "/deltas/"):
		return "part"
	case strings.HasPrefix(p, "/delta-indexes/"):
		return "index"
	}
	return strings.Trim(p, "/")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	return n, err
}
