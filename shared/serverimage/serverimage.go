// Package serverimage builds the archive server container image: our static
// HTTP server and an OSTree archive repository, FROM scratch. It is a
// drop-in for the nginx-based image of the old tooling: the repository is
// at /usr/share/nginx/html/ostree and the server listens on port 80.
//
// The server is the archive-server program (./archive-server), which
// `make` builds for each architecture into payload/ and this package
// embeds, so a server image needs no network and no base image.
package serverimage

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostree/deltapart"
	"github.com/ocne-image/ocne-image/shared/ostree/staticdelta"
	"github.com/ocne-image/ocne-image/shared/serverimage/layout"
)

// ServerGODEBUG is the server's GODEBUG in the image. A static file server
// under a fleet's load turns idle and busy thousands of times a second;
// each time its one P goes idle, the Go runtime's monitor thread (sysmon)
// parks, the next system call wakes it, and it then polls every 20 µs
// until the next idle spell. In make loadtest that was 60% of the server's
// context switches and half its CPU per request (golang/go#18236).
// sysmon never parks while a scheduler trace is on, and then backs off to
// one wake-up per 10 ms; with the longest period the trace prints a SCHED
// line at most once per 24.8 days (one at start on a host up longer than
// that, as the period counts from boot). Setting GODEBUG on the container
// replaces this.
const ServerGODEBUG = "schedtrace=2147483647"

//go:embed all:payload
var payload embed.FS

// Options shape the image.
type Options struct {
	// Arch is the image's architecture: that of the nodes the archive is
	// for, which are also where it is most likely served from.
	Arch string
	// ServerBinary is the static server to put in the image; empty uses
	// the one embedded at build time for Arch.
	ServerBinary string
	Labels       map[string]string
	// Created stamps the image. Callers pass the commit's timestamp, so
	// the same commit always yields the same image; zero means the Unix
	// epoch.
	Created time.Time
	// ModTime stamps the layers' files. It must be known before the
	// first object is written, so callers pass the source image's
	// creation time; zero means the Unix epoch.
	ModTime time.Time
	TempDir string // where scratch files go
	// NoStaticDelta leaves the static delta out (see WriteLayers).
	NoStaticDelta bool
}

func (o *Options) defaults() {
	if o.Created.IsZero() {
		o.Created = time.Unix(0, 0).UTC()
	}
	if o.ModTime.IsZero() {
		o.ModTime = time.Unix(0, 0).UTC()
	}
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
}

// WriteLayers streams the image's two layers into a, in one pass each: the
// server, then the OSTree archive repository, whose objects fill puts into
// the Stream it is given while they are read and verified. No repository
// directory or layer file is written. Image makes the image of them once
// fill's results are known.
func WriteLayers(a *ociarchive.Archive, opts Options, fill func(*archiverepo.Stream) error) ([]ociarchive.BlobLayer, error) {
	opts.defaults()
	server, err := readServer(opts.ServerBinary, opts.Arch)
	if err != nil {
		return nil, err
	}
	sl, err := a.Layer(func(w io.Writer) error { return serverLayer(w, server, opts.ModTime) })
	if err != nil {
		return nil, fmt.Errorf("server layer: %w", err)
	}
	rl, err := a.Layer(func(w io.Writer) error {
		s, err := archiverepo.NewStream(w, layout.RepoPath, opts.ModTime, opts.TempDir)
		if err != nil {
			return err
		}
		var plan *staticdelta.Planner
		if !opts.NoStaticDelta {
			// 4 MiB parts: the planner holds one part of small objects
			// until it is hashed, and create stays under 128 MiB.
			plan = staticdelta.NewPlanner(staticdelta.Options{PartSize: 4 << 20})
			s.SetContentTap(func(h *ostree.FileHeader, size int64) archiverepo.ContentTap { return plan.Content(h, size) })
		}
		if err := fill(s); err != nil {
			return err
		}
		if plan != nil {
			if err := writeDelta(s, plan); err != nil {
				return err
			}
		}
		return s.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("archive layer: %w", err)
	}
	return []ociarchive.BlobLayer{sl, rl}, nil
}

// writeDelta finishes the static delta to the commit of the stream's ref
// and writes it, with a summary of the refs, under deltapart.Dir: the
// superblock and summary as they are, the parts as recipes the archive
// server rebuilds them from (package deltapart). The summary is written
// here, with the refs, so it can never name an older commit than they do.
func writeDelta(s *archiverepo.Stream, plan *staticdelta.Planner) error {
	refs := s.Refs()
	if len(refs) != 1 {
		return fmt.Errorf("static delta: the repository has %d refs, want 1", len(refs))
	}
	var summary []staticdelta.Ref
	var delta *staticdelta.Delta
	for name, c := range refs {
		commit, err := s.ReadMetadata(ostree.ObjCommit, c)
		if err != nil {
			return fmt.Errorf("static delta: ref %s: %w", name, err)
		}
		detached, err := s.ReadMetadata(ostree.ObjCommitMeta, c)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("static delta: ref %s: %w", name, err)
		}
		sink := deltaSink{s}
		delta, err = plan.Finish(sink, c, commit, detached, func(t ostree.ObjectType, c ostree.Checksum) []byte {
			b, _ := s.ReadMetadata(t, c)
			return b
		})
		if err != nil {
			return err
		}
		summary = append(summary, staticdelta.Ref{Name: name, Commit: commit})
	}
	cm, err := ostree.ParseCommit(summary[0].Commit)
	if err != nil {
		return err
	}
	return staticdelta.WriteSummary(deltaSink{s}, summary, []*staticdelta.Delta{delta}, cm.Timestamp)
}

