package builder

import (
	"os"
	"runtime/debug"
)

// MemoryLimit is the Go runtime's soft memory limit during a build. A
// build's live heap is 20-30 MB (the objects in flight, one delta part, the
// decompressor, and a few hundred bytes per object of the tree), but with
// the default GOGC the heap grows to twice that before a collection: most
// of a build's peak RSS, and the part of it that grows with the tree. A
// limit holds the heap near it at no measurable cost (make bench: the 2x
// tree's peak RSS 125 -> 113 MB, wall time unchanged), and only makes the
// collector work harder, within the runtime's own cap on its CPU, for a
// tree whose live heap comes near it.
const MemoryLimit = 64 << 20

// LimitMemory sets the process's soft memory limit to MemoryLimit, unless
// the user chose one with GOMEMLIMIT, and returns the func that puts the
// previous limit back. Commands call it around Build: the limit is
// process-wide, so it is theirs to set, not Build's.
func LimitMemory() (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(MemoryLimit)
	return func() { debug.SetMemoryLimit(prev) }
}
