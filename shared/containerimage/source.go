package containerimage

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/compression"
)

// fileSource is a reference to images kept in a file or directory on this
// machine. What it holds is known only by reading it, so unlike a
// registry's it needs no tag: the only image is the image.
type fileSource struct {
	prefix    string // an ostree-ext image form as written ("ostree-unverified-image:"), or ""
	transport string // oci, oci-archive, docker-archive or dir
	path      string
	name      string // name, tag, digest or @N picking one image; "" for the only one
}

// parseFileSource recognises TRANSPORT:PATH[:NAME] for the file transports,
// bare or inside an ostree-ext image form. Like containers/image, it ends
// the path at its first colon; dir: takes no name.
func parseFileSource(ref string) (fileSource, bool) {
	prefix, inner := splitImageForm(ref)
	transport, rest, ok := strings.Cut(inner, ":")
	if !ok {
		return fileSource{}, false
	}
	switch transport {
	case "dir":
		return fileSource{prefix: prefix, transport: transport, path: rest}, true
	case "oci", "oci-archive", "docker-archive":
		p, name, _ := strings.Cut(rest, ":")
		return fileSource{prefix: prefix, transport: transport, path: p, name: name}, true
	}
	return fileSource{}, false
}

// splitImageForm splits off the ostree-ext prefixes that wrap a
// containers-transports reference (see ParseReference).
func splitImageForm(ref string) (prefix, inner string) {
	for _, p := range []string{"ostree-unverified-image:", "ostree-image-signed:"} {
		if rest, ok := strings.CutPrefix(ref, p); ok {
			return p, rest
		}
	}
	if rest, ok := strings.CutPrefix(ref, "ostree-remote-image:"); ok {
		if remote, inner, ok := strings.Cut(rest, ":"); ok && remote != "" {
			return "ostree-remote-image:" + remote + ":", inner
		}
	}
	return "", ref
}

func (f fileSource) String() string {
	s := f.prefix + f.transport + ":" + f.path
	if f.name != "" {
		s += ":" + f.name
	}
	return s
}

// IsFileSource reports whether ref names images in a file or directory on
// this machine (oci:, oci-archive:, docker-archive:, dir:, also inside the
// ostree-ext image forms) rather than in a registry.
func IsFileSource(ref string) bool {
	_, ok := parseFileSource(ref)
	return ok
}

// SelectInFile returns the file source ref narrowed to the image named (or
// tagged) name, as ResolveSource then finds it; an empty name keeps ref.
func SelectInFile(ref, name string) (string, error) {
	f, ok := parseFileSource(ref)
	switch {
	case !ok:
		return "", fmt.Errorf("%s is not an image file or directory", ref)
	case name == "":
		return ref, nil
	case f.transport == "dir":
		return "", fmt.Errorf("%s holds exactly one image and no names: drop the tag %q", ref, name)
	case f.name != "":
		return "", fmt.Errorf("%s already names an image: drop the tag %q or the name", ref, name)
	}
	f.name = name
	return f.String(), nil
}

// ImageChoiceError reports a file source whose images its reference does
// not narrow to one.
type ImageChoiceError struct {
	Source string   // the file source, without a name
	Name   string   // what the reference asked for; "" for none
	Have   []string // the names of the images it holds (digests where unnamed)
	Match  int      // how many different images Name matched
}

func (e *ImageChoiceError) Error() string {
	have := strings.Join(e.Have, ", ")
	switch {
	case e.Name == "":
		return fmt.Sprintf("%s holds %d images (%s) and no name was given", e.Source, len(e.Have), have)
	case e.Match > 1:
		return fmt.Sprintf("%s: %q names %d different images; use a full name or a digest of %s", e.Source, e.Name, e.Match, have)
	}
	return fmt.Sprintf("%s has no image %q; it holds %s", e.Source, e.Name, have)
}

