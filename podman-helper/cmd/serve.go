package cmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/bootmedia"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/kickstart"
	"github.com/ocne-image/ocne-image/shared/podman"
	"github.com/ocne-image/ocne-image/shared/serverimage/layout"
)

const serveExample = `  # Serve the loaded image on port 8080 with ~/.ocne/serve/ock-ostree/{ks,ignition}
  podman-ocne serve

  # Your own Kickstart directory, another port, replacing a running server
  podman-ocne serve --kickstart-dir ./ks --port 8081 --replace

  # Write a Kickstart that installs from this server, and serve the
  # installer from a boot ISO for network boot (prints an iPXE script)
  podman-ocne serve --kickstart auto --iso OracleLinux-R9-U6-x86_64-boot-uek.iso

  # Machine-readable URLs and kernel arguments
  podman-ocne serve --output json`

// DefaultName is the container name serve, status, logs and stop use.
const DefaultName = "ock-ostree"

// ServeOptions are the inputs of `serve`.
type ServeOptions struct {
	Image, Name, Restart string
	Port                 int
	Replace              bool
	KickstartDir         string
	IgnitionDir          string
	BootDir              string
	ISO                  string
	KickstartFile        string
	IgnitionFile         string
	Kickstart            string
	AdvertiseAddress     string
	Timeout              time.Duration
	Print                *cli.PrintFlags
	Verbose              int

	conn *ConnectionFlags
	genericiooptions.IOStreams
}

// NewCmdServe returns the `serve` command.
func NewCmdServe(streams genericiooptions.IOStreams, conn *ConnectionFlags) *cobra.Command {
	c, _ := newCmdServe(streams, conn)
	return c
}

func newCmdServe(streams genericiooptions.IOStreams, conn *ConnectionFlags) (*cobra.Command, *ServeOptions) {
	o := &ServeOptions{IOStreams: streams, conn: conn, Print: cli.NewPrintFlags()}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the archive server container",
		Long: `Run the loaded archive server image as a container that serves the OSTree
repository at http://ADDRESS:PORT/ostree, a Kickstart directory at /ks/ and
an Ignition directory at /ignition/. Wait until the repository answers, then
print the URLs and the kernel arguments to boot the installer with.

The container carries podman-ocne's labels and a restart policy; status,
logs and stop find it by --name. On failure nothing is left running.`,
		Example: serveExample,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&o.Image, "image", layout.Repository+":latest", "archive server image, as 'podman-ocne load' named it")
	f.StringVar(&o.Name, "name", DefaultName, "container name")
	f.IntVarP(&o.Port, "port", "p", 8080, "host port to publish the server on")
	f.BoolVar(&o.Replace, "replace", false, "replace a podman-ocne container of the same name")
	f.StringVar(&o.Restart, "restart", "always", "restart policy: "+strings.Join(podman.RestartPolicies, ", "))
	f.StringVar(&o.KickstartDir, "kickstart-dir", "", "directory served at /ks/ (default ~/.ocne/serve/NAME/ks)")
	f.StringVar(&o.IgnitionDir, "ignition-dir", "", "directory served at /ignition/ (default ~/.ocne/serve/NAME/ignition)")
	f.StringVar(&o.ISO, "iso", "", "Oracle Linux boot ISO: serve its installer kernel, initrd and stage2 at /boot/ and print an iPXE script")
	f.StringVar(&o.BootDir, "boot-dir", "", "where --iso's files are extracted to, served at /boot/ (default ~/.ocne/serve/NAME/boot)")
	f.StringVar(&o.KickstartFile, "kickstart-file", "ock.ks", "name of the Kickstart in the Kickstart directory")
	f.StringVar(&o.IgnitionFile, "ignition-file", "ock.ign", "name of the nodes' Ignition config in the Ignition directory")
	f.StringVar(&o.Kickstart, "kickstart", "", "'auto': write a Kickstart that installs from this server and boots with the Ignition config at --ignition-file")
	f.StringVar(&o.AdvertiseAddress, "advertise-address", "", "address nodes reach this host at (default: the address of the default route)")
	f.DurationVar(&o.Timeout, "timeout", podman.ReadyTimeout, "how long to wait for the repository to answer")
	o.Print.AddFlags(c)
	cli.AddVerboseFlag(c, &o.Verbose, "say what is being done on stderr")
	c.MarkFlagDirname("kickstart-dir")
	c.MarkFlagDirname("ignition-dir")
	c.MarkFlagDirname("boot-dir")
	c.MarkFlagFilename("iso", "iso")
	c.RegisterFlagCompletionFunc("restart", cli.FixedCompletion(podman.RestartPolicies...))
	c.RegisterFlagCompletionFunc("kickstart", cli.FixedCompletion("auto"))
	c.RegisterFlagCompletionFunc("image", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{layout.Repository + ":latest"}, cobra.ShellCompDirectiveNoFileComp
	})
	return c, o
}

