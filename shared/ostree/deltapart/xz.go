package deltapart

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"hash/crc32"
	"io"
)

// A part file is the compression byte 'x', then an .xz stream that does
// not compress: one block of LZMA2 "uncompressed" chunks
// (https://tukaani.org/xz/xz-file-format.txt). libostree reads an
// uncompressed part of over 16 KiB only through that door (see package
// staticdelta). It is the payload plus 3 bytes per 64 KiB and ~50 bytes of
// framing, costs no compression time and depends on the payload alone, so
// a part can be rebuilt from the loose objects byte for byte.

const (
	compressionXZ = 'x' // ostree.DeltaPartXZ
	xzCheckNone   = 0x00
	lzma2FilterID = 0x21
	chunkMax      = 64 << 10
	chunkReset    = 0x01 // uncompressed chunk, dictionary reset
	chunkNoReset  = 0x02 // uncompressed chunk
)

var (
	xzMagic   = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
	xzFlags   = []byte{0, xzCheckNone}
	errClosed = errors.New("delta part: write after Close")
)

// Writer writes a part file: Write the payload, then Close.
type Writer struct {
	w        io.Writer
	chunk    []byte
	first    bool
	blockLen int64 // block header and data so far
	size     int64 // payload bytes
	n        int64 // bytes written to w
	err      error
	closed   bool
}

// NewWriter starts a part file on w.
func NewWriter(w io.Writer) *Writer {
	pw := &Writer{w: w, chunk: make([]byte, 0, chunkMax), first: true}
	head := append([]byte{compressionXZ}, xzMagic...)
	head = append(head, xzFlags...)
	head = binary.LittleEndian.AppendUint32(head, crc32.ChecksumIEEE(xzFlags))
	// Block header: its size (in 4-byte units, less one), flags (one
	// filter, no sizes), the LZMA2 filter with the smallest dictionary
	// (stored chunks need none), padding, CRC32.
	bh := []byte{0, 0x00, lzma2FilterID, 1, 0}
	bh = append(bh, make([]byte, (4-(len(bh)+4)%4)%4)...)
	bh[0] = byte((len(bh)+4)/4 - 1)
	bh = binary.LittleEndian.AppendUint32(bh, crc32.ChecksumIEEE(bh))
	pw.blockLen = int64(len(bh))
	pw.write(append(head, bh...))
	return pw
}

func (pw *Writer) write(b []byte) {
	if pw.err != nil {
		return
	}
	n, err := pw.w.Write(b)
	pw.n += int64(n)
	pw.err = err
}

// Write adds payload bytes.
func (pw *Writer) Write(p []byte) (int, error) {
	if pw.closed {
		return 0, errClosed
	}
	n := len(p)
	for len(p) > 0 && pw.err == nil {
		k := min(chunkMax-len(pw.chunk), len(p))
		pw.chunk = append(pw.chunk, p[:k]...)
		p = p[k:]
		if len(pw.chunk) == chunkMax {
			pw.flushChunk()
		}
	}
	pw.size += int64(n)
	if pw.err != nil {
		return 0, pw.err
	}
	return n, nil
}

func (pw *Writer) flushChunk() {
	if len(pw.chunk) == 0 {
		return
	}
	ctl := byte(chunkNoReset)
	if pw.first {
		ctl = chunkReset
		pw.first = false
	}
	pw.write([]byte{ctl, byte((len(pw.chunk) - 1) >> 8), byte(len(pw.chunk) - 1)})
	pw.write(pw.chunk)
	pw.blockLen += 3 + int64(len(pw.chunk))
	pw.chunk = pw.chunk[:0]
}

// Close ends the part file (it does not close the writer under it) and
// returns its size.
func (pw *Writer) Close() (int64, error) {
	if pw.closed {
		return pw.n, pw.err
	}
	pw.closed = true
	pw.flushChunk()
	blockLen := pw.blockLen + 1 // the end of LZMA2 data
	tail := []byte{0}
	tail = append(tail, make([]byte, (4-blockLen%4)%4)...)
	// Index: one record (no check: the part's sha256 in the superblock
	// is the check), padding, CRC32; then the footer.
	index := []byte{0, 1}
	index = binary.AppendUvarint(index, uint64(blockLen))
	index = binary.AppendUvarint(index, uint64(pw.size))
	index = append(index, make([]byte, (4-len(index)%4)%4)...)
	index = binary.LittleEndian.AppendUint32(index, crc32.ChecksumIEEE(index))
	tail = append(tail, index...)
	back := append(binary.LittleEndian.AppendUint32(nil, uint32(len(index)/4-1)), xzFlags...)
	tail = binary.LittleEndian.AppendUint32(tail, crc32.ChecksumIEEE(back))
	tail = append(tail, back...)
	tail = append(tail, 'Y', 'Z')
	pw.write(tail)
	return pw.n, pw.err
}

// Hasher computes a part file's size and sha256 from its payload, as the
// payload is written, without keeping it.
type Hasher struct {
	sum hash.Hash
	pw  *Writer
}

// NewHasher starts a part file's hash.
func NewHasher() *Hasher {
	h := &Hasher{sum: sha256.New()}
	h.pw = NewWriter(h.sum)
	return h
}

// Write adds payload bytes; it never fails.
func (h *Hasher) Write(p []byte) (int, error) { return h.pw.Write(p) }

// Sum ends the part file and returns its size and sha256.
func (h *Hasher) Sum() (int64, [32]byte) {
	n, _ := h.pw.Close()
	return n, [32]byte(h.sum.Sum(nil))
}
