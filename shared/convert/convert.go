package convert

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/shared/ostreeext/tarstream"
	"github.com/opencontainers/go-digest"
)

// DefaultRef is the ref Kickstart's ostreesetup installs (--ref=ock).
const DefaultRef = "ock"

// Options configure a conversion.
type Options struct {
	Image containerimage.Options
	// Ref is the ref to serve the commit as. "" picks the one ref the
	// commit is bound to (ostree.ref-binding), else DefaultRef.
	Ref     string
	Workers int // compression goroutines; default one per CPU
	// Progress, if set, is told the blob bytes to fetch, then each read.
	Progress Progress
	// Log receives warnings and, with verbosity, details. nil discards.
	Log io.Writer
}

// Progress reports how far a conversion is.
type Progress interface {
	Start(total int64)
	Add(n int)
}

// Result describes the archive written.
type Result struct {
	Source  string
	Commit  ostree.Checksum
	Created time.Time // the commit's timestamp
	Ref     string
	Version string // the image's version label, if any
	Arch    string
	Objects int
}

// Store is what a conversion writes into: an archive repository on disk
// (archiverepo.Repo) or one streamed as an image layer (archiverepo.Stream).
type Store interface {
	tarstream.Store
	SetRef(name string, c ostree.Checksum) error
}

// Source is an OCK OSTree image opened for conversion: its labels are
// checked and its layers sorted out, but none of them read yet.
type Source struct {
	ref     *containerimage.Reference
	img     *containerimage.Image
	layers  []containerimage.Layer // the ostree layers
	derived []containerimage.Layer
	commit  ostree.Checksum
	opts    Options
}

// Open opens the image src (any reference ParseReference accepts; a file
// source is read as ResolveSource pins it) and checks that it encapsulates
// an OSTree commit. Close it when done.
func Open(ctx context.Context, src string, opts Options) (*Source, error) {
	ref, err := containerimage.ResolveSource(src)
	if err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if ref.SignatureRemote != "" {
		fmt.Fprintf(opts.Log, "warning: %s: signatures of OSTree remote %q are not checked; every object is still verified against its checksum\n", src, ref.SignatureRemote)
	}
	img, err := containerimage.Open(ctx, ref, opts.Image)
	if err != nil {
		return nil, err
	}
	layers, commit, err := ostreeLayers(img)
	if err != nil {
		img.Close()
		return nil, err
	}
	return &Source{
		ref: ref, img: img, layers: layers, derived: img.Layers()[len(layers):],
		commit: commit, opts: opts,
	}, nil
}

// Close releases the image.
func (s *Source) Close() error { return s.img.Close() }

// Created is the image's creation time (zero if it has none). ostree-ext
// stamps it from the commit, and unlike the commit's own timestamp it is
// known before any layer is read.
func (s *Source) Created() time.Time { return s.img.Created() }

