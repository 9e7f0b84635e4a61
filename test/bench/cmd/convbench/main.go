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
//	convbench create -os-registry R -os-tag T -version V -output FILE [-cpuprofile F] [-memprofile F]
//	    runs builder.Build in-process with the options `create --local`
//	    passes, so the whole job can be profiled without hooks in the
//	    plugin.
//
//	convbench objsize -archive FILE
//	    reads the archive server image FILE (an OCI archive) and prints the
//	    number and summed size of the OSTree objects in its repository
//	    layer, and the size of FILE.
//
//	convbench layers -layout DIR
//	    prints the paths of the layer blobs of the one image in the OCI
//	    layout DIR, one a line, for the shell's floor measurements.
//
//	convbench floor -layout DIR [-workers N]
//	    does the work no conversion of the image in DIR (gzip layers) can
//	    avoid, with our compression library on all CPUs: see floorCmd.
//
//	convbench catimage -busybox BIN -file F -dest REF
//	    writes an image FROM scratch holding a static busybox and F as
//	    /data/F, for the `kubectl exec cat` peer of the transfer benchmark
//	    (test/bench/cluster.sh).
package main

import (
	"fmt"
	"os"

	"github.com/ocne-image/ocne-image/test/fixture"
)

// ImageTag is the tag of the benchmark images in their OCI layouts.
const ImageTag = fixture.CommitVersion

var commands = map[string]func(args []string) error{
	"fixture":  fixtureCmd,
	"convert":  convertCmd,
	"create":   createCmd,
	"objsize":  objSizeCmd,
	"layers":   layersCmd,
	"floor":    floorCmd,
	"catimage": catImageCmd,
}

func main() {
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: convbench fixture|convert|create|objsize|layers|floor|catimage [flags]; convbench COMMAND -h for its flags")
		os.Exit(2)
	}
	if err := commands[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "convbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
