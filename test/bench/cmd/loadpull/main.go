// Command loadpull is the Go half of `make loadtest` (test/bench/loadtest.sh):
// it runs N real `ostree pull` clients at once against one archive URL,
// each into its own fresh bare-user repository, then checks every result.
//
//	loadpull -url URL -n N -dir DIR -commit C [-ref ock] [-fsync] [-jobs J] [-ostree CLI]
//
// DIR must not exist; it is removed afterwards (also on Ctrl-C). Only the
// pulls are timed: repositories are made before, and `ostree fsck` and the
// commit check run after, J at a time. It prints one line of key=value
// pairs on stdout:
//
//	wall=S n=N failed=F bad=B objects=O p50=S max=S
//
// wall is from starting the first pull to the end of the last; p50 and max
// are single pulls' durations; objects is what the clients report fetched;
// failed counts pulls that exited non-zero, bad the completed ones whose
// fsck failed or whose ref is not C. Exit status 1 when failed+bad > 0,
// with the first errors on stderr.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// remote is the name each client repository knows the server by.
const remote = "ock"

type options struct {
	url, dir, commit, ref string
	bin                   string // the ostree CLI
	n, jobs               int
	fsync                 bool
}

// client is one pull and what became of it.
type client struct {
	repo    string
	elapsed time.Duration
	objects int
	err     error // the pull failed
	bad     error // the pull succeeded but its result does not check out
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "", "the archive repository's URL")
	flag.IntVar(&o.n, "n", 10, "concurrent clients")
	flag.StringVar(&o.dir, "dir", "", "where the client repositories go (must not exist)")
	flag.StringVar(&o.commit, "commit", "", "the commit every client must end up with")
	flag.StringVar(&o.ref, "ref", remote, "the ref to pull")
	flag.BoolVar(&o.fsync, "fsync", false, "leave core.fsync on in the client repositories")
	flag.StringVar(&o.bin, "ostree", "ostree", "the ostree CLI the clients run (e.g. a current libostree, which uses static deltas without walking the commit)")
	flag.IntVar(&o.jobs, "jobs", runtime.NumCPU(), "parallel set-up and fsck jobs")
	flag.Parse()
	if o.url == "" || o.dir == "" || o.commit == "" || o.n < 1 || o.jobs < 1 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: loadpull -url URL -n N -dir DIR -commit C [-ref REF] [-fsync] [-jobs J]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadpull: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if err := os.Mkdir(o.dir, 0o755); err != nil {
		return fmt.Errorf("client directory: %w", err)
	}
	defer removeAll(o.dir, o.n, o.jobs)

	clients := make([]*client, o.n)
	for i := range clients {
		clients[i] = &client{repo: filepath.Join(o.dir, strconv.Itoa(i))}
	}
	if err := each(clients, o.jobs, func(c *client) error { return setUp(ctx, c.repo, o) }); err != nil {
		return fmt.Errorf("set up client repositories: %w", err)
	}

	// All clients start together and the wall time runs until the last
	// one ends: that is how long a fleet installing at once waits.
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range clients {
		wg.Go(func() { c.pull(ctx, o) })
	}
	wg.Wait()
	wall := time.Since(start)
	if ctx.Err() != nil {
		return ctx.Err()
	}

	each(clients, o.jobs, func(c *client) error {
		if c.err == nil {
			c.bad = check(ctx, c.repo, o)
		}
		return nil
	})

	var failed, bad, objects int
	var errs []string
	durations := make([]time.Duration, 0, o.n)
	for i, c := range clients {
		durations = append(durations, c.elapsed)
		objects += c.objects
		switch {
		case c.err != nil:
			failed++
			errs = append(errs, fmt.Sprintf("client %d: pull: %v", i, c.err))
		case c.bad != nil:
			bad++
			errs = append(errs, fmt.Sprintf("client %d: %v", i, c.bad))
		}
	}
	slices.Sort(durations)
	fmt.Printf("wall=%.3f n=%d failed=%d bad=%d objects=%d p50=%.3f max=%.3f\n",
		wall.Seconds(), o.n, failed, bad, objects,
		durations[len(durations)/2].Seconds(), durations[len(durations)-1].Seconds())
	if len(errs) > 0 {
		for _, e := range errs[:min(len(errs), 5)] {
			fmt.Fprintln(os.Stderr, e)
		}
		return fmt.Errorf("%d of %d pulls from %s failed, %d pulled something wrong", failed, o.n, o.url, bad)
	}
	return nil
}

// setUp makes an empty bare-user repository, the mode Anaconda pulls into,
// with the server as its remote.
func setUp(ctx context.Context, repo string, o options) error {
	steps := [][]string{
		{"init", "--mode=bare-user"},
		{"remote", "add", "--no-gpg-verify", remote, o.url},
	}
	if !o.fsync {
		// With fsync, N clients on one disk measure the disk's flush
		// latency rather than the server.
		steps = append(steps, []string{"config", "set", "core.fsync", "false"})
	}
	for _, s := range steps {
		if _, err := ostree(ctx, o.bin, repo, s...); err != nil {
			return err
		}
	}
	return nil
}

// fetched matches the summary line of `ostree pull`:
// "940 metadata, 20012 content objects fetched; ...".
var fetched = regexp.MustCompile(`(\d+) metadata, (\d+) content objects fetched`)

func (c *client) pull(ctx context.Context, o options) {
	t := time.Now()
	out, err := ostree(ctx, o.bin, c.repo, "pull", remote, o.ref)
	c.elapsed = time.Since(t)
	c.err = err
	if m := fetched.FindStringSubmatch(out); m != nil {
		meta, _ := strconv.Atoi(m[1])
		content, _ := strconv.Atoi(m[2])
		c.objects = meta + content
	}
}

// check is what an installer relies on: the commit it asked for, every
// object intact.
func check(ctx context.Context, repo string, o options) error {
	got, err := ostree(ctx, o.bin, repo, "rev-parse", remote+":"+o.ref)
	if err != nil {
		return err
	}
	if got = strings.TrimSpace(got); got != o.commit {
		return fmt.Errorf("pulled commit %s, want %s", got, o.commit)
	}
	if _, err := ostree(ctx, o.bin, repo, "fsck"); err != nil {
		return fmt.Errorf("fsck: %w", err)
	}
	return nil
}

// ostree runs the ostree CLI on repo and returns its stdout; a failure
// carries the last line of its stderr.
func ostree(ctx context.Context, bin, repo string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--repo=" + repo}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return out.String(), fmt.Errorf("ostree %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return out.String(), nil
}

// each runs f on every client, jobs at a time, and returns the first error.
func each(clients []*client, jobs int, f func(*client) error) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, jobs)
	for _, c := range clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(c); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// removeAll deletes the n client repositories in parallel (tens of
// thousands of files each), then dir.
func removeAll(dir string, n, jobs int) {
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = &client{repo: filepath.Join(dir, strconv.Itoa(i))}
	}
	each(clients, jobs, func(c *client) error { return os.RemoveAll(c.repo) })
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "loadpull: remove %s: %v\n", dir, err)
	}
}
