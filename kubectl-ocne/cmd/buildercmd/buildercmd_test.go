package buildercmd

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/shared/cli"
)

func TestValidate(t *testing.T) {
	served := Options{Source: "docker://r.example.com/ock:1.33", Arch: "amd64", Version: "1.33"}
	with := func(f func(*Options)) Options {
		o := served
		f(&o)
		return o
	}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"nothing", Options{}, "--source, --arch and --version are required"},
		{"no version", with(func(o *Options) { o.Version = "" }), "--source, --arch and --version are required"},
		{"destination without a transport", with(func(o *Options) { o.Destination = "r.example.com/x:1" }), "--destination: "},
		{"served", served, ""},
		{"pushed", with(func(o *Options) { o.Destination = "docker://r.example.com/x:1" }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			var u cli.UsageError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &u)):
				t.Fatalf("error %v, want usage error %q", err, tt.want)
			case tt.o.Destination != "" && err == nil && tt.o.dest == nil:
				t.Fatal("--destination not kept parsed")
			}
		})
	}
}

// TestTerminationLog: a refused flag reaches create as the pod's message.
func TestTerminationLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "termination-log")
	c := NewCommand(io.Discard)
	if err := c.ParseFlags([]string{"--termination-log", log, "--source", "docker://r.example.com/ock:1.33"}); err != nil {
		t.Fatal(err)
	}
	err := c.RunE(c, nil)
	if b, _ := os.ReadFile(log); err == nil || string(b) != err.Error() {
		t.Errorf("error %v, termination log %q", err, b)
	}
}
