package staticdelta

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

// Ref is a ref a summary lists, with the commit object it points at.
type Ref struct {
	Name   string
	Commit []byte // the serialised commit object
}

// Summary keys libostree writes (ostree-repo-private.h upstream).
const (
	metaLastModified     = "ostree.summary.last-modified"
	metaMode             = "ostree.summary.mode"
	metaTombstoneCommits = "ostree.summary.tombstone-commits"
	metaCommitTimestamp  = "ostree.commit.timestamp"
	metaCommitVersion    = "ostree.commit.version"
)

// Summary returns the summary file of an archive repository serving refs
// and deltas, with the keys `ostree summary -u` writes but one:
// "ostree.summary.indexed-deltas", which would send a client that already
// has the delta's name from here to fetch the delta index as well. lastModified
// (seconds since the epoch) is given rather than read from the clock so
// that the same repository always gets the same bytes.
//
// A summary is authoritative: a client that finds one resolves refs from
// it and ignores refs/heads, so it must be rewritten with every ref.
func Summary(refs []Ref, deltas []*Delta, lastModified uint64) ([]byte, error) {
	s := ostree.Summary{}
	for _, r := range refs {
		c, err := ostree.ParseCommit(r.Commit)
		if err != nil {
			return nil, fmt.Errorf("summary: ref %s: %w", r.Name, err)
		}
		meta := ostree.Metadata{{Key: metaCommitTimestamp, Value: ostree.BigEndianU64Variant(c.Timestamp)}}
		if v, ok := c.Metadata.Get("version"); ok {
			if version, ok := v.String(); ok {
				meta = append(meta, ostree.MetaEntry{Key: metaCommitVersion, Value: ostree.StringVariant(version)})
			}
		}
		s.Refs = append(s.Refs, ostree.SummaryRef{
			Name: r.Name, CommitSize: uint64(len(r.Commit)), Commit: ostree.SumBytes(r.Commit), Metadata: meta,
		})
	}
	slices.SortFunc(s.Refs, func(a, b ostree.SummaryRef) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(s.Refs); i++ {
		if s.Refs[i].Name == s.Refs[i-1].Name {
			return nil, fmt.Errorf("summary: ref %s listed twice", s.Refs[i].Name)
		}
	}
	s.Metadata = ostree.Metadata{
		{Key: metaLastModified, Value: ostree.BigEndianU64Variant(lastModified)},
		{Key: metaMode, Value: ostree.StringVariant("archive-z2")},
		{Key: metaTombstoneCommits, Value: ostree.BoolVariant(false)},
	}
	if len(deltas) > 0 {
		s.Metadata = append(s.Metadata, ostree.MetaEntry{Key: ostree.MetaStaticDeltas, Value: ostree.Variant{Type: "a{sv}", Data: DeltaList(deltas...).Marshal()}})
	}
	sortMetadata(s.Metadata)
	return s.Marshal(), nil
}

// WriteSummary writes Summary's result to the sink as "summary".
func WriteSummary(sink Sink, refs []Ref, deltas []*Delta, lastModified uint64) error {
	b, err := Summary(refs, deltas, lastModified)
	if err != nil {
		return err
	}
	if err := sink.WriteFile("summary", int64(len(b)), bytes.NewReader(b)); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// sortMetadata sorts an a{sv} by key: GLib leaves dictionaries in hash
// order, readers search them, and sorted is the same every time.
func sortMetadata(m ostree.Metadata) {
	slices.SortFunc(m, func(a, b ostree.MetaEntry) int { return strings.Compare(a.Key, b.Key) })
}
