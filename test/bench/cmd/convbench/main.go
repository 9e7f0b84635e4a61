// Command convbench is the Go half of `make bench` (test/bench/bench.sh).
//
//	convbench fixture -dir D [-extra N] [-small N] [-big BYTES] [-layers N]
//	    writes D/tree (fixture.WriteTree plus small files), commits it with
//	    the real `ostree commit` into D/bareuser (bare-user) and D/archive
//	    (archive), and encapsulates it as ostree-ext images in the OCI
//	    layouts D/oci-gzip and D/oci-none (tag ImageTag). D/stats gets the
//	    tree's size and file count. D must not exist.
//
//	convbench convert -src REF -out DIR [-workers N] [-cpuprofile F] [-memprofile F]
//	    runs convert.ToArchive alone, so that the wall time and peak RSS of
//	    this process are those of our converter.
//
//	convbench catimage -busybox BIN -file F -dest REF
//	    writes an image FROM scratch holding a static busybox and F as
//	    /data/F, for the `kubectl exec cat` peer of the transfer benchmark
//	    (test/bench/cluster.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/convert"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/test/fixture"
)

// ImageTag is the tag of the benchmark images in their OCI layouts.
const ImageTag = fixture.CommitVersion

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "fixture":
		err = fixtureCmd(os.Args[2:])
	case "convert":
		err = convertCmd(os.Args[2:])
	case "catimage":
		err = catImageCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "convbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: convbench fixture -dir D [-extra N] [-small N] [-big BYTES] [-layers N]\n       convbench convert -src REF -out DIR [-workers N] [-cpuprofile F] [-memprofile F]\n       convbench catimage -busybox BIN -file F -dest REF")
	os.Exit(2)
}

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
	for _, comp := range []containerimage.Compression{containerimage.Gzip, containerimage.Uncompressed} {
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

func convertCmd(args []string) error {
	fl := flag.NewFlagSet("convert", flag.ExitOnError)
	src := fl.String("src", "", "image reference, e.g. oci:/dir:tag")
	out := fl.String("out", "", "archive repository to create (must not exist)")
	workers := fl.Int("workers", 0, "compression goroutines (default GOMAXPROCS)")
	cpuprofile := fl.String("cpuprofile", "", "write a CPU profile here")
	memprofile := fl.String("memprofile", "", "write a heap profile here at the end")
	fl.Parse(args)
	if *src == "" || *out == "" {
		return fmt.Errorf("-src and -out are required")
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	res, err := convert.ToArchive(context.Background(), *src, *out, convert.Options{
		Image:   containerimage.Options{Arch: runtime.GOARCH},
		Workers: *workers,
	})
	if err != nil {
		return err
	}
	if *memprofile != "" {
		f, err := os.Create(*memprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			return err
		}
	}
	fmt.Printf("commit=%s objects=%d\n", res.Commit, res.Objects)
	return nil
}

func catImageCmd(args []string) error {
	fl := flag.NewFlagSet("catimage", flag.ExitOnError)
	busybox := fl.String("busybox", "/bin/busybox", "a static busybox")
	file := fl.String("file", "", "the file to put in /data")
	dest := fl.String("dest", "", "where to write the image")
	fl.Parse(args)
	ref, err := containerimage.ParseReference(*dest)
	if err != nil {
		return err
	}
	created := time.Now().UTC().Truncate(time.Second)
	// Uncompressed: the pull is not what is measured.
	tl, err := containerimage.NewTarLayer(os.TempDir(), containerimage.Uncompressed, created)
	if err != nil {
		return err
	}
	defer tl.Remove()
	if err := tl.CopyFile("/bin/busybox", *busybox, 0o755); err != nil {
		return err
	}
	if err := tl.CopyFile("/data/"+filepath.Base(*file), *file, 0o644); err != nil {
		return err
	}
	l, err := tl.Finish()
	if err != nil {
		return err
	}
	b := containerimage.Build{Layers: []containerimage.BlobLayer{l}, Config: imgspecv1.Image{
		Created:  &created,
		Platform: imgspecv1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config:   imgspecv1.ImageConfig{Entrypoint: []string{"/bin/busybox"}},
	}}
	d, err := containerimage.Write(context.Background(), ref, []containerimage.Build{b}, containerimage.Options{})
	if err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}