// Complete fills the defaults that depend on other flags or the host.
func (o *ServeOptions) Complete() error {
	if o.KickstartDir == "" || o.IgnitionDir == "" || o.BootDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("no home directory for the default served directories (%v): pass --kickstart-dir and --ignition-dir", err)
		}
		base := filepath.Join(home, ".ocne", "serve", o.Name)
		if o.KickstartDir == "" {
			o.KickstartDir = filepath.Join(base, podman.KickstartPath)
		}
		if o.IgnitionDir == "" {
			o.IgnitionDir = filepath.Join(base, podman.IgnitionPath)
		}
		if o.BootDir == "" {
			o.BootDir = filepath.Join(base, podman.BootPath)
		}
	}
	for _, d := range []*string{&o.KickstartDir, &o.IgnitionDir, &o.BootDir} {
		abs, err := filepath.Abs(*d)
		if err != nil {
			return err
		}
		*d = abs
	}
	return nil
}

// Validate rejects bad flag values before any work starts.
func (o *ServeOptions) Validate() error {
	if err := o.conn.Validate(); err != nil {
		return err
	}
	if o.Port < 1 || o.Port > 65535 {
		return cli.Usagef("invalid --port %d: use 1-65535", o.Port)
	}
	if !slices.Contains(podman.RestartPolicies, o.Restart) {
		return cli.Usagef("invalid --restart %q: use one of %s", o.Restart, strings.Join(podman.RestartPolicies, ", "))
	}
	if err := checkName(o.Name); err != nil {
		return err
	}
	for flag, name := range map[string]string{"--kickstart-file": o.KickstartFile, "--ignition-file": o.IgnitionFile} {
		if name == "" || strings.ContainsRune(name, '/') || name == "." || name == ".." {
			return cli.Usagef("invalid %s %q: a file name, without directory", flag, name)
		}
	}
	if o.Kickstart != "" && o.Kickstart != "auto" {
		return cli.Usagef("invalid --kickstart %q: 'auto' is the only value; put your own Kickstart in --kickstart-dir", o.Kickstart)
	}
	if o.AdvertiseAddress != "" && net.ParseIP(o.AdvertiseAddress) == nil && !validHostname(o.AdvertiseAddress) {
		return cli.Usagef("invalid --advertise-address %q: an IP address or host name", o.AdvertiseAddress)
	}
	return o.Print.Validate()
}

