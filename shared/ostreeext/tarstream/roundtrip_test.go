package tarstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostreeext/internal/testcommit"
	"github.com/ocne-image/ocne-image/shared/ostreeext/tarstream"
)

type object struct {
	t   ostree.ObjectType
	sum ostree.Checksum
}

// closure lists the commit's directories (as a Writer wants them) and
// every object it reaches, with each content object's paths.
func closure(t *testing.T, repo *archiverepo.Repo, commit ostree.Checksum) (*ostree.Commit, []tarstream.Dir, []object, map[ostree.Checksum][]string) {
	t.Helper()
	var dirs []tarstream.Dir
	var objects []object
	seen := map[object]bool{}
	paths := map[ostree.Checksum][]string{}
	var lastMeta ostree.Checksum
	c, err := archiverepo.Walk(repo, commit, func(p string, typ ostree.ObjectType, sum ostree.Checksum) error {
		switch typ {
		case ostree.ObjDirMeta:
			lastMeta = sum
		case ostree.ObjDirTree:
			dirs = append(dirs, tarstream.Dir{Path: p, Tree: sum, Meta: lastMeta})
		case ostree.ObjFileZ:
			paths[sum] = append(paths[sum], p)
		}
		if o := (object{typ, sum}); !seen[o] {
			seen[o] = true
			objects = append(objects, o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, dirs, append(objects, object{ostree.ObjCommit, commit}), paths
}

// TestRoundTrip writes a commit as ostree-ext layers in every layout and
// imports them into an empty repository: it then holds the same objects
// (each verified against its checksum on the way, xattrs included), and
// without the chunk layer the import is incomplete.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	src, err := archiverepo.Create(filepath.Join(t.TempDir(), "src"))
	if err != nil {
		t.Fatal(err)
	}
	commit, err := testcommit.Write(src, testcommit.Tree(), 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	c, dirs, objects, paths := closure(t, src, commit)
	for _, opts := range []tarstream.WriterOptions{
		{},
		{Xattrs: tarstream.XattrsLinkFile},
		{Xattrs: tarstream.XattrsPAX, DotSlash: true},
		{V0: true},
		{V0: true, DotSlash: true},
	} {
		t.Run(fmt.Sprintf("v0=%v xattrs=%q dotslash=%v", opts.V0, opts.Xattrs, opts.DotSlash), func(t *testing.T) {
			opts.MTime = time.Unix(int64(c.Timestamp), 0)
			// Format 0 has one layer; format 1 here puts every other
			// content object in a chunk layer.
			var commitLayer, chunk bytes.Buffer
			cw := tarstream.NewWriter(&commitLayer, src, opts)
			if err := cw.CommitLayer(commit, c, dirs); err != nil {
				t.Fatal(err)
			}
			kw := tarstream.NewWriter(&chunk, src, opts)
			if !opts.V0 {
				if err := kw.ChunkLayer(); err != nil {
					t.Fatal(err)
				}
			}
			i := 0
			for _, o := range objects {
				if o.t != ostree.ObjFileZ {
					continue
				}
				w := cw
				if !opts.V0 && i%2 == 1 {
					w = kw
				}
				if err := w.Content(o.sum, paths[o.sum]); err != nil {
					t.Fatal(err)
				}
				i++
			}
			if err := cw.Close(); err != nil {
				t.Fatal(err)
			}
			if err := kw.Close(); err != nil {
				t.Fatal(err)
			}

			dst, err := archiverepo.Create(filepath.Join(t.TempDir(), "dst"))
			if err != nil {
				t.Fatal(err)
			}
			im := tarstream.NewImporter(dst, tarstream.WithWorkers(2))
			st, err := im.ImportLayer(ctx, bytes.NewReader(commitLayer.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if st.Objects == 0 {
				t.Errorf("commit layer: %+v, want objects", st)
			}
			if !opts.V0 {
				if _, err := im.Finish(commit); !errors.Is(err, tarstream.ErrIncomplete) {
					t.Errorf("without the chunk layer: %v, want ErrIncomplete", err)
				}
				if _, err := im.ImportLayer(ctx, bytes.NewReader(chunk.Bytes())); err != nil {
					t.Fatal(err)
				}
			}
			got, err := im.Finish(commit)
			if err != nil {
				t.Fatal(err)
			}
			if got.RootTree != c.RootTree || got.RootMeta != c.RootMeta {
				t.Errorf("imported commit %+v, want %+v", got, c)
			}
			for _, o := range objects {
				if !dst.Has(o.sum, o.t) {
					t.Errorf("%s %s not imported", o.t, o.sum)
				}
			}
			if im.Objects() != len(objects) {
				t.Errorf("imported %d objects, the commit has %d", im.Objects(), len(objects))
			}
		})
	}
}
