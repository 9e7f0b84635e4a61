package ostreeext_test

import (
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/shared/ostreeext/internal/testcommit"
	"github.com/ocne-image/ocne-image/shared/ostreeext/tarstream"
)

// TestExportImport exports a commit as an image and reads it back as the
// importer's caller does: the labels name the commit and say that every
// layer holds ostree objects, importing those layers gives the commit
// back, and exporting again gives the very same image.
func TestExportImport(t *testing.T) {
	ctx := context.Background()
	repo, err := archiverepo.Create(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	commit, err := testcommit.Write(repo, testcommit.Tree(), 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		opts  ostreeext.ExportOptions
		label string
	}{
		{"format 1, one layer", ostreeext.ExportOptions{}, ostreeext.LabelFinalDiffID},
		{"format 1, chunked", ostreeext.ExportOptions{Layers: 3, Xattrs: tarstream.XattrsLinkFile}, ostreeext.LabelFinalDiffID},
		{"format 0", ostreeext.ExportOptions{V0: true}, ostreeext.LabelDiffID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.TempDir, tc.opts.Arch = t.TempDir(), "arm64"
			b, err := ostreeext.Export(ctx, repo, commit, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer b.RemoveLayerFiles()
			labels := b.Config.Config.Labels
			if !reflect.DeepEqual(b.Annotations, labels) || labels[tc.label] != b.Layers[len(b.Layers)-1].DiffID.String() || b.Config.Architecture != "arm64" {
				t.Errorf("config %+v, annotations %v: want %s on the last layer, the labels as annotations", b.Config, b.Annotations, tc.label)
			}
			for i, l := range b.Layers[1:] {
				if l.Annotations[ostreeext.AnnotationComponents] == "" {
					t.Errorf("chunk layer %d has no %s", i+2, ostreeext.AnnotationComponents)
				}
			}
			n, got, err := ostreeext.Layers(labels, diffIDs(b))
			if err != nil || n != len(b.Layers) || got != commit {
				t.Fatalf("Layers = %d, %s, %v; want all %d layers and %s", n, got, err, len(b.Layers), commit)
			}

			dst, err := archiverepo.Create(filepath.Join(t.TempDir(), "dst"))
			if err != nil {
				t.Fatal(err)
			}
			im := tarstream.NewImporter(dst)
			for _, l := range b.Layers {
				f, err := os.Open(l.Path)
				if err != nil {
					t.Fatal(err)
				}
				zr, err := gzip.NewReader(f)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := im.ImportLayer(ctx, zr); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			if _, err := im.Finish(commit); err != nil {
				t.Fatal(err)
			}

			again, err := ostreeext.Export(ctx, repo, commit, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer again.RemoveLayerFiles()
			if !reflect.DeepEqual(diffIDs(again), diffIDs(b)) || !reflect.DeepEqual(again.Config, b.Config) {
				t.Error("exporting again gave another image")
			}
		})
	}
}

func diffIDs(b ociarchive.Build) []digest.Digest {
	var out []digest.Digest
	for _, l := range b.Layers {
		out = append(out, l.DiffID)
	}
	return out
}

// TestLayers: which layers are ostree layers, from the labels, in each
// era's form, and the images that are not ostree-ext images.
func TestLayers(t *testing.T) {
	const c = "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	ids := []digest.Digest{digest.FromString("a"), digest.FromString("b"), digest.FromString("c")}
	for _, tc := range []struct {
		name    string
		labels  map[string]string
		diffIDs []digest.Digest
		want    int
		is      error
		wantErr bool
	}{
		{"format 1 and a derived layer", map[string]string{ostreeext.LabelCommit: c, ostreeext.LabelFinalDiffID: ids[1].String()}, ids, 2, nil, false},
		{"format 0", map[string]string{ostreeext.LabelCommit: c, ostreeext.LabelDiffID: ids[0].String()}, ids, 1, nil, false},
		{"no diff ID label: the first layer", map[string]string{ostreeext.LabelCommit: c}, ids, 1, nil, false},
		{"no commit label", map[string]string{}, ids, 0, ostreeext.ErrNotOSTree, true},
		{"no layers", map[string]string{ostreeext.LabelCommit: c}, nil, 0, ostreeext.ErrNotOSTree, true},
		{"bad commit", map[string]string{ostreeext.LabelCommit: "xyz"}, ids, 0, nil, true},
		{"label names a missing layer", map[string]string{ostreeext.LabelCommit: c, ostreeext.LabelFinalDiffID: digest.FromString("z").String()}, ids, 0, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, commit, err := ostreeext.Layers(tc.labels, tc.diffIDs)
			if tc.wantErr {
				if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
					t.Fatalf("err = %v, want one (%v)", err, tc.is)
				}
				return
			}
			if err != nil || n != tc.want || commit.String() != c {
				t.Errorf("Layers = %d, %s, %v; want %d", n, commit, err, tc.want)
			}
		})
	}
}
