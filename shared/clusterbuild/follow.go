package clusterbuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ocne-image/ocne-image/shared/builder/wire"
	"github.com/ocne-image/ocne-image/shared/kube"
	"github.com/ocne-image/ocne-image/shared/workdir"
)

type podState int

const (
	podRunning podState = iota
	podSucceeded
)

// waitStarted waits until the builder container runs (or already finished).
func (c *cluster) waitStarted(ctx context.Context) (podState, error) {
	deadline := time.Now().Add(c.opts.StartTimeout)
	for {
		p, err := c.cs.CoreV1().Pods(c.opts.Namespace).Get(ctx, c.pod, metav1.GetOptions{})
		if err != nil {
			return 0, c.podGone(err)
		}
		if st, done, err := c.finished(p); done {
			return st, err
		}
		if err := stuck(p, c.opts.BuilderImage); err != nil {
			return 0, err
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running != nil {
				return podRunning, nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("builder pod %s/%s did not start within %s: %s", c.opts.Namespace, c.pod, c.opts.StartTimeout, describe(p))
		}
		if err := kube.Sleep(ctx, 500*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// ImagePullError says the nodes cannot pull the builder image; the caller
// knows how the user gets it there.
type ImagePullError struct {
	Image, Reason, Message string
}

func (e *ImagePullError) Error() string {
	return fmt.Sprintf("builder image %s cannot be pulled: %s: %s", e.Image, e.Reason, e.Message)
}

// stuck reports a builder container that waiting will not start.
func stuck(p *corev1.Pod, image string) error {
	for _, cs := range p.Status.ContainerStatuses {
		w := cs.State.Waiting
		switch {
		case w == nil || !kube.Stuck(w.Reason):
		case kube.ImagePullFailure(w.Reason):
			return &ImagePullError{Image: image, Reason: w.Reason, Message: kube.OneLine(w.Message)}
		default:
			return fmt.Errorf("builder pod %s/%s: %s: %s", p.Namespace, p.Name, w.Reason, kube.OneLine(w.Message))
		}
	}
	return nil
}

// finished reports a pod that has ended: success (the push mode) or the
// builder's one-line failure message.
func (c *cluster) finished(p *corev1.Pod) (podState, bool, error) {
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		return podSucceeded, true, nil
	case corev1.PodFailed:
		msg := p.Status.Message
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.Message != "" {
				msg = t.Message
			}
		}
		return 0, true, fmt.Errorf("build failed in pod %s/%s: %s", c.opts.Namespace, c.pod, kube.OneLine(msg))
	}
	return 0, false, nil
}

func (c *cluster) podGone(err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("builder pod %s/%s was deleted before the build finished", c.opts.Namespace, c.pod)
	}
	return fmt.Errorf("builder pod %s/%s: %w", c.opts.Namespace, c.pod, err)
}

// follow tracks the build through the pod's status endpoint, then fetches
// the result unless the pod pushed it.
func (c *cluster) follow(ctx context.Context) (*wire.Result, error) {
	fwd, err := c.forward(ctx)
	if err != nil {
		return nil, err
	}
	defer fwd.close()
	var last int64
	started := false
	for {
		p, err := c.cs.CoreV1().Pods(c.opts.Namespace).Get(ctx, c.pod, metav1.GetOptions{})
		if err != nil {
			return nil, c.podGone(err)
		}
		if st, done, err := c.finished(p); done {
			if err != nil {
				return nil, err
			}
			if st == podSucceeded && c.opts.Destination != "" {
				return &wire.Result{Source: c.opts.Source, Arch: c.opts.Arch, Version: c.opts.Version}, nil
			}
			return nil, fmt.Errorf("builder pod %s/%s ended before handing over the archive", c.opts.Namespace, c.pod)
		}
		st, err := fwd.client().Status(ctx)
		if err == nil {
			if c.opts.Progress != nil && st.Total > 0 {
				if !started {
					c.opts.Progress.Start(st.Total)
					started = true
				}
				c.opts.Progress.Add(int(st.Read - last))
				last = st.Read
			}
			switch st.State {
			case wire.StateFailed:
				return nil, fmt.Errorf("build failed in pod %s/%s: %s", c.opts.Namespace, c.pod, st.Error)
			case wire.StateReady:
				if err := c.fetch(ctx, fwd, st); err != nil {
					return nil, err
				}
				res := *st.Result
				res.Output = c.opts.Output
				return &res, nil
			}
		}
		if err := kube.Sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// fetch downloads the archive to a temp file beside the output, resuming
// from where a cut connection left off, checks its digest and renames it.
func (c *cluster) fetch(ctx context.Context, fwd *forwarder, st wire.Status) (err error) {
	dir := filepath.Dir(c.opts.Output)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// In a work directory, so that what a killed run leaves is removed by
	// the next one (workdir).
	wd, err := workdir.Create(dir, ".ocne-image-fetch-")
	if err != nil {
		return fmt.Errorf("cannot write to %s: %w", dir, err)
	}
	defer wd.Remove()
	f, err := os.Create(filepath.Join(wd.Path, filepath.Base(c.opts.Output)))
	if err != nil {
		return fmt.Errorf("cannot write to %s: %w", dir, err)
	}
	defer f.Close()
	h := sha256.New()
	sink := io.MultiWriter(f, h)
	if p := c.opts.Fetch; p != nil {
		p.Start(st.Size)
		sink = io.MultiWriter(sink, progressWriter{p})
	}
	var have int64
	start := time.Now()
	for attempt := 0; have < st.Size; attempt++ {
		n, err := fwd.client().Archive(ctx, have, sink)
		have += n
		if err == nil {
			continue
		}
		if ctx.Err() != nil || attempt >= 10 {
			return fmt.Errorf("fetch the archive from pod %s/%s: %w", c.opts.Namespace, c.pod, err)
		}
		fmt.Fprintf(c.opts.Log, "transfer cut at %d of %d bytes (%v); resuming\n", have, st.Size, err)
		if err := fwd.reconnect(ctx); err != nil {
			return err
		}
	}
	// make bench reads this line for the transfer throughput.
	secs := time.Since(start).Seconds()
	fmt.Fprintf(c.opts.Log, "fetched %d bytes in %.3f s (%.1f MiB/s)\n", have, secs, float64(have)/(1<<20)/secs)
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != st.Digest {
		return fmt.Errorf("fetched archive has digest %s, the builder reported %s", got, st.Digest)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	os.Chmod(f.Name(), 0o644)
	return os.Rename(f.Name(), c.opts.Output)
}

func describe(p *corev1.Pod) string {
	var parts []string
	parts = append(parts, "phase "+string(p.Status.Phase))
	for _, cond := range p.Status.Conditions {
		if cond.Status != corev1.ConditionTrue && cond.Message != "" {
			parts = append(parts, string(cond.Type)+": "+cond.Message)
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			parts = append(parts, w.Reason+": "+w.Message)
		}
	}
	return kube.OneLine(strings.Join(parts, "; "))
}

type progressWriter struct{ p Progress }

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.Add(len(b))
	return len(b), nil
}
