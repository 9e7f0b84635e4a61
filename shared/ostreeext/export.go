package ostreeext

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"time"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostreeext/chunking"
	"github.com/ocne-image/ocne-image/shared/ostreeext/tarstream"
)

// ExportOptions shape an encapsulated image.
type ExportOptions struct {
	// V0 writes the pre-2022 "format 0" layout instead of format 1.
	V0 bool
	// Layers is how many layers to spread the commit over; <= 1 writes
	// one layer. The last layer always holds the commit and all metadata.
	Layers      int
	Compression ociarchive.Compression
	Xattrs      tarstream.XattrStyle
	// DotSlash writes every name as "./name", as tar writers that do not
	// strip the prefix do.
	DotSlash bool
	Arch     string            // image architecture, default this machine's
	Labels   map[string]string // extra config labels
	TempDir  string            // where layer files go
}

// Export encapsulates commit as an ostree-ext image. The returned Build's
// layer files live in opts.TempDir until its RemoveLayerFiles.
func Export(ctx context.Context, repo *archiverepo.Repo, commit ostree.Checksum, opts ExportOptions) (ociarchive.Build, error) {
	if opts.Compression == "" {
		opts.Compression = ociarchive.Gzip
	}
	if opts.Arch == "" {
		opts.Arch = runtime.GOARCH
	}
	if opts.V0 && opts.Layers > 1 {
		return ociarchive.Build{}, fmt.Errorf("ostree-ext format 0 images have a single layer")
	}
	plan, err := planExport(repo, commit, max(opts.Layers, 1))
	if err != nil {
		return ociarchive.Build{}, err
	}
	var b ociarchive.Build
	for i := range plan.bins {
		l, err := writeLayer(ctx, repo, plan, i, opts)
		if err != nil {
			b.RemoveLayerFiles()
			return ociarchive.Build{}, err
		}
		b.Layers = append(b.Layers, l)
	}
	b.Config = imageConfig(plan, b.Layers, opts)
	// ostree-ext repeats its labels as manifest annotations.
	b.Annotations = maps.Clone(b.Config.Config.Labels)
	return b, nil
}

type exportPlan struct {
	commitSum ostree.Checksum
	commit    *ostree.Commit
	dirs      []tarstream.Dir     // every directory, walk order
	bins      [][]chunking.Object // content per layer; the first is the commit layer
}

// planExport walks the commit for its directories and content objects and
// packs the objects into layers.
func planExport(repo *archiverepo.Repo, commit ostree.Checksum, layers int) (*exportPlan, error) {
	p := &exportPlan{commitSum: commit}
	index := map[ostree.Checksum]int{}
	var objects []chunking.Object
	lastMeta := ostree.Checksum{}
	c, err := archiverepo.Walk(repo, commit, func(fp string, t ostree.ObjectType, sum ostree.Checksum) error {
		switch t {
		case ostree.ObjDirMeta:
			lastMeta = sum
		case ostree.ObjDirTree:
			p.dirs = append(p.dirs, tarstream.Dir{Path: fp, Tree: sum, Meta: lastMeta})
		case ostree.ObjFileZ:
			i, ok := index[sum]
			if !ok {
				obj, err := repo.OpenContent(sum)
				if err != nil {
					return fmt.Errorf("%s: %w", fp, err)
				}
				obj.Close()
				i = len(objects)
				index[sum] = i
				objects = append(objects, chunking.Object{Sum: sum, Size: obj.Size})
			}
			objects[i].Paths = append(objects[i].Paths, fp)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export commit %s: %w", commit, err)
	}
	p.commit = c
	p.bins = chunking.Pack(objects, layers)
	return p, nil
}

// writeLayer writes layer idx of the plan into a layer file; the first
// is the commit layer.
func writeLayer(ctx context.Context, repo *archiverepo.Repo, plan *exportPlan, idx int, opts ExportOptions) (l ociarchive.BlobLayer, err error) {
	lf, err := ociarchive.NewLayerFile(opts.TempDir, opts.Compression)
	if err != nil {
		return l, err
	}
	defer func() {
		if err != nil {
			lf.Remove()
		}
	}()
	w := tarstream.NewWriter(lf, repo, tarstream.WriterOptions{
		V0: opts.V0, Xattrs: opts.Xattrs, DotSlash: opts.DotSlash,
		MTime: time.Unix(int64(plan.commit.Timestamp), 0),
	})
	commitLayer := idx == 0
	if commitLayer {
		err = w.CommitLayer(plan.commitSum, plan.commit, plan.dirs)
	} else {
		err = w.ChunkLayer()
	}
	if err != nil {
		return l, fmt.Errorf("export layer %d: %w", idx+1, err)
	}
	for _, f := range plan.bins[idx] {
		if err := ctx.Err(); err != nil {
			return l, err
		}
		if err := w.Content(f.Sum, f.Paths); err != nil {
			return l, fmt.Errorf("export layer %d: content object %s: %w", idx+1, f.Sum, err)
		}
	}
	if err := w.Close(); err != nil {
		return l, fmt.Errorf("export layer %d: %w", idx+1, err)
	}
	l, err = lf.Finish()
	if err != nil {
		return l, err
	}
	if !commitLayer {
		l.Annotations = map[string]string{AnnotationComponents: chunking.Components(plan.bins[idx])}
	}
	return l, nil
}