// deltaSink writes a static delta's files into the stream under
// deltapart.Dir.
type deltaSink struct{ s *archiverepo.Stream }

func (d deltaSink) WriteFile(name string, size int64, r io.Reader) error {
	return d.s.WriteFile(path.Join(deltapart.Dir, name), size, r)
}

// Image is the archive server image made of the layers WriteLayers wrote.
func Image(layers []ociarchive.BlobLayer, opts Options) ociarchive.Build {
	opts.defaults()
	labels := map[string]string{
		"org.opencontainers.image.title":       "OCK OSTree archive server",
		"org.opencontainers.image.description": "OSTree archive repository at /ostree, Kickstart files at /ks/, served on port 80",
	}
	for k, v := range opts.Labels {
		labels[k] = v
	}
	return ociarchive.Build{
		Layers: layers,
		Config: imgspecv1.Image{
			Created:  &opts.Created,
			Platform: imgspecv1.Platform{OS: "linux", Architecture: opts.Arch},
			Config: imgspecv1.ImageConfig{
				Entrypoint:   []string{layout.ServerPath},
				Cmd:          []string{"--root", layout.WebRoot, "--listen", ":80"},
				Env:          []string{"GODEBUG=" + ServerGODEBUG},
				ExposedPorts: map[string]struct{}{layout.Port: {}},
				StopSignal:   "SIGTERM",
				Labels:       labels,
			},
			History: []imgspecv1.History{
				{Created: &opts.Created, CreatedBy: "ocne-image: archive server"},
				{Created: &opts.Created, CreatedBy: "ocne-image: OSTree archive"},
			},
		},
	}
}

func readServer(path, arch string) ([]byte, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("archive server binary: %w", err)
		}
		return b, nil
	}
	b, err := payload.ReadFile("payload/archive-server-" + arch)
	if err != nil {
		return nil, fmt.Errorf("this build of ocne-image has no archive server for %s embedded: rebuild it with `make build`", arch)
	}
	return b, nil
}

// serverLayer writes the layer with the server. Both layers are
// uncompressed: a server binary is a few MB, and the repository's objects
// are deflated already.
func serverLayer(w io.Writer, server []byte, mtime time.Time) error {
	tw := ociarchive.NewTarWriter(w, mtime)
	err := tw.File(layout.ServerPath, 0o755, int64(len(server)), bytes.NewReader(server))
	if err == nil { // the Kickstart mount point, and a /tmp for good measure
		err = tw.Dir(layout.KsPath, 0o755)
	}
	if err == nil {
		err = tw.Dir("/tmp", 0o1777)
	}
	if err == nil {
		err = tw.Close()
	}
	return err
}

// Names returns the names `podman load` gives the image: latest and the
// Kubernetes version.
func Names(version string) []string {
	names := []string{layout.Repository + ":latest"}
	if version != "" {
		names = append(names, layout.Repository+":"+version)
	}
	return names
}
