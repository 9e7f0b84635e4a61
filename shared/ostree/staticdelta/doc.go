// Package staticdelta writes from-scratch OSTree static deltas and the
// summary that lets a client find them, so that a node pulls a commit in a
// few large requests instead of one request per object (~25k for an OCK
// tree). The encodings are in package ostree (delta.go); this package
// decides what goes where. Everything here was read in libostree's sources
// (ostree-repo-static-delta-*.c, ostree-repo-pull.c, ostree-repo.c) and
// checked against the 2022.7 client.
//
// # Layout
//
// A from-scratch delta to commit C lives under deltas/AB/CDEF..., where
// ABCDEF... is C in libostree's modified base64 (no padding, '_' for '/'):
//
//	superblock  metadata a{sv}, timestamp, from (empty), to, the commit
//	            object itself, part headers (sha256, size, usize and the
//	            objects each part writes), fallbacks (objects to fetch loose)
//	0, 1, ...   parts: a compression byte, then (a(uuu)aa(ayay)ayay) modes,
//	            xattr sets, raw data and operations; each object is one
//	            open-splice-and-close operation
//
// plus delta-indexes/AB/CDEF....index (the deltas to C), and "summary"
// listing the refs and, under ostree.static-deltas, each delta's name and
// the sha256 of its superblock.
//
// # Two writers
//
// Writer writes real part files (FromRepo: a delta in a repository on
// disk, for any web server). Planner is what create uses: it plans the
// delta in the same pass as the conversion, hashes each part as
// libostree will read it, and writes the superblock, the summary and a
// recipe per part (package deltapart) under the repository's
// deltapart.Dir, from which the archive server rebuilds the parts on
// request. Its content parts follow the objects' arrival, not the tree,
// so it does nothing for the 2022.7 walk below; its metadata parts come
// first.
//
// # How a client finds the delta
//
// `ostree pull REMOTE REF` (and so Anaconda's ostreesetup) always fetches
// the summary to resolve the ref. If the summary lists a delta to the
// commit and the client has no commit of that ref yet, it fetches the
// superblock (checked against the summary), then the parts (each checked
// against the superblock). Without a summary, 2022.7 and later still try
// the from-scratch superblock path and fall back to loose objects on 404.
// If the summary says ostree.summary.indexed-deltas, the client fetches the
// delta index instead of using the summary's list: one more request, so
// Summary leaves that key out. A pull by commit checksum needs no summary
// and reads the index only if the repository config sets indexed-deltas.
// A summary is authoritative for refs: rewrite it with every ref change.
//
// # Gotchas
//
//   - A part stored uncompressed (compression byte 0) is read by mmap at
//     file offset 1, which Linux refuses for any part over 16 KiB (libostree
//     2022.7 to 2026.4 alike: "mmap: Invalid argument"). So Stored parts are
//     an .xz container of LZMA2 uncompressed chunks: the payload plus 3
//     bytes per 64 KiB, no compression time, byte-identical every time.
//   - Part version, size and usize, and fallback sizes, are in the byte
//     order the superblock's ostree.endianness names; we write 'l'. The
//     superblock timestamp and the (uuu) modes are big-endian.
//   - libostree before 2023.7 walks the commit as soon as the superblock
//     has written it, while the parts still arrive, and fetches loose every
//     object that a dirtree it has lists and it lacks; it can also fetch
//     missing dirtrees loose. Parts arrive in no fixed order (two at a time,
//     then from a hash table), so no order of parts helps. What does: a
//     dirtree goes into the part that holds its whole subtree, after it, and
//     dirmetas (which name no other object) into the first part, so a
//     directory the walk finds written has nothing left to fetch; only the
//     few dirtrees whose subtree spans parts go into the last part. The walk
//     still fetches those few dirtrees loose, and, when it gets to a subtree
//     before its part, that subtree's objects (timing-dependent; measured in
//     the report of issue 14). Since 2023.7 the client does not walk a commit
//     it gets from a delta at all, so a delta must be complete: Close
//     refuses one that is not. Tested with 2025.2 (make ostree-new): it
//     fetches no object loose but the commit's detached metadata
//     (.commitmeta), which every client asks for once the superblock has
//     written the commit, in case new signatures appeared.
//   - The client fetches at most 2 parts at once and opens each on its main
//     loop; no loose request starts while 2 parts are in flight. libostree
//     2026.3 refuses a part that unpacks to more than 512 MiB or to more
//     than its usize plus a margin, and caps the xz decoder at 100 MiB.
//   - The superblock is fetched whole and must stay under 10 MiB (33 bytes
//     per object in the part headers).
//   - GVariant dictionaries from GLib are in hash order; ours are sorted,
//     so the same objects give the same bytes and the superblock's part
//     checksums and the summary's superblock checksum always hold.
package staticdelta
