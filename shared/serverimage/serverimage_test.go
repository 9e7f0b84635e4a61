package serverimage

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/serverimage/layout"
)

// TestImage writes an image with a tiny repository and checks what a
// container runtime starts the server with and what each layer holds.
func TestImage(t *testing.T) {
	dir := t.TempDir()
	server := filepath.Join(dir, "server")
	if err := os.WriteFile(server, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "image.tar")
	a, err := ociarchive.CreateArchive(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Discard()
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 500, time.UTC)
	opts := Options{Arch: "amd64", ServerBinary: server, ModTime: mtime, TempDir: dir}
	meta := (&ostree.DirMeta{Mode: 0o40755}).Marshal()
	sum := ostree.SumBytes(meta)
	tree := (&ostree.DirTree{}).Marshal()
	commit := (&ostree.Commit{Subject: "test", RootTree: ostree.SumBytes(tree), RootMeta: sum}).Marshal()
	commitSum := ostree.SumBytes(commit)
	layers, err := WriteLayers(a, opts, func(s *archiverepo.Stream) error {
		for _, o := range []struct {
			t    ostree.ObjectType
			data []byte
		}{{ostree.ObjDirMeta, meta}, {ostree.ObjDirTree, tree}, {ostree.ObjCommit, commit}} {
			if err := s.WriteMetadata(o.t, ostree.SumBytes(o.data), o.data); err != nil {
				return err
			}
		}
		return s.SetRef("ock/x", commitSum)
	})
	if err != nil {
		t.Fatal(err)
	}
	b := Image(layers, opts)
	c := b.Config.Config
	for _, tc := range []struct {
		what      string
		got, want []string
	}{
		{"entrypoint", c.Entrypoint, []string{layout.ServerPath}},
		{"cmd", c.Cmd, []string{"--root", layout.WebRoot, "--listen", ":80"}},
		// The runtime setting that halves the server's CPU per request
		// under load; see ServerGODEBUG.
		{"env", c.Env, []string{"GODEBUG=schedtrace=2147483647"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s = %q, want %q", tc.what, tc.got, tc.want)
		}
	}
	if _, ok := c.ExposedPorts[layout.Port]; !ok {
		t.Errorf("exposed ports %v lack %s", c.ExposedPorts, layout.Port)
	}
	if err := a.Commit(b, Names("1.31")); err != nil {
		t.Fatal(err)
	}

	ref, err := containerimage.ParseReference("oci-archive:" + path + ":" + layout.Repository + ":1.31")
	if err != nil {
		t.Fatal(err)
	}
	img, err := containerimage.Open(context.Background(), ref, containerimage.Options{TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if len(img.Layers()) != 2 {
		t.Fatalf("%d layers, want 2 (server, archive)", len(img.Layers()))
	}
	repo := strings.TrimPrefix(layout.RepoPath, "/")
	for i, want := range [][]string{
		{strings.TrimPrefix(layout.ServerPath, "/"), strings.TrimPrefix(layout.KsPath, "/") + "/", "tmp/"},
		{repo + "/config", repo + "/refs/heads/ock/x", repo + "/objects/00/", repo + "/objects/ff/", repo + "/extensions/",
			repo + "/" + ostree.ObjectPath(sum, ostree.ObjDirMeta),
			// The static delta, beside the repository's own files.
			repo + "/ocne-delta/summary", repo + "/ocne-delta/" + ostree.ScratchDeltaSuperblockPath(commitSum),
			repo + "/ocne-delta/" + ostree.ScratchDeltaPartPath(commitSum, 0) + ".recipe"},
	} {
		entries := map[string]*tar.Header{}
		rc, err := img.OpenLayer(context.Background(), img.Layers()[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := entries[h.Name]; dup {
				t.Errorf("layer %d names %s twice", i, h.Name)
			}
			entries[h.Name] = h
			if !h.ModTime.Equal(mtime.Truncate(time.Second)) {
				t.Errorf("layer %d: %s has mtime %v, want %v", i, h.Name, h.ModTime, mtime)
			}
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		for _, name := range want {
			if entries[name] == nil {
				t.Errorf("layer %d has no %s", i, name)
			}
		}
		for name := range entries {
			if strings.Contains(name, "/tmp/") || strings.Contains(name, "/state") {
				t.Errorf("layer %d holds scratch entry %s", i, name)
			}
		}
	}
}
