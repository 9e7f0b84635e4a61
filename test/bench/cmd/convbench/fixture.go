package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocne-image/ocne-image/shared/convert"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/test/fixture"
)

func fixtureCmd(args []string) error {
	fl := flag.NewFlagSet("fixture", flag.ExitOnError)
	dir := fl.String("dir", "", "output directory (must not exist)")
	extra := fl.Int("extra", 8000, "fixture ExtraFiles (0..64 KiB each, ~32 KiB on average)")
	small := fl.Int("small", 12000, "additional small files (0..4 KiB), like configs and scripts")
	big := fl.Int64("big", 16<<20, "fixture BigFileSize in bytes")
	layers := fl.Int("layers", 8, "ostree-ext layers (chunks)")
	fl.Parse(args)
	if *dir == "" {
		return fmt.Errorf("-dir is required")
	}
	if _, err := os.Lstat(*dir); err == nil {
		return fmt.Errorf("%s already exists", *dir)
	}
	ctx := context.Background()
	step := func(what string, f func() error) error {
		t := time.Now()
		fmt.Fprintf(os.Stderr, "  fixture: %s ... ", what)
		err := f()
		fmt.Fprintf(os.Stderr, "%.1fs\n", time.Since(t).Seconds())
		return err
	}

	tree := filepath.Join(*dir, "tree")
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	if err := step("write tree", func() error {
		if err := fixture.WriteTree(tree, fixture.TreeOptions{ExtraFiles: *extra, BigFileSize: *big}); err != nil {
			return err
		}
		return writeSmallFiles(tree, *small)
	}); err != nil {
		return err
	}
	files, bytes, err := treeStats(tree)
	if err != nil {
		return err
	}
	var commit string
	for _, mode := range []string{"bare-user", "archive"} {
		repo := filepath.Join(*dir, strings.ReplaceAll(mode, "-", ""))
		if err := step("ostree commit ("+mode+")", func() error {
			c, err := fixture.Commit(ctx, repo, mode, tree, convert.DefaultRef)
			if commit != "" && c != commit {
				return fmt.Errorf("%s commit %s differs from %s", mode, c, commit)
			}
			commit = c
			return err
		}); err != nil {
			return err
		}
	}
	for _, comp := range []ociarchive.Compression{ociarchive.Gzip, ociarchive.Uncompressed} {
		layout := filepath.Join(*dir, "oci-"+string(comp))
		if err := step("encapsulate ("+string(comp)+", "+fmt.Sprint(*layers)+" layers)", func() error {
			tmp := filepath.Join(*dir, "layers-tmp")
			if err := os.MkdirAll(tmp, 0o755); err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			b, err := fixture.Encapsulate(ctx, filepath.Join(*dir, "archive"), commit, ostreeext.ExportOptions{
				Compression: comp, Layers: *layers, TempDir: tmp,
				Labels: map[string]string{"version": fixture.CommitVersion},
			})
			if err != nil {
				return err
			}
			defer b.RemoveLayerFiles()
			return fixture.WriteImage(ctx, "oci:"+layout+":"+ImageTag, b)
		}); err != nil {
			return err
		}
	}
	stats := fmt.Sprintf("files=%d\nbytes=%d\ncommit=%s\nlayers=%d\n", files, bytes, commit, *layers)
	fmt.Print(stats)
	return os.WriteFile(filepath.Join(*dir, "stats"), []byte(stats), 0o644)
}

// writeSmallFiles adds n files of 0..4 KiB below usr/share/bench-small, 32
// per directory. As in the fixture's payload, each is either PCG noise or
// repeated text, chosen by a seed derived from the index, so the tree is
// deterministic and about half compressible.
func writeSmallFiles(root string, n int) error {
	buf := make([]byte, 4<<10)
	for i := range n {
		d := filepath.Join(root, "usr", "share", "bench-small", fmt.Sprintf("d%04d", i/32))
		if i%32 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(d, 0o755); err != nil {
				return err
			}
		}
		rng := rand.New(rand.NewPCG(uint64(i), 0xbe4c))
		b := buf[:rng.IntN(len(buf)+1)]
		if rng.IntN(2) == 0 {
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		} else {
			line := fmt.Sprintf("option-%d = value %d # bench small file\n", i, rng.IntN(1000))
			for j := 0; j < len(b); j += len(line) {
				copy(b[j:], line)
			}
		}
		p := filepath.Join(d, fmt.Sprintf("s%06d.conf", i))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func treeStats(root string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			files++
			bytes += info.Size()
		}
		return nil
	})
	return files, bytes, err
}
