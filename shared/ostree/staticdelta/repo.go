package staticdelta

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostree/deltapart"
)

// DirSink writes files under a directory (a repository root), each
// through a temp file renamed into place, so that a server never hands
// out half a part.
type DirSink string

func (d DirSink) WriteFile(name string, size int64, r io.Reader) error {
	p := filepath.Join(string(d), filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-")
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if err == nil && n != size {
		err = fmt.Errorf("write %s: got %d bytes, want %d", name, n, size)
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// FromRepo writes the from-scratch delta of ref's commit into the archive
// repository dir, and a summary listing every ref of the repository and
// the delta. Content goes into the parts depth first, in dirtree order, so
// that most subtrees fit in one part with their dirtrees (see the package
// documentation).
func FromRepo(dir, ref string, opts Options) (*Delta, error) {
	repo, to, commit, detached, err := openCommit(dir, ref)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(DirSink(dir), to, commit, detached, opts)
	if err != nil {
		return nil, err
	}
	type file struct {
		path string
		c    ostree.Checksum
	}
	var files []file
	if _, err := archiverepo.Walk(repo, to, func(p string, t ostree.ObjectType, c ostree.Checksum) error {
		if t == ostree.ObjFileZ {
			files = append(files, file{p, c})
			return nil
		}
		b, err := repo.ReadMetadata(t, c)
		if err != nil {
			return err
		}
		return w.AddMetadata(t, c, b)
	}); err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := addContent(w, repo, f.c); err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	d, err := w.Close()
	if err != nil {
		return nil, err
	}
	refs, err := summaryRefs(repo)
	if err != nil {
		return nil, err
	}
	if err := WriteSummary(DirSink(dir), refs, []*Delta{d}, w.commit.Timestamp); err != nil {
		return nil, err
	}
	return d, nil
}

func addContent(w *Writer, repo *archiverepo.Repo, c ostree.Checksum) error {
	obj, err := repo.OpenContent(c)
	if err != nil {
		return err
	}
	defer obj.Close()
	return w.AddContent(c, obj.Header, obj.Size, obj)
}

// PlanRepo plans the from-scratch delta of ref's commit in the archive
// repository dir as create does (see Planner), and writes the superblock,
// the parts' recipes and a summary of every ref into dir's deltapart.Dir,
// where the archive server finds them.
func PlanRepo(dir, ref string, opts Options) (*Delta, error) {
	repo, to, commit, detached, err := openCommit(dir, ref)
	if err != nil {
		return nil, err
	}
	p := NewPlanner(opts)
	if _, err := archiverepo.Walk(repo, to, func(path string, t ostree.ObjectType, c ostree.Checksum) error {
		if t != ostree.ObjFileZ {
			return nil
		}
		obj, err := repo.OpenContent(c)
		if err != nil {
			return err
		}
		defer obj.Close()
		cw := p.Content(obj.Header, obj.Size)
		if _, err := io.Copy(cw, obj); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return cw.Done(c)
	}); err != nil {
		return nil, err
	}
	sink := DirSink(filepath.Join(dir, deltapart.Dir))
	d, err := p.Finish(sink, to, commit, detached, func(t ostree.ObjectType, c ostree.Checksum) []byte {
		b, _ := repo.ReadMetadata(t, c)
		return b
	})
	if err != nil {
		return nil, err
	}
	refs, err := summaryRefs(repo)
	if err != nil {
		return nil, err
	}
	c, _ := ostree.ParseCommit(commit)
	if err := WriteSummary(sink, refs, []*Delta{d}, c.Timestamp); err != nil {
		return nil, err
	}
	return d, nil
}

// summaryRefs lists every ref of repo with its commit object.
func summaryRefs(repo *archiverepo.Repo) ([]Ref, error) {
	refs, err := repo.Refs()
	if err != nil {
		return nil, err
	}
	var out []Ref
	for name, c := range refs {
		b, err := repo.ReadMetadata(ostree.ObjCommit, c)
		if err != nil {
			return nil, fmt.Errorf("ref %s: %w", name, err)
		}
		out = append(out, Ref{Name: name, Commit: b})
	}
	return out, nil
}

// openCommit opens the archive repository dir and reads ref's commit and
// its detached metadata (nil if it has none).
func openCommit(dir, ref string) (repo *archiverepo.Repo, to ostree.Checksum, commit, detached []byte, err error) {
	if repo, err = archiverepo.Open(dir); err != nil {
		return nil, to, nil, nil, err
	}
	if to, err = repo.ResolveRef(ref); err != nil {
		return nil, to, nil, nil, err
	}
	if commit, err = repo.ReadMetadata(ostree.ObjCommit, to); err != nil {
		return nil, to, nil, nil, err
	}
	detached, err = repo.ReadMetadata(ostree.ObjCommitMeta, to)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, to, nil, nil, err
	}
	return repo, to, commit, detached, nil
}
