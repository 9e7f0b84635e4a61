package containerimage

import (
	"context"
	"fmt"
	"time"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// CopyProgress is told about the bytes a copy moves.
type CopyProgress interface {
	Grow(total int64)
	Add(n int)
}

// Copy copies an image between any two transports, as skopeo copy does.
func Copy(ctx context.Context, src, dest types.ImageReference, opts Options, p CopyProgress) error {
	sys, err := opts.systemContext()
	if err != nil {
		return err
	}
	policy, err := signature.NewPolicyContext(&signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		return err
	}
	defer policy.Destroy()
	co := &copy.Options{SourceCtx: sys, DestinationCtx: sys}
	if p != nil {
		events := make(chan types.ProgressProperties)
		done := make(chan struct{})
		go func() {
			defer close(done)
			seen := map[string]uint64{}
			for e := range events {
				d := e.Artifact.Digest.String()
				switch e.Event {
				case types.ProgressEventNewArtifact:
					p.Grow(e.Artifact.Size)
				case types.ProgressEventRead, types.ProgressEventDone, types.ProgressEventSkipped:
					if e.Event == types.ProgressEventSkipped {
						p.Add(int(e.Artifact.Size) - int(seen[d]))
						seen[d] = uint64(e.Artifact.Size)
						continue
					}
					p.Add(int(e.Offset - seen[d]))
					seen[d] = e.Offset
				}
			}
		}()
		co.Progress = events
		co.ProgressInterval = 200 * time.Millisecond
		defer func() { close(events); <-done }()
	}
	if _, err := copy.Image(ctx, policy, dest, src, co); err != nil {
		return fmt.Errorf("copy %s to %s: %w", transportRef(src), transportRef(dest), err)
	}
	return nil
}
