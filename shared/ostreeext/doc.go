// Package ostreeext is the image level of ostree-ext container images (an
// OSTree commit encapsulated in tar layers, as ostree-rs-ext and bootc write
// them): Export makes one of a commit (its layers, config, labels and
// annotations), and Merger commits the derived layers of an image built on
// top of one. Below it, tarstream reads and writes a layer's tar stream
// (the importer is there) and chunking decides which objects go into which
// layer.
package ostreeext