// Convert reads every layer once, verifying each object into store, checks
// that the commit is complete, merges derived layers into a new commit and
// sets the served ref. What store already holds on failure is the
// caller's to discard.
func (s *Source) Convert(ctx context.Context, store Store) (*Result, error) {
	opts, img, ref := s.opts, s.img, s.ref
	im := tarstream.NewImporter(store, tarstream.WithWorkers(opts.Workers))
	if opts.Progress != nil {
		var total int64
		for _, l := range img.Layers() {
			total += max(l.Size, 0)
		}
		opts.Progress.Start(total)
	}
	for _, l := range s.layers {
		if err := importLayer(ctx, img, im, l, opts.Progress); err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
	}
	commit := s.commit
	c, err := im.Finish(commit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	objects := im.Objects()
	if len(s.derived) == 0 {
		opts.Ref, err = servedRef(c, commit, opts.Ref, opts.Log)
	} else {
		var n int
		commit, c, n, err = merge(ctx, img, store, commit, c, s.derived, &opts)
		objects += n
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if err := store.SetRef(opts.Ref, commit); err != nil {
		return nil, err
	}
	return &Result{
		Source:  ref.String(),
		Commit:  commit,
		Created: time.Unix(int64(c.Timestamp), 0).UTC(),
		Ref:     opts.Ref,
		Version: img.Labels()[ostreeext.LabelVersion],
		Arch:    img.Architecture(),
		Objects: objects,
	}, nil
}

// ToArchive converts the image src into a new archive repository at dir,
// which must not exist. On failure nothing is left at dir.
func ToArchive(ctx context.Context, src, dir string, opts Options) (res *Result, err error) {
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("output %s already exists: remove it or choose another", dir)
	}
	s, err := Open(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	repo, err := archiverepo.Create(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	return s.Convert(ctx, repo)
}

func importLayer(ctx context.Context, img *containerimage.Image, im *tarstream.Importer, l containerimage.Layer, p Progress) error {
	var st tarstream.LayerStats
	err := readLayer(ctx, img, l, p, func(r io.Reader) (err error) {
		st, err = im.ImportLayer(ctx, r)
		return err
	})
	if err != nil {
		return fmt.Errorf("layer %d (%s): %w", l.Index+1, l.Digest, err)
	}
	if st.Objects == 0 && st.Files > 0 {
		// Importing it as an ostree layer would drop every file in it.
		return fmt.Errorf("layer %d (%s) holds %d file(s) but no OSTree objects, so it is a derived layer, yet the image's diff ID labels (or, without them, its place as the first layer) make it an ostree layer: the image is inconsistent", l.Index+1, l.Digest, st.Files)
	}
	return nil
}

// readLayer has read consume layer l's uncompressed tar and checks the
// layer's digests once it is done.
func readLayer(ctx context.Context, img *containerimage.Image, l containerimage.Layer, p Progress, read func(io.Reader) error) error {
	var onRead func(int)
	if p != nil {
		onRead = p.Add
	}
	r, err := img.OpenLayer(ctx, l, onRead)
	if err != nil {
		return err
	}
	err = read(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return err
}

// servedRef is the ref to serve commit c as. libostree checks a commit's
// ref bindings on every pull by default, as Anaconda's does, so serving it
// under any other name fails only at install time, on the node: refuse
// here instead. want is the ref asked for, "" if none.
func servedRef(c *ostree.Commit, commit ostree.Checksum, want string, log io.Writer) (string, error) {
	bound, err := c.RefBindings()
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", commit, err)
	}
	if len(bound) == 0 || slices.Contains(bound, want) {
		return cmp.Or(want, DefaultRef), nil
	}
	if want == "" {
		if slices.Contains(bound, DefaultRef) {
			return DefaultRef, nil
		}
		if len(bound) == 1 {
			fmt.Fprintf(log, "note: serving the commit as ref %q, the only ref it is bound to (%s); give Kickstart files that ref\n", bound[0], ostree.MetaRefBinding)
			return bound[0], nil
		}
		want = DefaultRef
	}
	return "", &RefBindingError{Commit: commit, Bound: bound, Ref: want}
}

// RefBindingError reports a ref the commit is not bound to: libostree
// refuses to pull it under that name.
type RefBindingError struct {
	Commit ostree.Checksum
	Bound  []string // the refs it is bound to
	Ref    string
}

func (e *RefBindingError) Error() string {
	return fmt.Sprintf("commit %s is bound to ref(s) %s (%s), and libostree refuses to pull it as %q", e.Commit, quoteAll(e.Bound), ostree.MetaRefBinding, e.Ref)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// ostreeLayers picks the layers that hold the OSTree repository
// (ostreeext.Layers says which).
func ostreeLayers(img *containerimage.Image) ([]containerimage.Layer, ostree.Checksum, error) {
	layers := img.Layers()
	diffIDs := make([]digest.Digest, len(layers))
	for i, l := range layers {
		diffIDs[i] = l.DiffID
	}
	n, commit, err := ostreeext.Layers(img.Labels(), diffIDs)
	if _, labelled := img.Labels()[ostreeext.LabelCommit]; err != nil && !labelled {
		return nil, ostree.Checksum{}, fmt.Errorf("%s: %w; use an OCK OSTree image such as container-registry.oracle.com/olcne/ock-ostree:1.31", img.Reference(), err)
	}
	if err != nil {
		return nil, ostree.Checksum{}, fmt.Errorf("%s: %w", img.Reference(), err)
	}
	return layers[:n], commit, nil
}
