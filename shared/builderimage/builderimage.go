// Package builderimage is the builder image: the reference `create` runs
// by default and the FROM-scratch image `builder-image` packs, with the
// builder program (kubectl-ocne/builder) or, without it, the plugin.
package builderimage

import (
	"fmt"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/builder/wire"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
)

// BinaryName is the builder program (kubectl-ocne/builder), shipped beside
// the plugin.
const BinaryName = "ocne-image-builder"

// Paths and identity inside the builder image.
const (
	BinaryPath = "/usr/bin/" + BinaryName
	PluginPath = "/usr/bin/kubectl-ocne_image"        // the fallback: the whole plugin
	CAFile     = "/etc/ssl/certs/ca-certificates.crt" // where Go looks first on Linux
	User       = "65532:65532"
)

// Where releases publish the builder image: Registry/Repository:VERSION.
const (
	Registry   = "ghcr.io"
	Repository = "ocne-image/ocne-image-builder"
)

// Default is the builder image `create` runs unless told otherwise.
func Default(version string) string { return In(Registry, version) }

// In is the builder image of plugin version in registry (a host, or a
// host and path prefix): the default reference with its host replaced, as a
// registry mirror holds it. The tag is the version itself, so a plugin runs
// the builder of its own build: the two speak one protocol (flags, status).
// A development build's version (git describe: abc1234-dirty; dev) is a tag
// no release has, so it names what `builder-image` pushed from that binary,
// never an older builder.
func In(registry, version string) string {
	return strings.TrimSuffix(registry, "/") + "/" + Repository + ":" + imageTag(version)
}

// imageTag turns a version into a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}).
func imageTag(version string) string {
	tag := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, version)
	if tag == "" || tag[0] == '.' || tag[0] == '-' {
		tag = "dev" + tag
	}
	return tag[:min(len(tag), 128)]
}

// Options shape the builder image.
type Options struct {
	Binary string // a static linux build of the builder program for Arch
	// Plugin says Binary is the whole plugin, which runs the builder as
	// its `builder` command, instead of the builder program.
	Plugin  bool
	CAFile  string // PEM bundle of trusted CAs; "" for none
	Arch    string
	Version string
	TempDir string
}

// Build builds the builder image: FROM scratch, the builder program (or the
// plugin) and the CA bundle, run as a non-root user. Call RemoveLayerFiles
// when done.
func Build(opts Options) (ociarchive.Build, error) {
	var b ociarchive.Build
	// The pod gives only arguments: the entrypoint makes either binary
	// take them the same way.
	path, entrypoint := BinaryPath, []string{BinaryPath}
	if opts.Plugin {
		path, entrypoint = PluginPath, []string{PluginPath, "builder"}
	}
	created := time.Now().UTC().Truncate(time.Second)
	tl, err := ociarchive.NewTarLayer(opts.TempDir, ociarchive.Gzip, created)
	if err != nil {
		return b, err
	}
	err = tl.CopyFile(path, opts.Binary, 0o755)
	if err == nil && opts.CAFile != "" {
		err = tl.CopyFile(CAFile, opts.CAFile, 0o644)
	}
	for _, d := range []string{"/tmp", "/var/tmp"} {
		if err == nil {
			err = tl.Dir(d, 0o1777)
		}
	}
	if err == nil {
		err = tl.Dir(wire.WorkDir, 0o1777)
	}
	if err != nil {
		tl.Remove()
		return b, fmt.Errorf("builder image: %w", err)
	}
	l, err := tl.Finish()
	if err != nil {
		return b, fmt.Errorf("builder image: %w", err)
	}
	b.Layers = []ociarchive.BlobLayer{l}
	b.Config = imgspecv1.Image{
		Created:  &created,
		Platform: imgspecv1.Platform{OS: "linux", Architecture: opts.Arch},
		Config: imgspecv1.ImageConfig{
			User:         User,
			Entrypoint:   entrypoint,
			WorkingDir:   wire.WorkDir,
			Env:          []string{"HOME=/tmp", "TMPDIR=/tmp"},
			ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", wire.Port): {}},
			Labels: map[string]string{
				"org.opencontainers.image.title":   "ocne-image builder",
				"org.opencontainers.image.version": opts.Version,
			},
		},
		History: []imgspecv1.History{{Created: &created, CreatedBy: "ocne-image: builder"}},
	}
	return b, nil
}
