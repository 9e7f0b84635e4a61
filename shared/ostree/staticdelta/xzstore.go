package staticdelta

import (
	"encoding/binary"
	"hash/crc32"
	"io"
)

// This file writes data as an .xz stream that does not compress: one block
// of LZMA2 "uncompressed" chunks (https://tukaani.org/xz/xz-file-format.txt).
// libostree can only read an uncompressed part through that door (see the
// package documentation); the result is the data plus 3 bytes per 64 KiB
// and ~50 bytes of framing, costs no compression time, and is the same
// bytes every time, so it could be rebuilt from the objects on demand.

const (
	xzCheckNone    = 0x00
	lzma2FilterID  = 0x21
	lzma2ChunkMax  = 64 << 10
	lzma2DictReset = 0x01 // uncompressed chunk, dictionary reset
	lzma2NoReset   = 0x02 // uncompressed chunk
)

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

// writeXZStored writes data to w as a stored .xz stream.
func writeXZStored(w io.Writer, data []byte) error {
	flags := []byte{0, xzCheckNone}
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

	head := append(append([]byte(nil), xzMagic...), flags...)
	head = append(head, le32(crc32.ChecksumIEEE(flags))...)

	// Block header: size (in 4-byte units, less one), flags (one filter,
	// no sizes), the LZMA2 filter with the smallest dictionary (stored
	// chunks need none), padding, CRC32.
	bh := []byte{0, 0x00, lzma2FilterID, 1, 0}
	bh = append(bh, make([]byte, (4-(len(bh)+4)%4)%4)...)
	bh[0] = byte((len(bh)+4)/4 - 1)
	bh = append(bh, le32(crc32.ChecksumIEEE(bh))...)
	head = append(head, bh...)
	if _, err := w.Write(head); err != nil {
		return err
	}

	blockLen := int64(len(bh))
	for i := 0; i < len(data); i += lzma2ChunkMax {
		chunk := data[i:min(i+lzma2ChunkMax, len(data))]
		ctl := byte(lzma2NoReset)
		if i == 0 {
			ctl = lzma2DictReset
		}
		if _, err := w.Write([]byte{ctl, byte((len(chunk) - 1) >> 8), byte(len(chunk) - 1)}); err != nil {
			return err
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		blockLen += 3 + int64(len(chunk))
	}
	blockLen++ // end of LZMA2 data
	tail := []byte{0}
	tail = append(tail, make([]byte, (4-blockLen%4)%4)...)
	unpadded := blockLen // no check: the part's sha256 in the superblock is the check

	// Index: one record, padding, CRC32; then the footer.
	index := []byte{0, 1}
	index = binary.AppendUvarint(index, uint64(unpadded))
	index = binary.AppendUvarint(index, uint64(len(data)))
	index = append(index, make([]byte, (4-len(index)%4)%4)...)
	index = append(index, le32(crc32.ChecksumIEEE(index))...)
	tail = append(tail, index...)

	back := append(le32(uint32(len(index)/4-1)), flags...)
	tail = append(tail, le32(crc32.ChecksumIEEE(back))...)
	tail = append(tail, back...)
	tail = append(tail, 'Y', 'Z')
	_, err := w.Write(tail)
	return err
}
