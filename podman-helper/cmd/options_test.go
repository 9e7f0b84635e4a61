package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/podman"
)

// fakePodman is a Podman service holding one container of podman-ocne's.
type fakePodman struct {
	name    string // podman-ocne's container
	foreign string // someone else's
	stopped []string
	closed  bool
}

func (f *fakePodman) Own(name string) (*podman.Container, error) {
	switch name {
	case f.name:
		return &podman.Container{Name: name, ID: "0123456789abcdef", State: "running", Port: 8080}, nil
	case f.foreign:
		return nil, &podman.ForeignError{Name: name}
	}
	return nil, fmt.Errorf("%w named %s in Podman (unix:///run/podman/podman.sock)", podman.ErrNotFound, name)
}

func (f *fakePodman) SiteOf(ctr *podman.Container) (*podman.Site, error) {
	return &podman.Site{URL: "http://192.0.2.5:8080", Name: ctr.Name, OSTreeURL: "http://192.0.2.5:8080/ostree", Ref: "ock",
		KickstartURL: "http://192.0.2.5:8080/ks/ock.ks", IgnitionURL: "http://192.0.2.5:8080/ignition/ock.ign", KernelArgs: "inst.ks=http://192.0.2.5:8080/ks/ock.ks"}, nil
}

func (f *fakePodman) Service() (*podman.Service, error) {
	return &podman.Service{URL: "unix:///run/podman/podman.sock", Version: "5.8.2"}, nil
}

func (f *fakePodman) Logs(name string, _ bool, tail string, out, _ io.Writer) error {
	if _, err := f.Own(name); err != nil {
		return err
	}
	fmt.Fprintf(out, "GET /ostree/config (tail %s)\n", tail)
	return nil
}

func (f *fakePodman) Stop(name string) error {
	if _, err := f.Own(name); err != nil {
		return err
	}
	f.stopped = append(f.stopped, name)
	return nil
}

func (f *fakePodman) Close() { f.closed = true }

// command is a podman-ocne command with the options it fills.
type command struct {
	c        *cobra.Command
	validate func() error
	run      func(context.Context) error
}

func newCommand(name string, streams genericiooptions.IOStreams, conn *ConnectionFlags) command {
	switch name {
	case "status":
		c, o := newCmdStatus(streams, conn)
		return command{c, o.Validate, o.Run}
	case "logs":
		c, o := newCmdLogs(streams, conn)
		return command{c, o.Validate, o.Run}
	case "stop":
		c, o := newCmdStop(streams, conn)
		return command{c, o.Validate, o.Run}
	case "load":
		c, o := newCmdLoad(streams, conn)
		return command{c, o.Validate, o.Run}
	case "serve":
		c, o := newCmdServe(streams, conn)
		validate := func() error {
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Validate()
		}
		return command{c, validate, o.Run}
	}
	panic(name)
}

// TestValidate: every bad flag value is refused before Podman is asked,
// as a usage error in one line.
func TestValidate(t *testing.T) {
	tests := []struct {
		args string
		url  string
		want string
	}{
		{"status", "", ""},
		{"status --name a/b", "", `invalid --name "a/b"`},
		{"status -o yaml", "", `invalid --output "yaml"`},
		{"status", "http://localhost:8080", `invalid Podman URL "http://localhost:8080"`},
		{"logs --tail 20", "", ""},
		{"logs --tail all", "", ""},
		{"logs --tail -1", "", `invalid --tail "-1": a number of lines, or all`},
		{"logs --tail ten", "", `invalid --tail "ten"`},
		{"logs --name=", "", `invalid --name ""`},
		{"stop --name ock-1-31", "", ""},
		{"stop --name x\ty", "", `invalid --name "x\ty"`},
		{"stop", "ftp://h", "invalid Podman URL"},
		{"load", "", "--file is required"},
		{"load --file ock.tar -o yaml", "", `invalid --output "yaml"`},
		{"load --file ock.tar", "tcp//h", "invalid Podman URL"},
		{"serve --port 0", "", "invalid --port 0: use 1-65535"},
		{"serve --restart sometimes", "", `invalid --restart "sometimes"`},
		{"serve --kickstart-file a/b.ks", "", `invalid --kickstart-file "a/b.ks": a file name, without directory`},
		{"serve --kickstart manual", "", `invalid --kickstart "manual": 'auto' is the only value`},
		{"serve --advertise-address a_b", "", `invalid --advertise-address "a_b"`},
		{"serve", "unix:///run/podman/podman.sock", ""},
	}
	for _, tt := range tests {
		t.Run(tt.args+" "+tt.url, func(t *testing.T) {
			t.Setenv("HOME", t.TempDir())
			t.Setenv("CONTAINER_HOST", "")
			fields := strings.Split(tt.args, " ") // not Fields: a tab is a value here
			cmd := newCommand(fields[0], genericiooptions.NewTestIOStreamsDiscard(), &ConnectionFlags{URL: tt.url})
			if err := cmd.c.ParseFlags(fields[1:]); err != nil {
				t.Fatal(err)
			}
			err := cmd.validate()
			var u cli.UsageError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &u) || strings.Contains(err.Error(), "\n")):
				t.Fatalf("error %v, want a usage error with %q", err, tt.want)
			}
		})
	}
}

