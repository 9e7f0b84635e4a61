package ostreeext

import (
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostree"
)

// Labels ostree-ext puts on an encapsulated commit's image config (and
// repeats as manifest annotations), and the annotation of a chunk layer.
const (
	LabelCommit      = "ostree.commit"
	LabelFinalDiffID = "ostree.final-diffid" // format 1: the last ostree layer
	LabelDiffID      = "ostree.diffid"       // format 0: the (last) ostree layer
	LabelVersion     = "version"             // the commit's version metadata
	LabelBootable    = "ostree.bootable"
	LabelBootc       = "containers.bootc"

	AnnotationComponents = "ostree.components" // what a chunk layer holds
)

// ErrNotOSTree reports an image that does not encapsulate an OSTree commit.
var ErrNotOSTree = errors.New("not an OSTree container image")

// Layers reads an image's labels for the commit it encapsulates and how
// many of its layers, the first ones, hold the OSTree repository: ostree-ext
// marks the last of them with a diff ID label. Images written before those
// labels existed (2021) have none; then only the first layer is the ostree
// layer, as upstream's importer assumed. Any later layer is a derived layer
// of ordinary files. diffIDs are the config's rootfs.diff_ids.
func Layers(labels map[string]string, diffIDs []digest.Digest) (int, ostree.Checksum, error) {
	label, ok := labels[LabelCommit]
	if !ok {
		return 0, ostree.Checksum{}, fmt.Errorf("%w (its config has no %s label)", ErrNotOSTree, LabelCommit)
	}
	commit, err := ostree.ParseChecksum(label)
	if err != nil {
		return 0, ostree.Checksum{}, fmt.Errorf("label %s: %w", LabelCommit, err)
	}
	last := 0
	for _, key := range []string{LabelFinalDiffID, LabelDiffID} {
		d, ok := labels[key]
		if !ok {
			continue
		}
		last = -1
		for i, id := range diffIDs {
			if id.String() == d {
				last = i
			}
		}
		if last < 0 {
			return 0, ostree.Checksum{}, fmt.Errorf("label %s names layer %s, which the image does not have", key, d)
		}
		break
	}
	if len(diffIDs) == 0 {
		return 0, ostree.Checksum{}, fmt.Errorf("%w (it has no layers)", ErrNotOSTree)
	}
	return last + 1, commit, nil
}

func imageConfig(plan *exportPlan, layers []ociarchive.BlobLayer, opts ExportOptions) imgspecv1.Image {
	created := time.Unix(int64(plan.commit.Timestamp), 0).UTC()
	labels := map[string]string{
		LabelCommit: plan.commitSum.String(),
		LabelBootc:  "1",
	}
	final := layers[len(layers)-1].DiffID.String()
	if opts.V0 {
		labels[LabelDiffID] = final
	} else {
		labels[LabelFinalDiffID] = final
	}
	if v, ok := plan.commit.Metadata.Get(LabelVersion); ok {
		if s, ok := v.String(); ok {
			labels[LabelVersion] = s
			labels["org.opencontainers.image.version"] = s
		}
	}
	if v, ok := plan.commit.Metadata.Get(LabelBootable); ok && v.Type == "b" && len(v.Data) == 1 && v.Data[0] == 1 {
		labels[LabelBootable] = "true"
	}
	for k, v := range opts.Labels {
		labels[k] = v
	}
	cfg := imgspecv1.Image{
		Created:  &created,
		Platform: imgspecv1.Platform{OS: "linux", Architecture: opts.Arch},
		Config:   imgspecv1.ImageConfig{Labels: labels, Cmd: []string{"/usr/bin/bash"}},
	}
	for i := range layers {
		cfg.History = append(cfg.History, imgspecv1.History{Created: &created, CreatedBy: fmt.Sprintf("ocne-image: ostree export, layer %d of %d", i+1, len(layers))})
	}
	return cfg
}