// ResolveSource parses ref as ParseReference does, and pins a file source
// (IsFileSource) to one image: when ref names none, the only one the file
// holds (an image or a manifest list, under any number of names); else the
// one ref names by a name, its tag (what follows the name's last colon),
// its digest or an @N position. Several images and no name, or a name that
// matches none, is an *ImageChoiceError listing what the file holds.
func ResolveSource(ref string) (*Reference, error) {
	f, ok := parseFileSource(ref)
	if !ok || f.transport == "dir" { // dir: holds one image, always
		return ParseReference(ref)
	}
	var images []entry
	var err error
	if f.transport == "oci" {
		images, err = layoutEntries(f.path)
	} else {
		var a archive
		if a, err = readArchive(f.path); err == nil {
			images, err = a.images(f.transport, f.path)
		}
	}
	if err != nil {
		return nil, err
	}
	pinned, err := pick(f, images)
	if err != nil {
		return nil, err
	}
	return ParseReference(pinned.String())
}

// ArchiveReference returns the reference that reads the image in a tar
// file: oci-archive when it has an OCI index, else docker-archive, pinned
// to its image as ResolveSource does.
func ArchiveReference(file string) (*Reference, error) {
	a, err := readArchive(file)
	if err != nil {
		return nil, err
	}
	f, images := fileSource{transport: "oci-archive", path: file}, a.oci
	if a.oci == nil {
		f, images = fileSource{transport: "docker-archive", path: file}, a.docker
	}
	pinned, err := pick(f, images)
	if err != nil {
		return nil, err
	}
	return ParseReference(pinned.String())
}

// entry is one image a file source holds, under all of its names.
type entry struct {
	digest    digest.Digest // of the manifest; of the config in a docker-archive
	names     []string
	positions []int // in index.json or manifest.json
}

func (e entry) label() string {
	if len(e.names) > 0 {
		return strings.Join(e.names, ", ")
	}
	return e.digest.String()
}

// matches tells whether name picks e: one of its names (as stored or as
// docker-archive normalises them: "ock:1.31" is docker.io/library/ock:1.31),
// its tag, or the digest.
func (e entry) matches(name string) bool {
	if name == e.digest.String() {
		return true
	}
	for _, n := range e.names {
		if n == name || tagOf(n) == name || normalized(n) == normalized(name) {
			return true
		}
	}
	return false
}

func normalized(name string) string {
	n, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name
	}
	return reference.TagNameOnly(n).String()
}

// tagOf returns what follows a name's last colon ("1.31" of
// "localhost/ock-ostree:1.31"), "" when that is a registry's port
// ("host:5000/ock"); a name without a colon, such as the bare "1.31" skopeo
// writes into an OCI index, is its own tag.
func tagOf(name string) string {
	i := strings.LastIndex(name, ":")
	if i < 0 {
		return name
	}
	if tag := name[i+1:]; !strings.Contains(tag, "/") {
		return tag
	}
	return ""
}

// addEntry records the image at position pos, merging the entries of one
// image listed under several names.
func addEntry(images []entry, d digest.Digest, name string, pos int) []entry {
	for i := range images {
		if images[i].digest == d {
			if name != "" {
				images[i].names = append(images[i].names, name)
			}
			if p := images[i].positions; p[len(p)-1] != pos { // docker-archive: one item, several tags
				images[i].positions = append(p, pos)
			}
			return images
		}
	}
	e := entry{digest: d, positions: []int{pos}}
	if name != "" {
		e.names = []string{name}
	}
	return append(images, e)
}

func indexEntries(index imgspecv1.Index) []entry {
	var images []entry
	for i, m := range index.Manifests {
		images = addEntry(images, m.Digest, m.Annotations[imgspecv1.AnnotationRefName], i)
	}
	return images
}

func layoutEntries(dir string) ([]entry, error) {
	raw, err := os.ReadFile(filepath.Join(dir, imgspecv1.ImageIndexFile))
	if err != nil {
		return nil, fmt.Errorf("read OCI layout oci:%s: %w", dir, err)
	}
	var index imgspecv1.Index
	if err := json.Unmarshal(raw, &index); err != nil {
		return nil, fmt.Errorf("read OCI layout oci:%s: index.json: %w", dir, err)
	}
	return indexEntries(index), nil
}

// archive is what an image tar file holds: an OCI index, a docker-archive
// manifest.json, or both (as WriteArchive writes); nil for absent.
type archive struct{ oci, docker []entry }

