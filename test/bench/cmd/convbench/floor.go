package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// floorCmd measures the floor of a conversion: the work none can avoid,
// with nothing else (no object files, no repository, no output image).
// Per layer: sha256 of the blob (its digest), gunzip, sha256 of the
// uncompressed stream (its diff_id). Per file of the layer: sha256 of its
// content (the object checksum) and, for content objects (.file), flate at
// level 6 (the archive's .filez). The layers are read by up to -workers
// goroutines at once and the files hashed and deflated by -workers more,
// so all CPUs stay busy even when one layer is much larger than the rest.
//
// With -create, also the work create adds: a second sha256 of each content
// object (its static delta part's checksum) and a sha256 of the deflated
// objects (the archive layer's digest). The floor hashes each object's
// output in its worker; create hashes the layer in one stream, so this
// floor is a little below what any implementation could reach.
func floorCmd(args []string) error {
	fl := flag.NewFlagSet("floor", flag.ExitOnError)
	dir := fl.String("layout", "", "OCI layout with the gzip-layered image")
	workers := fl.Int("workers", runtime.GOMAXPROCS(0), "goroutines per stage")
	create := fl.Bool("create", false, "add create's work: the delta parts' and the archive layer's sha256")
	fl.Parse(args)
	if *dir == "" {
		return fmt.Errorf("-layout is required")
	}
	if *workers < 1 {
		return fmt.Errorf("-workers must be at least 1")
	}
	img, err := readLayout(*dir)
	if err != nil {
		return err
	}
	st, err := floor(context.Background(), img, *workers, *create)
	if err != nil {
		return err
	}
	fmt.Printf("layers=%d files=%d content=%d deflated=%d\n", len(img.manifest.Layers), st.files.Load(), st.content.Load(), st.deflated.Load())
	return nil
}

type floorStats struct {
	files, content, deflated atomic.Int64
}

// fileJob is one file's content, in a buffer from the pool.
type fileJob struct {
	buf     *[]byte
	deflate bool
}

func floor(ctx context.Context, img *ociImage, workers int, create bool) (*floorStats, error) {
	st := &floorStats{}
	pool := sync.Pool{New: func() any { return new([]byte) }}
	jobs := make(chan fileJob, workers)
	g, ctx := errgroup.WithContext(ctx)

	for range workers {
		g.Go(func() error {
			fw, err := flate.NewWriter(nil, 6)
			if err != nil {
				return err
			}
			var out countingWriter
			h, part, layer := sha256.New(), sha256.New(), sha256.New()
			var sum [sha256.Size]byte
			var dst io.Writer = &out
			if create {
				dst = io.MultiWriter(&out, layer)
			}
			for j := range jobs {
				b := *j.buf
				h.Reset()
				h.Write(b)
				h.Sum(sum[:0])
				if j.deflate && create {
					part.Write(b)
				}
				if j.deflate {
					out = 0
					fw.Reset(dst)
					if _, err := fw.Write(b); err != nil {
						return err
					}
					if err := fw.Close(); err != nil {
						return err
					}
					st.deflated.Add(int64(out))
				}
				st.files.Add(1)
				st.content.Add(int64(len(b)))
				pool.Put(j.buf)
			}
			return nil
		})
	}

	layers := make(chan int)
	var readers sync.WaitGroup
	for range min(workers, len(img.manifest.Layers)) {
		readers.Add(1)
		g.Go(func() error {
			defer readers.Done()
			for i := range layers {
				if err := floorLayer(ctx, img, i, jobs, &pool); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer func() {
			close(layers)
			readers.Wait()
			close(jobs)
		}()
		for i := range img.manifest.Layers {
			select {
			case layers <- i:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	return st, g.Wait()
}

// floorLayer reads layer i, checks its digest and diff_id and hands each
// regular file to the workers.
func floorLayer(ctx context.Context, img *ociImage, i int, jobs chan<- fileJob, pool *sync.Pool) error {
	desc := img.manifest.Layers[i]
	if desc.MediaType != imgspecv1.MediaTypeImageLayerGzip {
		return fmt.Errorf("layer %s is %s, want gzip layers", desc.Digest, desc.MediaType)
	}
	f, err := os.Open(img.blobPath(desc.Digest))
	if err != nil {
		return err
	}
	defer f.Close()
	blobSum := digest.SHA256.Digester()
	blob := io.TeeReader(f, blobSum.Hash())
	zr, err := gzip.NewReader(blob)
	if err != nil {
		return fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	defer zr.Close()
	diffSum := digest.SHA256.Digester()
	diff := io.TeeReader(zr, diffSum.Hash())
	tr := tar.NewReader(diff)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("layer %s: %w", desc.Digest, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		buf := pool.Get().(*[]byte)
		if int64(cap(*buf)) < h.Size {
			*buf = make([]byte, h.Size)
		}
		*buf = (*buf)[:h.Size]
		if _, err := io.ReadFull(tr, *buf); err != nil {
			return fmt.Errorf("layer %s: %s: %w", desc.Digest, h.Name, err)
		}
		select {
		case jobs <- fileJob{buf: buf, deflate: strings.HasSuffix(h.Name, ".file")}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The tar reader stops at the end-of-archive blocks; the digests
	// cover the whole stream.
	if _, err := io.Copy(io.Discard, diff); err != nil {
		return fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	if _, err := io.Copy(io.Discard, blob); err != nil {
		return fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	if got := blobSum.Digest(); got != desc.Digest {
		return fmt.Errorf("layer %s: blob digest is %s", desc.Digest, got)
	}
	if got, want := diffSum.Digest(), img.config.RootFS.DiffIDs[i]; got != want {
		return fmt.Errorf("layer %s: diff_id is %s, want %s", desc.Digest, got, want)
	}
	return nil
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