// TestServeDefaults: the served directories default to ~/.ocne/serve/NAME.
func TestServeDefaults(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	c, o := newCmdServe(genericiooptions.NewTestIOStreamsDiscard(), &ConnectionFlags{})
	if err := c.ParseFlags([]string{"--name", "ock-1-31", "--ignition-dir", "ign"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(home, ".ocne", "serve", "ock-1-31")
	abs, _ := filepath.Abs("ign")
	if o.KickstartDir != filepath.Join(base, "ks") || o.BootDir != filepath.Join(base, "boot") || o.IgnitionDir != abs {
		t.Errorf("kickstart %s, boot %s, ignition %s", o.KickstartDir, o.BootDir, o.IgnitionDir)
	}
}

// TestRunWithFake runs status, logs and stop against a fake service.
func TestRunWithFake(t *testing.T) {
	tests := []struct {
		args      string
		wantOut   string
		wantErr   string
		wantStops int
	}{
		{args: "status", wantOut: "Container:      ock-ostree (running, 0123456789ab)\nPodman:         5.8.2 (unix:///run/podman/podman.sock)\nOSTree URL:     http://192.0.2.5:8080/ostree (ref ock)\n"},
		{args: "status -o json", wantOut: `"container":{"name":"ock-ostree"`},
		{args: "status --name gone", wantErr: "no such container named gone in Podman (unix:///run/podman/podman.sock): start one with 'podman-ocne serve'"},
		{args: "status --name theirs", wantErr: "remove it with 'podman rm -f theirs' or pick another --name: start one with 'podman-ocne serve'"},
		{args: "logs --tail 5", wantOut: "GET /ostree/config (tail 5)\n"},
		{args: "logs --name gone", wantErr: "no such container named gone"},
		{args: "stop", wantOut: "ock-ostree stopped and removed\n", wantStops: 1},
		{args: "stop --name gone", wantErr: "no such container named gone in Podman (unix:///run/podman/podman.sock): nothing to stop"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			fake := &fakePodman{name: DefaultName, foreign: "theirs"}
			streams, _, out, _ := genericiooptions.NewTestIOStreams()
			fields := strings.Fields(tt.args)
			cmd := newCommand(fields[0], streams, &ConnectionFlags{fake: fake})
			if err := cmd.c.ParseFlags(fields[1:]); err != nil {
				t.Fatal(err)
			}
			if err := cmd.validate(); err != nil {
				t.Fatal(err)
			}
			err := cmd.run(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.ReplaceAll(out.String(), " ", ""), strings.ReplaceAll(tt.wantOut, " ", "")) {
				t.Errorf("stdout %q, want %q", out, tt.wantOut)
			}
			if len(fake.stopped) != tt.wantStops || !fake.closed {
				t.Errorf("stopped %v, closed %v", fake.stopped, fake.closed)
			}
		})
	}
}
