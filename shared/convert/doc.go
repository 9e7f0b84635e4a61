// Package convert turns an OCK OSTree container image into a verified
// OSTree archive repository. It is the builder's core: the same code runs
// in-process for `create --local` and inside the builder pod.
//
// # What images look like
//
// Images are read as ostree-ext has written them over the years, not as its
// newest writer does; the upstream-made images in
// shared/containerimage/testdata are the 2021 kind:
//
//   - Layers: the first layers hold the OSTree repository (sysroot/ostree/repo)
//     plus the checked-out tree as hard links to its objects. Writers since
//     2021-12-13 label the last of them (ostree.final-diffid, v0:
//     ostree.diffid); older ones have neither label, and then only the first
//     layer is an ostree layer, as upstream's importer assumed. Any layer
//     after them is a derived layer (podman build's), and so is any layer
//     with checked-out files but no objects: importing one as an ostree layer
//     would drop its files without a word, so that is refused.
//   - Derived layers are merged into a new commit (ostreeext.Merger), as
//     ostree-ext's container store does: served instead of the base commit,
//     with the base commit as its parent and ostree.manifest-digest naming
//     the image.
//   - Writers before 2021-12-17 put no repo config in the image (later
//     sysroot/config, then sysroot/ostree/repo/config); before 2021-11-24
//     they also wrote objects/0xNN directory entries. Neither is needed: every
//     object is named by its checksum, and only objects are read.
//   - Only the last layer of a chunked image lists all directory and
//     metadata entries first; the unchunked writer interleaves each
//     directory's metadata with its content, so nothing may depend on order
//     beyond an xattrs link coming before its object.
//   - PAX SCHILY.xattr.* records (bootc-era writers) never carry
//     security.selinux: they are never the whole xattr set while an xattrs
//     link names one.
//   - Commits may be bound to refs (ostree.ref-binding; `ostree commit -b`
//     writes it by default). libostree checks that on every pull by default,
//     as Anaconda does, so a commit is only ever served under a ref it is
//     bound to, and a merged commit is bound to the ref it is served as.
package convert
