package ignition

import (
	"encoding/json"
	"errors"
	"fmt"

	ignerrors "github.com/coreos/ignition/v2/config/shared/errors"
	"github.com/coreos/vcontext/report"

	v33 "github.com/coreos/ignition/v2/config/v3_3"
	v33types "github.com/coreos/ignition/v2/config/v3_3/types"
	v34 "github.com/coreos/ignition/v2/config/v3_4"
	v34tr "github.com/coreos/ignition/v2/config/v3_4/translate"
	v34types "github.com/coreos/ignition/v2/config/v3_4/types"
	v35 "github.com/coreos/ignition/v2/config/v3_5"
	v35tr "github.com/coreos/ignition/v2/config/v3_5/translate"
	v35types "github.com/coreos/ignition/v2/config/v3_5/types"
)

// spec is one Ignition spec version as the library offers it.
type spec[T any] struct {
	version    string
	up         func(v33types.Config) T                // translate our config up to it
	compatible func([]byte) (T, report.Report, error) // parse it or any older version
	exact      func([]byte) (T, report.Report, error) // parse and validate exactly it
	merge      func(parent, child T) T
}

var renderers = map[string]func(v33types.Config, []Extra) ([]byte, error){
	"3.3.0": spec[v33types.Config]{
		version:    "3.3.0",
		up:         func(c v33types.Config) v33types.Config { return c },
		compatible: v33.ParseCompatibleVersion, exact: v33.Parse, merge: v33.Merge,
	}.render,
	"3.4.0": spec[v34types.Config]{
		version:    "3.4.0",
		up:         v34tr.Translate,
		compatible: v34.ParseCompatibleVersion, exact: v34.Parse, merge: v34.Merge,
	}.render,
	"3.5.0": spec[v35types.Config]{
		version:    "3.5.0",
		up:         func(c v33types.Config) v35types.Config { return v35tr.Translate(v34tr.Translate(c)) },
		compatible: v35.ParseCompatibleVersion, exact: v35.Parse, merge: v35.Merge,
	}.render,
}

// NewerSpecError is an extra config of a spec version newer than the one
// written (Version).
type NewerSpecError struct{ Extra, Version string }

func (e *NewerSpecError) Error() string {
	return fmt.Sprintf("%s: its Ignition spec version is newer than %s", e.Extra, e.Version)
}

// render merges the extras (Ignition JSON) into base in order, then
// encodes and validates the result.
func (s spec[T]) render(base v33types.Config, extras []Extra) ([]byte, error) {
	cfg := s.up(base)
	for _, e := range extras {
		ec, rpt, err := s.compatible(e.Data)
		if errors.Is(err, ignerrors.ErrUnknownVersion) {
			return nil, &NewerSpecError{Extra: e.Name, Version: s.version}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s", e.Name, oneLine(err, rpt))
		}
		cfg = s.merge(cfg, ec)
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode Ignition config: %w", err)
	}
	if _, rpt, err := s.exact(out); err != nil {
		return nil, fmt.Errorf("the Ignition config does not validate: %s", oneLine(err, rpt))
	}
	return out, nil
}
