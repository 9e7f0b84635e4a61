package convert

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
)

// MetaManifestDigest is the commit metadata key naming the image a merged
// commit was made from; ostree-ext's container store writes the same key.
const MetaManifestDigest = "ostree.manifest-digest"

// merge lays the derived layers over the base commit and commits the
// result, bound to the ref it will be served as: the one asked for, else
// the base commit's only binding, else DefaultRef. It returns the new
// commit and how many objects it wrote.
func merge(ctx context.Context, img *containerimage.Image, store Store, base ostree.Checksum, bc *ostree.Commit, derived []containerimage.Layer, opts *Options) (ostree.Checksum, *ostree.Commit, int, error) {
	fail := func(err error) (ostree.Checksum, *ostree.Commit, int, error) { return ostree.Checksum{}, nil, 0, err }
	m, err := ostreeext.NewMerger(store, base)
	if err != nil {
		return fail(err)
	}
	for _, l := range derived {
		if err := applyLayer(ctx, img, m, l, opts.Progress); err != nil {
			return fail(err)
		}
	}
	if f := m.Filtered(); len(f) > 0 {
		fmt.Fprintf(opts.Log, "warning: %s: the derived layers' files outside /usr and /etc are not part of an OSTree commit and were left out, as ostree-ext leaves them out: %s\n", img.Reference(), describeFiltered(f))
	}
	if opts.Ref == "" {
		opts.Ref = DefaultRef
		if bound, _ := bc.RefBindings(); len(bound) == 1 {
			opts.Ref = bound[0]
		}
	}
	digest, err := img.ManifestDigest(ctx)
	if err != nil {
		return fail(err)
	}
	md := ostree.Metadata{{Key: MetaManifestDigest, Value: ostree.StringVariant(digest.String())}}
	if v, ok := bc.Metadata.Get(ostreeext.LabelVersion); ok {
		md = append(md, ostree.MetaEntry{Key: ostreeext.LabelVersion, Value: v})
	}
	created := img.Created()
	if created.IsZero() {
		created = time.Unix(int64(bc.Timestamp), 0)
	}
	sum, c, err := m.Commit(ostreeext.MergedCommit{
		Ref:       opts.Ref,
		Subject:   fmt.Sprintf("%s with %d derived layer(s) of %s", base, len(derived), img.Reference()),
		Timestamp: created,
		Metadata:  md,
	})
	if err != nil {
		return fail(fmt.Errorf("commit the merged tree: %w", err))
	}
	fmt.Fprintf(opts.Log, "note: %s: %d derived layer(s) merged into commit %s (parent %s), served as ref %q\n", img.Reference(), len(derived), sum, base, opts.Ref)
	return sum, c, m.Objects(), nil
}

func applyLayer(ctx context.Context, img *containerimage.Image, m *ostreeext.Merger, l containerimage.Layer, p Progress) error {
	err := readLayer(ctx, img, l, p, func(r io.Reader) error { return m.ApplyLayer(ctx, r) })
	if err != nil {
		return fmt.Errorf("derived layer %d (%s): %w", l.Index+1, l.Digest, err)
	}
	return nil
}

func describeFiltered(f map[string]int) string {
	var parts []string
	for _, dir := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, fmt.Sprintf("/%s (%d)", dir, f[dir]))
	}
	return strings.Join(parts, ", ")
}
