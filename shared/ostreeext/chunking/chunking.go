// Package chunking decides how an exported commit's content objects are
// packed into image layers: balanced by size so registries serve the
// layers in parallel, each in checksum order as ostree-ext writes its
// chunks, and named by the components (top directories) they hold. It
// plans only: shared/ostreeext/tarstream writes the layers.
package chunking

import (
	"bytes"
	"sort"
	"strings"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

// Object is a content object and every path of the commit that uses it.
type Object struct {
	Sum   ostree.Checksum
	Size  int64
	Paths []string
}

// Pack spreads objects over n layers (at least one); the first is the
// commit layer. One layer keeps the objects in the order given (the
// commit's walk order). Otherwise the largest objects are placed first
// (equal sizes in the order given), each in the layer holding the fewest
// bytes so far, and each layer is then sorted by checksum. It depends on
// nothing but its input: the same commit plans to the same layers.
func Pack(objects []Object, n int) [][]Object {
	n = max(n, 1)
	layers := make([][]Object, n)
	if n == 1 {
		layers[0] = append([]Object(nil), objects...)
		return layers
	}
	bySize := append([]Object(nil), objects...)
	sort.SliceStable(bySize, func(i, j int) bool { return bySize[i].Size > bySize[j].Size })
	sizes := make([]int64, n)
	for _, o := range bySize {
		smallest := 0
		for i := range sizes {
			if sizes[i] < sizes[smallest] {
				smallest = i
			}
		}
		layers[smallest] = append(layers[smallest], o)
		sizes[smallest] += o.Size
	}
	for _, l := range layers {
		sort.Slice(l, func(i, j int) bool { return bytes.Compare(l[i].Sum[:], l[j].Sum[:]) < 0 })
	}
	return layers
}

// maxComponents bounds the ostree.components annotation, as ostree-ext's.
const maxComponents = 32

// Components names what a layer holds, for its ostree.components
// annotation: the first two levels of each object's first path (one for a
// top-level file), sorted, at most 32.
func Components(layer []Object) string {
	seen := map[string]bool{}
	var out []string
	for _, o := range layer {
		if len(o.Paths) == 0 {
			continue
		}
		parts := strings.SplitN(strings.TrimPrefix(o.Paths[0], "/"), "/", 3)
		c := parts[0]
		if len(parts) > 2 {
			c = parts[0] + "/" + parts[1]
		}
		if !seen[c] && len(out) < maxComponents {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
