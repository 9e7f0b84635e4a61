package conformance

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/shared/pluginhost"
)

var (
	pluginFlag  = flag.String("plugin", "", "the plugin executable to check")
	builtinFlag = flag.String("builtin", "", "a built-in backend to check instead (dir)")
	optFlag     = kvFlag{}
	selFlag     = kvFlag{}
)

func init() {
	flag.Var(optFlag, "opt", "backend option KEY=VALUE (repeatable), as --publish-opt")
	flag.Var(selFlag, "selector", "node selector KEY=VALUE (repeatable); default a random mac")
}

type kvFlag map[string]string

func (f kvFlag) String() string { return fmt.Sprint(map[string]string(f)) }

func (f kvFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want KEY=VALUE", v)
	}
	f[k] = val
	return nil
}

// TestConformance is what `go test ./plugins/conformance -plugin PATH` runs.
func TestConformance(t *testing.T) {
	if *pluginFlag == "" && *builtinFlag == "" {
		t.Skip("name the backend: -plugin PATH (or -builtin dir) and its -opt KEY=VALUE")
	}
	cfg := Config{Plugin: *pluginFlag, Builtin: *builtinFlag, Options: optFlag}
	if cfg.Plugin == "" {
		// Only dir: the cluster built-in would link client-go into the
		// suite; check it from a Go test with Host: clusterserve.IgnitionHost{}.
		if cfg.Builtin != "dir" {
			t.Fatalf("-builtin %s: only dir can be checked here; pass -plugin PATH for a plugin", cfg.Builtin)
		}
		cfg.Host = pluginhost.DirHost{}
	}
	if len(selFlag) > 0 {
		cfg.Selector = selFlag
	}
	Run(t, cfg)
}
