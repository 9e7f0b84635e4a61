package ostree

import (
	"bytes"
	"reflect"
	"testing"
)

// TestDeltaPaths checks the modified-base64 paths against the ones the
// real `ostree pull` (2022.7) requested for these commits.
func TestDeltaPaths(t *testing.T) {
	tests := []struct {
		commit, dir, index string
	}{
		{"6170853ab2449d3a8c55731cbc8ff8093f409d20efe0f94f41906986681f4503",
			"deltas/YX/CFOrJEnTqMVXMcvI_4CT9AnSDv4PlPQZBphmgfRQM",
			"delta-indexes/YX/CFOrJEnTqMVXMcvI_4CT9AnSDv4PlPQZBphmgfRQM.index"},
		// A checksum whose base64 has a '/', which libostree writes as '_'.
		{"ffff" + "000000000000000000000000000000000000000000000000000000000000",
			"deltas/__/8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			"delta-indexes/__/8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.index"},
	}
	for _, tt := range tests {
		c := mustParse(t, tt.commit)
		if got := ScratchDeltaDir(c); got != tt.dir {
			t.Errorf("ScratchDeltaDir(%s) = %s, want %s", c, got, tt.dir)
		}
		if got := DeltaIndexPath(c); got != tt.index {
			t.Errorf("DeltaIndexPath(%s) = %s, want %s", c, got, tt.index)
		}
		if got := ScratchDeltaPartPath(c, 12); got != tt.dir+"/12" {
			t.Errorf("ScratchDeltaPartPath = %s", got)
		}
	}
}

func TestDeltaRoundTrips(t *testing.T) {
	commit := (&Commit{Subject: "s", Timestamp: 1700000000, RootTree: SumBytes([]byte("t")), RootMeta: SumBytes([]byte("m"))}).Marshal()
	objs := []DeltaObject{{ObjDirMeta, SumBytes([]byte("m"))}, {ObjFile, SumBytes([]byte("f"))}, {ObjDirTree, SumBytes([]byte("t"))}}
	// Large enough that the part list needs 4-byte framing offsets.
	many := make([]DeltaObject, 3000)
	for i := range many {
		many[i] = DeltaObject{ObjFile, SumBytes([]byte{byte(i), byte(i >> 8)})}
	}
	superblocks := map[string]*DeltaSuperblock{
		"one part": {
			Metadata: Metadata{{Key: MetaDeltaEndianness, Value: ByteVariant('l')}}, Timestamp: 1700000000,
			To: SumBytes(commit), Commit: commit,
			Parts: []DeltaPartHeader{{Checksum: SumBytes([]byte("p")), Size: 1234, USize: 5678, Objects: objs}},
		},
		"parts and fallbacks": {
			Metadata: Metadata{{Key: MetaDeltaEndianness, Value: ByteVariant('l')}}, Timestamp: 1, To: SumBytes(commit), Commit: commit,
			Parts: []DeltaPartHeader{
				{Checksum: SumBytes([]byte("p0")), Size: 1 << 33, USize: 1 << 34, Objects: many},
				{Checksum: SumBytes([]byte("p1")), Size: 10, USize: 20, Objects: objs[:1]},
			},
			Fallbacks: []DeltaFallback{{Object: DeltaObject{ObjFile, SumBytes([]byte("big"))}, Size: 1 << 40, USize: 1<<40 + 1}},
		},
	}
	for name, s := range superblocks {
		t.Run(name, func(t *testing.T) {
			got, err := ParseDeltaSuperblock(s.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Errorf("decoded superblock differs:\n got %.400v\nwant %.400v", got, s)
			}
		})
	}

	x := Xattrs{{Name: "security.selinux", Value: []byte("system_u:object_r:bin_t:s0\x00")}}
	parts := map[string]*DeltaPart{
		"modes and xattrs": {
			Modes:   []DeltaMode{{0, 0, ModeRegular | 0o644}, {1000, 10, ModeSymlink | 0o777}},
			Xattrs:  []Xattrs{nil, x},
			Payload: []byte("hello\nworld"), Ops: []byte{'S', 0, 1, 6, 0},
		},
		"big payload": {Modes: []DeltaMode{{0, 0, ModeRegular | 0o755}}, Xattrs: []Xattrs{nil}, Payload: bytes.Repeat([]byte{7}, 70000), Ops: []byte{'S', 0, 0}},
	}
	for name, p := range parts {
		t.Run(name, func(t *testing.T) {
			got, err := ParseDeltaPart(p.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Xattrs) != len(p.Xattrs) {
				t.Fatalf("xattrs: got %d sets, want %d", len(got.Xattrs), len(p.Xattrs))
			}
			for i := range p.Xattrs {
				if !bytes.Equal(got.Xattrs[i].Marshal(), p.Xattrs[i].Marshal()) {
					t.Errorf("xattr set %d differs", i)
				}
			}
			got.Xattrs, p.Xattrs = nil, nil
			if !reflect.DeepEqual(got, p) {
				t.Errorf("decoded part differs:\n got %.300v\nwant %.300v", got, p)
			}
		})
	}
}
