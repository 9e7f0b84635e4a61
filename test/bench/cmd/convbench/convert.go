package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"

	"github.com/ocne-image/ocne-image/shared/builder"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/convert"
	"github.com/ocne-image/ocne-image/shared/ock"
)

// profileFlags are the profiling flags of the commands that run product
// code.
type profileFlags struct {
	cpu, mem string
}

func (p *profileFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&p.cpu, "cpuprofile", "", "write a CPU profile here")
	fl.StringVar(&p.mem, "memprofile", "", "write a heap profile here, taken when the live heap peaked")
}

// run runs f under the profiles asked for.
func (p *profileFlags) run(f func() error) (err error) {
	if p.cpu != "" {
		pf, err := os.Create(p.cpu)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			pf.Close()
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if cerr := pf.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("cpu profile: %w", cerr)
			}
		}()
	}
	if p.mem == "" {
		return f()
	}
	peak := watchHeap()
	if err := f(); err != nil {
		return err
	}
	if err := os.WriteFile(p.mem, peak(), 0o644); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}

// watchHeap samples the live heap every 20 ms and keeps a heap profile of
// the highest one: peak RSS is made at the peak, not at the end, where a
// profile sees what is left. The returned func stops the sampling and
// returns the profile.
func watchHeap() func() []byte {
	stop, done := make(chan struct{}), make(chan []byte)
	go func() {
		var best []byte
		var max uint64
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if live := sample[0].Value.Uint64(); live > max || best == nil {
				var b bytes.Buffer
				if pprof.WriteHeapProfile(&b) == nil {
					max, best = live, b.Bytes()
				}
			}
			select {
			case <-stop:
				done <- best
				return
			case <-t.C:
			}
		}
	}()
	return func() []byte {
		close(stop)
		return <-done
	}
}

func convertCmd(args []string) error {
	fl := flag.NewFlagSet("convert", flag.ExitOnError)
	src := fl.String("src", "", "image reference, e.g. oci:/dir:tag")
	out := fl.String("out", "", "archive repository to create (must not exist)")
	workers := fl.Int("workers", 0, "compression goroutines (default GOMAXPROCS)")
	var prof profileFlags
	prof.register(fl)
	fl.Parse(args)
	if *src == "" || *out == "" {
		return fmt.Errorf("-src and -out are required")
	}
	return prof.run(func() error {
		res, err := convert.ToArchive(context.Background(), *src, *out, convert.Options{
			Image:   containerimage.Options{Arch: runtime.GOARCH},
			Workers: *workers,
		})
		if err != nil {
			return err
		}
		fmt.Printf("commit=%s objects=%d\n", res.Commit, res.Objects)
		return nil
	})
}

// createCmd is `create --local` without the plugin around it: the same
// builder.Build call with the options runLocal (kubectl-ocne/cmd/create.go)
// gives it for the flags below and no config file.
func createCmd(args []string) error {
	fl := flag.NewFlagSet("create", flag.ExitOnError)
	registry := fl.String("os-registry", "", "as create's --os-registry, e.g. oci:/dir")
	tag := fl.String("os-tag", "", "as create's --os-tag")
	version := fl.String("version", ImageTag, "as create's --version (a minor version)")
	arch := fl.String("arch", runtime.GOARCH, "as create's --arch")
	output := fl.String("output", "", "as create's --output")
	var prof profileFlags
	prof.register(fl)
	fl.Parse(args)
	if *registry == "" || *output == "" {
		return fmt.Errorf("-os-registry and -output are required")
	}
	src, err := ock.SourceReference(*registry, *tag)
	if err != nil {
		return fmt.Errorf("-os-registry and -os-tag: %w", err)
	}
	return prof.run(func() error {
		bar := cli.NewProgressBar(os.Stderr, "pull+convert")
		res, err := builder.Build(context.Background(), builder.Options{
			Source: src, Arch: *arch, Version: *version, Output: *output,
			Image:    containerimage.Options{Arch: *arch, TLSVerify: true},
			Progress: bar,
			Warn:     os.Stderr,
			Log:      io.Discard,
		})
		bar.Done()
		if err != nil {
			return err
		}
		fmt.Printf("commit=%s objects=%d output=%s\n", res.Commit, res.Objects, res.Output)
		return nil
	})
}
