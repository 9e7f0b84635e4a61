package chunking_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostreeext/chunking"
)

// objects makes n objects of varied sizes (some equal) under a few
// top-level directories, in a "walk order".
func objects(n int) []chunking.Object {
	var out []chunking.Object
	for i := range n {
		sum := ostree.SumBytes([]byte(fmt.Sprint(i)))
		dir := []string{"usr/bin", "usr/lib/modules", "usr/share/doc", "usr/etc"}[i%4]
		out = append(out, chunking.Object{Sum: sum, Size: int64((i * 7919) % 1000), Paths: []string{fmt.Sprintf("/%s/f%d", dir, i)}})
	}
	return out
}

// TestPack: every object lands in exactly one layer; layers are balanced
// to within the largest object; each is in checksum order; and planning
// again, or re-planning what was planned, gives the same layers.
func TestPack(t *testing.T) {
	for _, tc := range []struct{ objects, layers int }{
		{0, 1}, {1, 1}, {50, 1}, {1, 4}, {3, 8}, {50, 4}, {200, 16}, {50, 0},
	} {
		t.Run(fmt.Sprintf("%d objects in %d layers", tc.objects, tc.layers), func(t *testing.T) {
			in := objects(tc.objects)
			plan := chunking.Pack(in, tc.layers)
			if want := max(tc.layers, 1); len(plan) != want {
				t.Fatalf("%d layers, want %d", len(plan), want)
			}
			seen := map[ostree.Checksum]int{}
			var largest, lo, hi int64
			for i, l := range plan {
				var size int64
				for j, o := range l {
					seen[o.Sum]++
					size += o.Size
					largest = max(largest, o.Size)
					if len(plan) > 1 && j > 0 && string(l[j-1].Sum[:]) > string(o.Sum[:]) {
						t.Errorf("layer %d is not in checksum order", i)
					}
				}
				if i == 0 || size < lo {
					lo = size
				}
				hi = max(hi, size)
			}
			for _, o := range in {
				if seen[o.Sum] != 1 {
					t.Errorf("object %s is in %d layers", o.Sum, seen[o.Sum])
				}
			}
			if len(seen) != len(in) {
				t.Errorf("%d objects planned, want %d", len(seen), len(in))
			}
			if hi-lo > largest {
				t.Errorf("layers hold %d to %d bytes: more apart than the largest object (%d)", lo, hi, largest)
			}
			if again := chunking.Pack(in, tc.layers); !reflect.DeepEqual(again, plan) {
				t.Error("planning again gave other layers")
			}
			if len(plan) == 1 && !reflect.DeepEqual(plan[0], append([]chunking.Object(nil), in...)) && len(in) > 0 {
				t.Error("one layer: the walk order is not kept")
			}
			for i, l := range plan {
				if len(plan) > 1 && len(l) > 0 && !reflect.DeepEqual(chunking.Pack(l, 1)[0], l) {
					t.Errorf("layer %d: re-planning it alone changes it", i)
				}
			}
		})
	}
}

func TestComponents(t *testing.T) {
	obj := func(p ...string) chunking.Object { return chunking.Object{Paths: p} }
	for _, tc := range []struct {
		layer []chunking.Object
		want  string
	}{
		{nil, ""},
		{[]chunking.Object{obj("/usr/bin/bash"), obj("/usr/bin/sh", "/usr/lib/x"), obj("/usr/lib/modules/6.1/vmlinuz")}, "usr/bin,usr/lib"},
		{[]chunking.Object{obj("/top"), obj("/usr/etc/passwd")}, "top,usr/etc"},
	} {
		if got := chunking.Components(tc.layer); got != tc.want {
			t.Errorf("Components = %q, want %q", got, tc.want)
		}
	}
	var many []chunking.Object
	for i := range 40 {
		many = append(many, obj(fmt.Sprintf("/usr/d%02d/f", i)))
	}
	if got := chunking.Components(many); len(got) == 0 || len(strings.Split(got, ",")) != 32 {
		t.Errorf("40 components: %q, want the first 32", got)
	}
}
