package cmd

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/shared/pluginhost"
)

// fakeBackend is a hosting backend in memory.
type fakeBackend struct {
	entries map[string]ignitionhost.Entry
	configs map[string][]byte
	closed  bool
}

func newFakeBackend(entries ...ignitionhost.Entry) *fakeBackend {
	b := &fakeBackend{entries: map[string]ignitionhost.Entry{}, configs: map[string][]byte{}}
	for _, e := range entries {
		b.entries[e.Name] = e
	}
	return b
}

func (b *fakeBackend) Publish(_ context.Context, config []byte, p pluginhost.Publication) (ignitionhost.Entry, error) {
	name := p.Name
	if name == "" {
		name = "random"
	}
	e := ignitionhost.Entry{Name: name, URL: "http://192.0.2.5/ignition/" + name, Selector: p.Selector, Expires: p.Expires}
	b.entries[name], b.configs[name] = e, config
	return e, nil
}

func (b *fakeBackend) Unpublish(_ context.Context, name string) error {
	if _, ok := b.entries[name]; !ok {
		return ignitionhost.ErrNotFound
	}
	delete(b.entries, name)
	return nil
}

func (b *fakeBackend) List(context.Context) ([]ignitionhost.Entry, error) {
	var out []ignitionhost.Entry
	for _, e := range b.entries {
		out = append(out, e)
	}
	return out, nil
}

func (b *fakeBackend) Close() { b.closed = true }