// images returns the list transport (oci-archive or docker-archive) reads.
func (a archive) images(transport, file string) ([]entry, error) {
	switch {
	case transport == "docker-archive" && a.docker == nil:
		return nil, fmt.Errorf("%s has no manifest.json: not a docker-archive (use oci-archive:%s)", file, file)
	case transport == "docker-archive":
		return a.docker, nil
	case a.oci == nil:
		return nil, fmt.Errorf("%s has no index.json: not an oci-archive (use docker-archive:%s)", file, file)
	}
	return a.oci, nil
}

// readArchive reads the image lists of a tar file, compressed or not. Over
// an uncompressed file the tar reader seeks past the blobs.
func readArchive(file string) (archive, error) {
	f, err := os.Open(file)
	if err != nil {
		return archive{}, fmt.Errorf("open image archive: %w", err)
	}
	defer f.Close()
	notArchive := func(err error) error {
		return fmt.Errorf("%s is not an image archive (a tar from `create`, `podman save` or `skopeo copy`): %w", file, err)
	}
	decompress, _, err := compression.DetectCompression(f)
	if err != nil {
		return archive{}, notArchive(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return archive{}, fmt.Errorf("read %s: %w", file, err)
	}
	r := io.Reader(f)
	if decompress != nil {
		d, err := decompress(f)
		if err != nil {
			return archive{}, notArchive(err)
		}
		defer d.Close()
		r = d
	}
	var a archive
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return archive{}, notArchive(err)
		}
		switch path.Clean(hdr.Name) {
		case imgspecv1.ImageIndexFile:
			var index imgspecv1.Index
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&index); err != nil {
				return archive{}, fmt.Errorf("%s: index.json: %w", file, err)
			}
			a.oci = indexEntries(index)
			if a.oci == nil {
				a.oci = []entry{}
			}
		case "manifest.json":
			var items []struct {
				Config   string
				RepoTags []string
			}
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&items); err != nil {
				return archive{}, fmt.Errorf("%s: manifest.json: %w", file, err)
			}
			a.docker = []entry{}
			for i, it := range items {
				d := configDigest(it.Config)
				if len(it.RepoTags) == 0 {
					a.docker = addEntry(a.docker, d, "", i)
				}
				for _, n := range it.RepoTags {
					a.docker = addEntry(a.docker, d, n, i)
				}
			}
		}
	}
	if a.oci == nil && a.docker == nil {
		return archive{}, fmt.Errorf("%s is not an image archive: it has neither index.json nor manifest.json", file)
	}
	return a, nil
}

// configDigest names a docker-archive image by its config, the image ID
// `podman images` shows: blobs/sha256/HEX (OCI-style) or HEX.json (docker save).
func configDigest(config string) digest.Digest {
	base := strings.TrimSuffix(path.Base(config), ".json")
	if d := digest.NewDigestFromEncoded(digest.SHA256, base); d.Validate() == nil {
		return d
	}
	return digest.Digest(config)
}

// pick returns f pinned to one of images, in a form its transport reads.
func pick(f fileSource, images []entry) (fileSource, error) {
	want := f.name
	f.name = ""
	var have []string
	for _, e := range images {
		have = append(have, e.label())
	}
	if len(images) == 0 {
		return f, fmt.Errorf("%s holds no image", f)
	}
	if strings.HasPrefix(want, "@") && f.transport != "oci-archive" {
		f.name = want // a position: the transport checks it
		return f, nil
	}
	var found []entry
	for _, e := range images {
		if want == "" || e.matches(want) {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		return f, &ImageChoiceError{Source: f.String(), Name: want, Have: have, Match: len(found)}
	}
	e := found[0]
	switch {
	case exactName(e, want) != "":
		f.name = exactName(e, want)
	case len(e.names) > 0:
		f.name = e.names[0]
	case len(images) == 1 && len(e.positions) == 1:
		// The only entry: the transports read it without a name.
	case f.transport == "oci-archive":
		return f, fmt.Errorf("%s: image %s has no name, and an oci-archive is read only by name or as its only image: unpack it (tar -xf %s -C DIR) and use oci:DIR:@%d", f, e.digest, f.path, e.positions[0])
	default:
		f.name = fmt.Sprintf("@%d", e.positions[0])
	}
	return f, nil
}

// exactName returns want if it is one of e's names as stored.
func exactName(e entry, want string) string {
	for _, n := range e.names {
		if n == want {
			return n
		}
	}
	return ""
}
