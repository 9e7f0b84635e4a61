// Command deltabench measures static deltas against the real ostree client.
//
//	deltabench write -repo DIR [-ref ock] [-part-size BYTES] [-compress stored|xz]
//	    writes our from-scratch delta of the ref and a summary into the
//	    archive repository DIR (staticdelta.FromRepo) and prints its size.
//
//	deltabench pull -repo DIR [-ref ock] [-delay 10ms] [-args "--disable-static-deltas"]
//	    serves DIR on loopback (each request delayed), pulls the ref into a
//	    fresh bare-user repository with `ostree pull`, checks it with
//	    `ostree fsck`, and prints the time, the requests by kind and the
//	    bytes served.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
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
	fmt.Fprintln(os.Stderr, "usage: deltabench write -repo DIR [-ref R] [-part-size N] [-compress stored|xz]\n       deltabench pull -repo DIR [-ref R] [-delay D] [-args ARGS]")
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
	ref := fl.String("ref", "ock", "ref")
	delay := fl.Duration("delay", 0, "delay added to every request")
	extra := fl.String("args", "", "extra arguments for ostree pull")
	fl.Parse(args)

	var mu sync.Mutex
	kinds := map[string]int{}
	var served atomic.Int64
	fs := http.FileServer(http.Dir(*repo))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(*delay)
		mu.Lock()
		kinds[kind(r.URL.Path)]++
		mu.Unlock()
		fs.ServeHTTP(countingWriter{w, &served}, r)
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
		out, err := exec.Command("ostree", append([]string{"--repo=" + client}, args...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("ostree %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if _, err := run("init", "--mode=bare-user"); err != nil {
		return err
	}
	if _, err := run("remote", "add", "--no-gpg-verify", "ock", "http://"+ln.Addr().String()); err != nil {
		return err
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
	var total int
	var list []string
	for k, n := range kinds {
		total += n
		list = append(list, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(list)
	fmt.Printf("pull: delay=%s seconds=%.2f requests=%d (%s) bytes=%d\n  ostree: %s\n",
		*delay, elapsed.Seconds(), total, strings.Join(list, " "), served.Load(), lastLine(out))
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
