package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/atomicfile"
	"github.com/ocne-image/ocne-image/shared/bootmedia"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/kickstart"
)

const kickstartExample = `  # The documented install: DHCP, UEFI, xfs, SELinux enforcing, reboot when done
  kubectl ocne-image kickstart --ostree-url http://10.0.0.5:8080/ostree \
    --ignition-url http://10.0.0.5:8080/ks/worker.ign --output-file ks/worker.ks

  # A static address on a BIOS machine's second disk, powered off when done
  kubectl ocne-image kickstart --ostree-url http://10.0.0.5:8080/ostree \
    --ignition-url http://10.0.0.5:8080/ks/cp-1.ign --boot-proto static --network-device enp1s0 \
    --ip 192.168.1.20 --netmask 255.255.255.0 --gateway 192.168.1.1 --nameserver 192.168.1.2 \
    --hostname cp-1 --firmware bios --disk sdb --finish poweroff --output-file ks/cp-1.ks

  # Also unpack the installer from an Oracle Linux UEK boot ISO into boot/ and
  # write boot/boot.ipxe; serve ks/ and boot/ at these URLs, then PXE-boot the node
  kubectl ocne-image kickstart --ostree-url http://10.0.0.5:8080/ostree \
    --ignition-url http://10.0.0.5:8080/ks/worker.ign --output-file ks/worker.ks \
    --iso OracleLinux-R9-U6-x86_64-boot-uek.iso --boot-dir boot \
    --boot-url http://10.0.0.5:8080/boot --kickstart-url http://10.0.0.5:8080/ks/worker.ks`

// KickstartOptions are the inputs of `kickstart`.
type KickstartOptions struct {
	Config     kickstart.Config
	OutputFile string
	Print      *cli.PrintFlags
	ConfigFile string
	Verbose    int

	// Boot media, with --iso.
	ISO         string
	BootDir     string
	Boot        bootmedia.Boot
	defaultsDir string // tests point this at a fake home

	genericiooptions.IOStreams
}

// NewCmdKickstart returns the `kickstart` command.
func NewCmdKickstart(streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdKickstart(&KickstartOptions{IOStreams: streams})
}