// validHostname accepts DNS names: nothing that would break a URL.
func validHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Run serves.
func (o *ServeOptions) Run(ctx context.Context) error {
	addr := o.AdvertiseAddress
	if addr == "" {
		var err error
		if addr, err = podman.AdvertiseAddress(); err != nil {
			return err
		}
	}
	client, err := o.conn.Connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	o.logf("Podman %s at %s", client.Version, client.URL)
	img, err := client.ArchiveImage(o.Image)
	if err != nil {
		return err
	}
	so := podman.ServeOptions{
		RunSpec: podman.RunSpec{
			Name: o.Name, Image: o.Image, Port: o.Port, Restart: o.Restart,
			Replace: o.Replace, Ready: o.Timeout,
		},
		AdvertiseAddress: addr,
		KickstartDir:     o.KickstartDir,
		IgnitionDir:      o.IgnitionDir,
		KickstartFile:    o.KickstartFile,
		IgnitionFile:     o.IgnitionFile,
	}
	site := podman.NewSite(podman.BaseURL(addr, o.Port), so, img)
	var files []podman.File
	if o.Kickstart == "auto" {
		ks, err := kickstart.Render(kickstart.Config{OSTreeURL: site.OSTreeURL, Ref: site.Ref, IgnitionURL: site.IgnitionURL})
		if err != nil {
			return cli.Usage(fmt.Errorf("cannot write the Kickstart: %w", err))
		}
		files = append(files, podman.File{Path: filepath.Join(o.KickstartDir, o.KickstartFile), Data: ks, Mode: 0o644})
	}
	dirs := []podman.Dir{{Path: o.KickstartDir, Mode: 0o755}, {Path: o.IgnitionDir, Mode: 0o700}}
	if o.ISO != "" {
		ipxe, err := site.AddBoot()
		if err != nil {
			return cli.Usage(fmt.Errorf("cannot boot from this server: %w", err))
		}
		files = append(files, podman.File{Path: filepath.Join(o.BootDir, podman.IPXEFile), Data: ipxe, Mode: 0o644})
		dirs = append(dirs, podman.Dir{Path: o.BootDir, Mode: 0o755})
		so.Mounts = map[string]string{podman.BootPath: o.BootDir}
	}
	undo, err := podman.MakeDirs(dirs...)
	if err != nil {
		return err
	}
	if o.ISO != "" {
		o.logf("Extracting the installer from %s into %s", o.ISO, o.BootDir)
		if _, err := bootmedia.ExtractPXE(ctx, o.ISO, o.BootDir); err != nil {
			undo()
			return err
		}
	}
	o.logf("Starting %s from %s on port %d", o.Name, o.Image, o.Port)
	site, err = client.Serve(so, site, files...)
	if err != nil {
		undo()
		return err
	}
	if _, err := os.Stat(filepath.Join(o.KickstartDir, o.KickstartFile)); err != nil {
		fmt.Fprintf(o.ErrOut, "warning: there is no %s in %s yet: put your Kickstart there\n", o.KickstartFile, o.KickstartDir)
	}
	return printSite(o.Out, o.Print, site, nil)
}

func (o *ServeOptions) logf(format string, args ...any) {
	if o.Verbose > 0 {
		fmt.Fprintf(o.ErrOut, format+"\n", args...)
	}
}

// serverStatus is what status adds to the site: the container's state and
// the service it runs in.
type serverStatus struct {
	Container *podman.Container
	Podman    *podman.Service
}

// printSite prints what a server offers; st (status) adds the container
// and the service.
func printSite(out io.Writer, p *cli.PrintFlags, site *podman.Site, st *serverStatus) error {
	if st == nil {
		st = &serverStatus{}
	}
	v := struct {
		Site      *podman.Site      `json:"site"`
		Container *podman.Container `json:"container,omitempty"`
		Podman    *podman.Service   `json:"podman,omitempty"`
	}{site, st.Container, st.Podman}
	return p.Print(out, v, func(w io.Writer) error { return printSiteText(w, site, st) })
}

func printSiteText(w io.Writer, site *podman.Site, st *serverStatus) error {
	if ctr := st.Container; ctr != nil {
		fmt.Fprintf(w, "Container:      %s (%s, %s)\n", ctr.Name, ctr.State, shortID(ctr.ID))
	}
	if svc := st.Podman; svc != nil {
		fmt.Fprintf(w, "Podman:         %s (%s)\n", svc.Version, svc.URL)
	}
	fmt.Fprintf(w, "OSTree URL:     %s (ref %s)\n", site.OSTreeURL, site.Ref)
	fmt.Fprintf(w, "Kickstart URL:  %s\n", site.KickstartURL)
	fmt.Fprintf(w, "Ignition URL:   %s\n", site.IgnitionURL)
	if site.KernelURL != "" {
		fmt.Fprintf(w, "Kernel:         %s\n", site.KernelURL)
		fmt.Fprintf(w, "Initrd:         %s\n", site.InitrdURL)
	}
	fmt.Fprintf(w, "Kernel args:    %s\n", site.KernelArgs)
	if site.IPXE != "" {
		fmt.Fprintf(w, "iPXE script:    %s\n%s", site.IPXEURL, site.IPXE)
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
