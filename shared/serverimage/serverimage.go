// Package serverimage builds the archive server container image: our static
// HTTP server and an OSTree archive repository, FROM scratch. It is a
// drop-in for the nginx-based image of the old tooling: the repository is
// at /usr/share/nginx/html/ostree and the server listens on port 80.
package serverimage

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/containerimage"
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
	// Created stamps the image and its files. Callers pass the commit's
	// timestamp, so the same commit always yields the same image; zero
	// means the Unix epoch.
	Created time.Time
	TempDir string // where layer files go
}

// Build writes the image's layers into opts.TempDir: one with the server,
// one with the repository at archiveDir. Call RemoveLayerFiles when done.
func Build(archiveDir string, opts Options) (b containerimage.Build, err error) {
	if opts.Created.IsZero() {
		opts.Created = time.Unix(0, 0).UTC()
	}
	if opts.Arch == "" {
		opts.Arch = runtime.GOARCH
	}
	server, err := openServer(opts.ServerBinary, opts.Arch)
	if err != nil {
		return b, err
	}
	defer server.Close()
	defer func() {
		if err != nil {
			b.RemoveLayerFiles()
		}
	}()
	l, err := serverLayer(opts.TempDir, server, opts.Created)
	if err != nil {
		return b, fmt.Errorf("server layer: %w", err)
	}
	b.Layers = append(b.Layers, l)
	l, err = repoLayer(opts.TempDir, archiveDir, opts.Created)
	if err != nil {
		return b, fmt.Errorf("archive layer: %w", err)
	}
	b.Layers = append(b.Layers, l)

	labels := map[string]string{
		"org.opencontainers.image.title":       "OCK OSTree archive server",
		"org.opencontainers.image.description": "OSTree archive repository at /ostree, Kickstart files at /ks/, served on port 80",
	}
	for k, v := range opts.Labels {
		labels[k] = v
	}
	b.Config = imgspecv1.Image{
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
	}
	return b, nil
}

func openServer(path, arch string) (io.ReadCloser, error) {
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("archive server binary: %w", err)
		}
		return f, nil
	}
	f, err := payload.Open("payload/archive-server-" + arch)
	if err != nil {
		return nil, fmt.Errorf("this build of ocne-image has no archive server for %s embedded: rebuild it with `make build`", arch)
	}
	return f, nil
}

func serverLayer(dir string, server io.Reader, mtime time.Time) (containerimage.BlobLayer, error) {
	// Uncompressed, as both layers: a server binary is a few MB, and the
	// repository's objects are deflated already.
	tl, err := containerimage.NewTarLayer(dir, containerimage.Uncompressed, mtime)
	if err != nil {
		return containerimage.BlobLayer{}, err
	}
	data, err := io.ReadAll(server)
	if err == nil {
		err = tl.File(layout.ServerPath, 0o755, int64(len(data)), bytes.NewReader(data))
	}
	if err == nil { // the Kickstart mount point, and a /tmp for good measure
		err = tl.Dir(layout.KsPath, 0o755)
	}
	if err == nil {
		err = tl.Dir("/tmp", 0o1777)
	}
	if err != nil {
		tl.Remove()
		return containerimage.BlobLayer{}, err
	}
	return tl.Finish()
}

// repoLayer adds the repository's config, refs and objects; its scratch
// directories and any unfinished temp files stay out.
func repoLayer(dir, archiveDir string, mtime time.Time) (containerimage.BlobLayer, error) {
	tl, err := containerimage.NewTarLayer(dir, containerimage.Uncompressed, mtime)
	if err != nil {
		return containerimage.BlobLayer{}, err
	}
	err = filepath.WalkDir(archiveDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(archiveDir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(d.Name(), ".tmp-") || rel == "tmp" || rel == "state" {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := path.Join(layout.RepoPath, rel)
		if d.IsDir() {
			return tl.Dir(name, 0o755)
		}
		return tl.CopyFile(name, p, 0o644)
	})
	if err != nil {
		tl.Remove()
		return containerimage.BlobLayer{}, err
	}
	return tl.Finish()
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