func newCmdKickstart(o *KickstartOptions) *cobra.Command {
	o.Print = cli.NewPrintFlags()
	c := &cobra.Command{
		Use:   "kickstart --ostree-url URL --ignition-url URL [--output-file FILE] [--iso ISO --boot-dir DIR ...]",
		Short: "Write the Kickstart file that installs an OCK node from the OSTree archive",
		Long: `Write the automated install Oracle's documentation describes: Anaconda
deploys the OCK commit from the OSTree archive server (ostreesetup), and the
installed node runs Ignition from --ignition-url on its first boot, which
joins it to the cluster. Every value is checked; one that would break the
file or the kernel command line (line breaks, quotes, spaces, $, ;, #, ...)
is refused.

Defaults for --ostree-url, --selinux, --timezone, --keyboard, --lang, --disk,
--firmware, --fs-type and --finish come from the "kickstart:" section of
~/.ocne/ocne-image.yaml and the --config cluster file (keys ostreeUrl, selinux,
timezone, keyboard, lang, disk, firmware, fsType, finish); flags win.

With --iso, the PXE kernel, initrd and installer image (images/install.img)
are copied out of an Oracle Linux boot ISO into --boot-dir, keeping their
paths, with an iPXE script boot.ipxe beside them; serve that directory at
--boot-url and the Kickstart file at --kickstart-url. The installer's kernel
arguments are printed: inst.ks=KICKSTART-URL inst.stage2=BOOT-URL ip=dhcp.`,
		Example: kickstartExample,
		Args:    cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(c); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	k, n := &o.Config, &o.Config.Network
	f := c.Flags()
	f.StringVar(&k.OSTreeURL, "ostree-url", "", "the OSTree archive repository, e.g. http://HOST:8080/ostree (config kickstart.ostreeUrl)")
	f.StringVar(&k.IgnitionURL, "ignition-url", "", "where the node fetches its Ignition config on first boot (http, https, tftp, s3, gs)")
	f.StringVar(&k.Ref, "ref", kickstart.DefaultRef, "OSTree ref to deploy")
	f.StringVar(&k.OSName, "osname", kickstart.DefaultOSName, "OSTree OS name (stateroot)")
	f.StringVar(&k.Remote, "remote", "", "OSTree remote name on the node (default: the OS name)")
	f.StringArrayVar(&k.KernelArgs, "kernel-arg", nil, "extra kernel argument for the installed node (repeatable)")
	f.StringVar(&n.BootProto, "boot-proto", "dhcp", "network configuration: dhcp or static")
	f.StringVar(&n.Device, "network-device", "", "network interface name; required with --boot-proto static (default: the one the installer booted from)")
	f.StringVar(&n.IP, "ip", "", "static IPv4 address")
	f.StringVar(&n.Netmask, "netmask", "", "static netmask, e.g. 255.255.255.0")
	f.StringVar(&n.Gateway, "gateway", "", "static default gateway")
	f.StringSliceVar(&n.Nameservers, "nameserver", nil, "static DNS server (repeatable or comma-separated)")
	f.StringVar(&n.Hostname, "hostname", "", "the node's host name")
	f.StringVar(&k.SELinux, "selinux", "", "SELinux mode: enforcing, permissive or disabled (default enforcing)")
	f.StringVar(&k.Timezone, "timezone", "", "time zone, e.g. Europe/Berlin (default UTC)")
	f.StringVar(&k.Keyboard, "keyboard", "", "console keymap (default us)")
	f.StringVar(&k.Lang, "lang", "", "locale (default en_US.UTF-8)")
	f.StringVar(&k.Disk, "disk", "", "install on this disk only, e.g. sda or disk/by-id/... (default: all disks found)")
	f.StringVar(&k.Firmware, "firmware", "", "uefi (a /boot/efi partition) or bios (a biosboot partition) (default uefi)")
	f.StringVar(&k.FSType, "fs-type", "", "file system of /boot and /: xfs or ext4 (default xfs)")
	f.IntVar(&k.BootSizeMiB, "boot-size", kickstart.DefaultBootSizeMiB, "size of /boot in MiB")
	f.IntVar(&k.EFISizeMiB, "efi-size", kickstart.DefaultEFISizeMiB, "size of /boot/efi in MiB")
	f.IntVar(&k.RootSizeMiB, "root-size", 0, "size of / in MiB; 0 fills the disk")
	f.StringVar(&k.Finish, "finish", "", "when installed: reboot, poweroff, shutdown or halt (default reboot)")
	f.StringSliceVar(&k.EnableServices, "enable-service", nil, "systemd unit to enable besides ostree-remount (repeatable)")
	f.StringSliceVar(&k.DisableServices, "disable-service", nil, "systemd unit to disable (repeatable)")
	o.Print.AddFileFlag(c, &o.OutputFile, "file to write the Kickstart to (default: standard output)", "ks", "cfg")
	o.Print.AddFlags(c)
	o.Print.AddOutputFormatAlias(c)
	f.StringVarP(&o.ConfigFile, "config", "c", "", "cluster configuration file")
	f.StringVar(&o.ISO, "iso", "", "Oracle Linux boot ISO to take the installer from")
	f.StringVar(&o.BootDir, "boot-dir", "", "directory to unpack the installer into (with --iso)")
	f.StringVar(&o.Boot.BaseURL, "boot-url", "", "URL --boot-dir will be served at (with --iso)")
	f.StringVar(&o.Boot.KickstartURL, "kickstart-url", "", "URL the Kickstart file will be served at (with --iso)")
	f.StringVar(&o.Boot.IP, "installer-ip", "", "the installer's dracut ip= value (default dhcp)")
	f.StringVar(&o.Boot.Proxy, "installer-proxy", "", "HTTP proxy for the installer's downloads, stage2 and OSTree alike (inst.proxy)")
	f.StringArrayVar(&o.Boot.ExtraArgs, "installer-arg", nil, "extra kernel argument for the installer (repeatable)")
	cli.AddVerboseFlag(c, &o.Verbose, "print more detail")

	for flag, values := range map[string][]string{
		"boot-proto": kickstart.BootProtos, "selinux": kickstart.SELinuxModes, "firmware": kickstart.Firmwares,
		"fs-type": kickstart.FSTypes, "finish": kickstart.FinishActions,
		"timezone": {"UTC"}, "keyboard": {"us"}, "lang": {"en_US.UTF-8"},
	} {
		c.RegisterFlagCompletionFunc(flag, cli.FixedCompletion(values...))
	}
	c.MarkFlagFilename("iso", "iso")
	c.MarkFlagDirname("boot-dir")
	c.MarkFlagFilename("config", "yaml", "yml")
	return c
}

// Complete fills what the flags left unset from the configuration files.
// The built-in defaults are kickstart.Render's.
func (o *KickstartOptions) Complete(c *cobra.Command) error {
	cfg, err := loadConfig(o.defaultsDir, o.ConfigFile, o.ErrOut, nil)
	if err != nil {
		return err
	}
	k, ck := &o.Config, cfg.Kickstart
	for _, p := range []struct {
		flag string
		dst  *string
		v    string
	}{
		{"ostree-url", &k.OSTreeURL, ck.OSTreeURL}, {"selinux", &k.SELinux, ck.SELinux},
		{"timezone", &k.Timezone, ck.Timezone}, {"keyboard", &k.Keyboard, ck.Keyboard},
		{"lang", &k.Lang, ck.Lang}, {"disk", &k.Disk, ck.Disk}, {"firmware", &k.Firmware, ck.Firmware},
		{"fs-type", &k.FSType, ck.FSType}, {"finish", &k.Finish, ck.Finish},
	} {
		if !c.Flags().Changed(p.flag) && p.v != "" {
			*p.dst = p.v
		}
	}
	return nil
}

// fieldFlags maps the settings' names to the flags that set them, so that
// a refused value is reported as the flag the user typed.
var fieldFlags = map[string]string{
	"OSTreeURL": "--ostree-url", "IgnitionURL": "--ignition-url", "Ref": "--ref", "OSName": "--osname",
	"Remote": "--remote", "KernelArgs": "--kernel-arg", "Network.BootProto": "--boot-proto",
	"Network.Device": "--network-device", "Network.IP": "--ip", "Network.Netmask": "--netmask",
	"Network.Gateway": "--gateway", "Network.Nameservers": "--nameserver", "Network.Hostname": "--hostname",
	"SELinux": "--selinux", "Timezone": "--timezone", "Keyboard": "--keyboard", "Lang": "--lang",
	"Disk": "--disk", "Firmware": "--firmware", "FSType": "--fs-type", "BootSizeMiB": "--boot-size",
	"EFISizeMiB": "--efi-size", "RootSizeMiB": "--root-size", "Finish": "--finish",
	"EnableServices": "--enable-service", "DisableServices": "--disable-service",
	"BaseURL": "--boot-url", "KickstartURL": "--kickstart-url", "IP": "--installer-ip",
	"Proxy": "--installer-proxy", "ExtraArgs": "--installer-arg",
}

// flagError restates a FieldError in terms of the flag.
func flagError(err error) error {
	var fe *kickstart.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := fe.Field
	if i := strings.IndexByte(field, '['); i > 0 {
		field = field[:i]
	}
	if flag, ok := fieldFlags[field]; ok {
		return cli.Usagef("invalid %s %q: %s", flag, fe.Value, fe.Problem)
	}
	return cli.Usage(err)
}

// Validate rejects bad flag values before anything is written.
func (o *KickstartOptions) Validate() error {
	if o.Config.OSTreeURL == "" || o.Config.IgnitionURL == "" {
		return cli.Usagef("--ostree-url and --ignition-url are required (or kickstart.ostreeUrl in the config files)")
	}
	if err := o.Print.Validate(); err != nil {
		return err
	}
	if o.Print.JSON() && o.OutputFile == "" {
		return cli.Usagef("-o json needs --output-file: standard output would hold both the Kickstart file and the JSON")
	}
	if _, err := kickstart.Render(o.Config); err != nil {
		return flagError(err)
	}
	if o.ISO == "" {
		if o.BootDir != "" || o.Boot.BaseURL != "" || o.Boot.KickstartURL != "" {
			return cli.Usagef("--boot-dir, --boot-url and --kickstart-url go with --iso")
		}
		return nil
	}
	if o.BootDir == "" || o.Boot.BaseURL == "" || o.Boot.KickstartURL == "" {
		return cli.Usagef("--iso needs --boot-dir, --boot-url and --kickstart-url")
	}
	if _, err := bootmedia.KernelArgs(o.Boot); err != nil {
		return flagError(err)
	}
	return nil
}

// bootSummary is what -o json prints.
type bootSummary struct {
	Kickstart  string   `json:"kickstart"`
	Kernel     string   `json:"kernel,omitempty"`
	Initrd     string   `json:"initrd,omitempty"`
	Stage2     string   `json:"stage2,omitempty"`
	IPXE       string   `json:"ipxe,omitempty"`
	KernelArgs []string `json:"kernelArgs,omitempty"`
}

// Run extracts the boot media (if asked), then writes the Kickstart file,
// so that a bad ISO leaves no Kickstart pointing at missing media.
func (o *KickstartOptions) Run(ctx context.Context) error {
	ks, err := kickstart.Render(o.Config)
	if err != nil {
		return flagError(err)
	}
	sum := bootSummary{Kickstart: o.OutputFile}
	if o.ISO != "" {
		if o.Verbose > 0 {
			fmt.Fprintf(o.ErrOut, "Extracting the installer from %s into %s\n", o.ISO, o.BootDir)
		}
		files, err := bootmedia.ExtractPXE(ctx, o.ISO, o.BootDir)
		if err != nil {
			return err
		}
		script, err := bootmedia.IPXEScript(o.Boot)
		if err != nil {
			return flagError(err)
		}
		sum.IPXE = filepath.Join(o.BootDir, "boot.ipxe")
		if err := atomicfile.Write(sum.IPXE, script, 0o644); err != nil {
			return err
		}
		sum.Kernel, sum.Initrd, sum.Stage2 = files.Kernel, files.Initrd, files.Stage2
		sum.KernelArgs, _ = bootmedia.KernelArgs(o.Boot)
	}
	// The file names no secret (the Ignition URL is only a location), and
	// the server that hands it to nodes must be able to read it.
	if o.OutputFile != "" {
		if err := atomicfile.Write(o.OutputFile, ks, 0o644); err != nil {
			return err
		}
	} else if _, err := o.Out.Write(ks); err != nil {
		return err
	}
	return o.Print.Print(o.Out, sum, func(w io.Writer) error {
		if o.OutputFile == "" {
			w = o.ErrOut // stdout holds the Kickstart file
		}
		if o.ISO != "" {
			fmt.Fprintf(w, "Installer in %s; iPXE script %s\nBoot the installer with: %s\n",
				o.BootDir, sum.IPXE, strings.Join(sum.KernelArgs, " "))
		} else if o.Verbose > 0 && o.OutputFile != "" {
			fmt.Fprintf(w, "Wrote %s\n", o.OutputFile)
		}
		return nil
	})
}