func TestIgnitionPublishValidate(t *testing.T) {
	dir := t.TempDir()
	good := testFile(t, dir, "w.ign", `{"ignition":{"version":"3.4.0"}}`)
	butane := testFile(t, dir, "w.bu", "variant: fcos\n")
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"missing file", []string{filepath.Join(dir, "none.ign")}, "", "read Ignition config: open "},
		{"Butane, not JSON", []string{butane}, "", "w.bu is not JSON: publish an Ignition config (convert Butane YAML first)"},
		{"standard input, not JSON", []string{"-"}, "{", "- is not JSON"},
		{"bad selector", []string{good, "--selector", "mac"}, "", `--selector "mac": want KEY=VALUE`},
		{"negative ttl", []string{good, "--ttl", "-1s"}, "", "--ttl -1s: must not be negative"},
		{"bad name", []string{good, "--name", "../x"}, "", "--name: "},
		{"bad format", []string{good, "-o", "yaml"}, "", `invalid --output "yaml"`},
		{"a file", []string{good, "--name", "w1", "--selector", "mac=52:54:00:12:34:56"}, "", ""},
		{"standard input", []string{"-"}, `{"ignition":{"version":"3.4.0"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streams, in, _, _ := genericiooptions.NewTestIOStreams()
			in.WriteString(tt.stdin)
			c, o := newCmdIgnitionPublish(streams)
			parseFlags(t, c, tt.args...)
			err := o.Complete(c.Flags().Args())
			if err == nil {
				err = o.Validate()
			}
			checkErr(t, err, tt.want, true)
		})
	}
}

func TestIgnitionPublishRun(t *testing.T) {
	config := `{"ignition":{"version":"3.4.0"}}`
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	c, o := newCmdIgnitionPublish(streams)
	b := newFakeBackend()
	o.backend = b
	parseFlags(t, c, testFile(t, t.TempDir(), "w.ign", config), "--backend", "fake", "--name", "w1", "--selector", "mac=m1", "--ttl", "1h", "-o", "json")
	if err := o.Complete(c.Flags().Args()); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var e ignitionhost.Entry
	if err := json.Unmarshal(out.Bytes(), &e); err != nil || e.URL != "http://192.0.2.5/ignition/w1" || e.Selector["mac"] != "m1" ||
		time.Until(e.Expires) > time.Hour || time.Until(e.Expires) < 59*time.Minute {
		t.Errorf("printed %s (%v)", out, err)
	}
	if string(b.configs["w1"]) != config || !b.closed {
		t.Errorf("published %q, closed %v", b.configs["w1"], b.closed)
	}
}

func TestIgnitionUnpublishAndList(t *testing.T) {
	past, future := time.Now().Add(-time.Hour).UTC(), time.Now().Add(time.Hour).UTC()
	entries := func() *fakeBackend {
		return newFakeBackend(
			ignitionhost.Entry{Name: "old", URL: "http://h/old", Expires: past},
			ignitionhost.Entry{Name: "new", URL: "http://h/new", Expires: future},
			ignitionhost.Entry{Name: "kept", URL: "http://h/kept"})
	}
	tests := []struct {
		name     string
		args     []string
		wantErr  string
		wantLeft []string
	}{
		{name: "nothing named", wantErr: "name a published config, or pass --expired; see 'unpublish --help'"},
		{name: "by name", args: []string{"new"}, wantLeft: []string{"kept", "old"}},
		{name: "the expired", args: []string{"--expired"}, wantLeft: []string{"kept", "new"}},
		{name: "one not published", args: []string{"gone"}, wantErr: ignitionhost.ErrNotFound.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, o := newCmdIgnitionUnpublish(genericiooptions.NewTestIOStreamsDiscard())
			b := entries()
			o.backend = b
			parseFlags(t, c, tt.args...)
			o.Names = c.Flags().Args()
			err := o.Validate(c.CommandPath())
			if err == nil {
				err = o.Run(context.Background())
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lc, lo := newCmdIgnitionList(genericiooptions.NewTestIOStreamsDiscard())
			streams, _, out, _ := genericiooptions.NewTestIOStreams()
			lo.IOStreams, lo.backend = streams, b
			parseFlags(t, lc, "-o", "json")
			if err := lo.Validate(); err != nil {
				t.Fatal(err)
			}
			if err := lo.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			var listed []listedEntry
			if err := json.Unmarshal(out.Bytes(), &listed); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range listed {
				names = append(names, e.Name)
				if e.Expired != (e.Name == "old") {
					t.Errorf("%s listed as expired: %v", e.Name, e.Expired)
				}
			}
			if strings.Join(names, " ") != strings.Join(tt.wantLeft, " ") {
				t.Errorf("left %v, want %v", names, tt.wantLeft)
			}
		})
	}
}

func TestIgnitionListText(t *testing.T) {
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	_, o := newCmdIgnitionList(streams)
	o.backend = newFakeBackend(ignitionhost.Entry{Name: "old", URL: "http://h/old", Expires: time.Unix(1, 0)}, ignitionhost.Entry{Name: "kept", URL: "http://h/kept"})
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[1], "kept") || !strings.Contains(lines[1], "never") ||
		!strings.Contains(lines[2], "EXPIRED") {
		t.Errorf("listed:\n%s", out)
	}
}

func TestPluginsListAndVersion(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plugins list", []string{"-o", "yaml"}, `invalid --output "yaml"`},
		{"plugins list with a config that does not parse", []string{"-c", "CONFIG"}, "cluster.yaml"},
		{"plugins list as JSON", []string{"-o", "json"}, ""},
		{"version", []string{"-o", "yaml"}, `invalid --output "yaml"`},
		{"version as JSON", []string{"-o", "json"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			args := tt.args
			for i, a := range args {
				if a == "CONFIG" {
					args[i] = testFile(t, t.TempDir(), "cluster.yaml", "ignitionPlugins: [\n")
				}
			}
			var err error
			if strings.HasPrefix(tt.name, "version") {
				c, o := newCmdVersion(genericiooptions.NewTestIOStreamsDiscard())
				parseFlags(t, c, args...)
				err = o.Validate()
			} else {
				c, o := newCmdPluginsList(genericiooptions.NewTestIOStreamsDiscard())
				parseFlags(t, c, args...)
				if err = o.Complete(); err == nil {
					err = o.Validate()
				}
			}
			checkErr(t, err, tt.want, true)
		})
	}
}
