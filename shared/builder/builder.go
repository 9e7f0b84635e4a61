// Package builder produces the archive server image from an OCK OSTree
// image: conversion, server image, OCI archive. `create --local` calls it
// in-process and the builder pod calls it in the cluster, so both paths
// run the same code.
package builder

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/builder/wire"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/convert"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/serverimage"
	"github.com/ocne-image/ocne-image/shared/workdir"
)

// Options say what to build.
type Options struct {
	Source  string // image reference of the OCK OSTree image
	Arch    string
	Version string // Kubernetes minor version, names the image
	Ref     string // OSTree ref to create
	// NoStaticDelta leaves the static delta out of the image (see
	// serverimage.WriteLayers).
	NoStaticDelta bool
	Image         containerimage.Options
	// Output is the archive file to write; its directory also holds the
	// work files, which are removed afterwards.
	Output   string
	Progress convert.Progress
	Warn     io.Writer // warnings; nil discards
	Log      io.Writer // details; nil discards
}

// Result describes what was built; the builder pod reports it as it is
// (wire.Status).
type Result = wire.Result

// Build converts opts.Source and writes the archive server image to
// opts.Output in one pass: each layer of the source is read once, and
// each object verified and compressed straight into the output's archive
// layer; no repository directory or layer file is written. Nothing is left
// behind on failure.
func Build(ctx context.Context, opts Options) (res *Result, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Warn == nil {
		opts.Warn = io.Discard
	}
	outDir := filepath.Dir(opts.Output)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create output directory %s: %w", outDir, err)
	}
	src, err := convert.Open(ctx, opts.Source, convert.Options{
		Image: opts.Image, Ref: opts.Ref, Progress: opts.Progress, Log: opts.Warn,
	})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	// The archive being written and scratch files (the few objects too
	// large to hold in memory while they wait their turn) go next to the
	// output: one filesystem, so running out of space shows up here,
	// nothing large lands in a small /tmp, and the archive is renamed into
	// place. A run killed outright leaves its work directory; the next one
	// here removes it (workdir).
	wd, err := workdir.Create(outDir, ".ocne-image-work-")
	if err != nil {
		return nil, fmt.Errorf("cannot write to %s: %w", outDir, err)
	}
	defer wd.Remove()
	archive, err := ociarchive.CreateArchive(opts.Output, wd.Path)
	if err != nil {
		return nil, err
	}
	defer archive.Discard()

	imgOpts := serverimage.Options{Arch: opts.Arch, ModTime: src.Created(), TempDir: wd.Path, NoStaticDelta: opts.NoStaticDelta}
	var conv *convert.Result
	layers, err := serverimage.WriteLayers(archive, imgOpts, func(s *archiverepo.Stream) (err error) {
		conv, err = src.Convert(ctx, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Log, "Commit %s: %d objects verified\n", conv.Commit, conv.Objects)
	imgOpts.Created = conv.Created
	imgOpts.Labels = map[string]string{
		"ostree.commit":                   conv.Commit.String(),
		"ostree.ref":                      conv.Ref,
		"ostree.arch":                     opts.Arch,
		"version":                         opts.Version,
		"org.opencontainers.image.source": conv.Source,
	}
	names := serverimage.Names(opts.Version)
	if err := archive.Commit(serverimage.Image(layers, imgOpts), names); err != nil {
		return nil, err
	}
	return &Result{
		Output: opts.Output, Source: conv.Source, Commit: conv.Commit.String(), Ref: conv.Ref,
		Version: opts.Version, Arch: opts.Arch, Objects: conv.Objects, Names: names,
	}, nil
}
