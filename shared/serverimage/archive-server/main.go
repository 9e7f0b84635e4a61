// Command archive-server is the program the archive server image runs: it
// serves an OSTree archive repository and a Kickstart directory over HTTP.
// It is not part of the plugin: `make` builds it for each architecture into
// ../payload, where package serverimage embeds it, and it is the only
// program in the FROM-scratch ock-ostree image. It replaces nginx there, so
// its defaults follow the old nginx layout:
//
//	podman run -d -p 8080:80 -v $PWD/ks:/usr/share/nginx/html/ks localhost/ock-ostree:latest
//
// serves the repository at http://HOST:8080/ostree and the mount at /ks/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/ocne-image/ocne-image/shared/archiveserver"
	"github.com/ocne-image/ocne-image/shared/buildinfo"
)

func main() {
	// Go code on one CPU unless GOMAXPROCS says otherwise. Serving static
	// files is mostly system calls, and under a fleet's load the runtime
	// with more Ps spends its time handing Ps between threads around the
	// socket writes: with one P the server used 25% (on the host) to 40%
	// (in a pod) less CPU per request in make loadtest, at the same
	// throughput. More capacity comes from more replicas. The image also
	// sets GODEBUG, for the runtime's monitor thread (see
	// serverimage.ServerGODEBUG); it must be in place before the program
	// starts.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("archive-server", flag.ContinueOnError)
	root := fs.String("root", archiveserver.DefaultRoot, "directory to serve")
	listen := fs.String("listen", archiveserver.DefaultListen, "TCP address to listen on")
	drain := fs.Duration("drain-delay", 0, "on SIGTERM, keep serving this long (keep-alives off) before shutting down; for Kubernetes Services")
	cacheMiB := fs.Int("object-cache-mib", archiveserver.DefaultObjectCache>>20, "MiB of small OSTree objects kept in memory once read; 0 turns the cache off")
	partsMiB := fs.Int64("part-cache-mib", archiveserver.DefaultPartCache>>20, "MiB of static delta parts kept in the temp directory once rebuilt; 0 rebuilds each part for every request")
	showVersion := fs.Bool("version", false, "print the version and exit")
	// Parse errors become one line below; usage is printed only for -h.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "Usage: archive-server [--root DIR] [--listen ADDR] [--drain-delay D] [--object-cache-mib N] [--part-cache-mib N] [--version]")
			fs.PrintDefaults()
			fmt.Fprintln(stdout, "\nGo code runs on one CPU; set GOMAXPROCS in the environment to use more.")
			return 0
		}
		fmt.Fprintf(stderr, "archive-server: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "archive-server: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintf(stdout, "archive-server %s\n", buildinfo.Version)
		return 0
	}
	if *cacheMiB < 0 {
		fmt.Fprintf(stderr, "archive-server: --object-cache-mib %d: must be 0 (off) or more\n", *cacheMiB)
		return 2
	}
	if *partsMiB < 0 {
		fmt.Fprintf(stderr, "archive-server: --part-cache-mib %d: must be 0 (off) or more\n", *partsMiB)
		return 2
	}
	objectCache, partCache := int64(*cacheMiB)<<20, *partsMiB<<20
	// Options: zero is the default, negative is off.
	if objectCache == 0 {
		objectCache = -1
	}
	if partCache == 0 {
		partCache = -1
	}

	srv, err := archiveserver.New(archiveserver.Options{
		Root:       *root,
		Listen:     *listen,
		DrainDelay: *drain,
		AccessLog:  stdout,
		// Batched: a line per request is the largest system call cost
		// left, and behind a container's log pipe the collector pays too.
		AccessLogFlush: time.Second,
		ErrorLog:       stderr,
		ObjectCache:    objectCache,
		PartCache:      partCache,
	})
	if err != nil {
		if errors.Is(err, archiveserver.ErrNoRoot) {
			fmt.Fprintf(stderr, "archive-server: %v; mount the archive at %s or pass --root\n",
				err, archiveserver.DefaultRoot)
		} else {
			fmt.Fprintf(stderr, "archive-server: %v\n", err)
		}
		return 1
	}
	defer srv.Close()

	if err := srv.ListenAndServe(ctx); err != nil {
		fmt.Fprintf(stderr, "archive-server: %v\n", err)
		return 1
	}
	return 0
}
