// Package kickstart writes the Kickstart file that installs an OCK node
// from an OSTree archive: the automated install Oracle's documentation
// describes (ostreesetup from the archive server, Ignition on first boot),
// with every setting checked so that no value can break or add to the file.
package kickstart

import (
	"fmt"
	"strings"
)

// Defaults Render fills in for empty fields.
const (
	DefaultOSName      = "ock"
	DefaultRef         = "ock"
	DefaultSELinux     = "enforcing"
	DefaultTimezone    = "UTC"
	DefaultKeyboard    = "us"
	DefaultLang        = "en_US.UTF-8"
	DefaultFinish      = "reboot"
	DefaultFirmware    = "uefi"
	DefaultFSType      = "xfs"
	DefaultBootSizeMiB = 1024
	DefaultEFISizeMiB  = 512
)

// Allowed values of the enumerated fields, for validation and completion.
var (
	SELinuxModes  = []string{"enforcing", "permissive", "disabled"}
	FinishActions = []string{"reboot", "poweroff", "shutdown", "halt"}
	Firmwares     = []string{"uefi", "bios"}
	FSTypes       = []string{"xfs", "ext4"}
	BootProtos    = []string{"dhcp", "static"}
)

// Config is one node's install. Zero values take the defaults above; only
// OSTreeURL and IgnitionURL are required.
type Config struct {
	// OSTreeURL is the archive repository (http, https or file URL), e.g.
	// http://10.0.0.5:8080/ostree.
	OSTreeURL string
	// Ref is the OSTree ref to deploy; OSName the stateroot (ostree --os).
	Ref    string
	OSName string
	// Remote names the OSTree remote on the installed node; default OSName.
	Remote string

	// IgnitionURL is where the node fetches its Ignition config on first
	// boot (ignition.config.url): http, https, tftp, s3 or gs.
	IgnitionURL string
	// KernelArgs are appended to the installed system's kernel command line.
	KernelArgs []string

	Network Network

	SELinux  string // enforcing, permissive or disabled
	Timezone string // a tz database name; the hardware clock is UTC
	Keyboard string // a console keymap, e.g. us, de-nodeadkeys
	Lang     string // a locale, e.g. en_US.UTF-8

	// Disk limits partitioning to one disk (sda, nvme0n1,
	// disk/by-id/...); empty uses whatever disks the installer finds.
	Disk string
	// Firmware picks the boot partition: uefi (/boot/efi) or bios (biosboot).
	Firmware    string
	BootSizeMiB int    // /boot
	EFISizeMiB  int    // /boot/efi, uefi only
	FSType      string // of /boot and /: xfs or ext4
	RootSizeMiB int    // 0 grows / over the rest of the disk

	// Finish is what the installer does when done: reboot, poweroff,
	// shutdown or halt.
	Finish string

	// Services enabled besides ostree-remount, and services disabled.
	EnableServices  []string
	DisableServices []string
}

// Network configures the node's network during install and on first boot
// (the kernel's ip= argument, which Ignition needs to fetch its config).
type Network struct {
	// Device is an interface name (dracut's ip= takes no MAC address);
	// empty lets the installer pick the interface it booted from.
	Device    string
	BootProto string // dhcp or static
	// Static settings, IPv4.
	IP          string
	Netmask     string
	Gateway     string
	Nameservers []string
	Hostname    string
}

// Render applies the defaults, validates c and returns the Kickstart file.
// A value that is not safe in the file is refused with a *FieldError.
func Render(c Config) ([]byte, error) {
	c = withDefaults(c)
	if err := c.validate(); err != nil {
		return nil, err
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	line("# OCK node install, written by ocne-image")
	line("text")
	line("%s", c.Finish)
	line("keyboard %s", c.Keyboard)
	line("lang %s", c.Lang)
	line("timezone %s --utc", c.Timezone)
	line("selinux --%s", c.SELinux)
	line("firewall --use-system-defaults")
	line("%s", c.Network.kickstart())
	// The node's users come from Ignition; without this Anaconda would
	// stop and ask for a root password.
	line("rootpw --lock")
	line("")
	if c.Disk != "" {
		line("ignoredisk --only-use=%s", c.Disk)
	}
	line("zerombr")
	line("clearpart --all --initlabel")
	line("part /boot --fstype=%s --label=boot --size=%d", c.FSType, c.BootSizeMiB)
	if c.Firmware == "bios" {
		line("part biosboot --fstype=biosboot --size=1")
	} else {
		line("part /boot/efi --fstype=efi --label=efi --size=%d", c.EFISizeMiB)
	}
	if c.RootSizeMiB > 0 {
		line("part / --fstype=%s --label=root --size=%d", c.FSType, c.RootSizeMiB)
	} else {
		line("part / --fstype=%s --label=root --grow", c.FSType)
	}
	line("")
	// One services line: a second one would replace the first's lists.
	services := "services --enabled=" + strings.Join(append([]string{"ostree-remount"}, c.EnableServices...), ",")
	if len(c.DisableServices) > 0 {
		services += " --disabled=" + strings.Join(c.DisableServices, ",")
	}
	line("%s", services)
	// Values are checked free of quotes and backslashes, so plain quoting holds.
	line("bootloader --append \"%s\"", strings.Join(c.bootArgs(), " "))
	remote := ""
	if c.Remote != c.OSName {
		remote = " --remote " + c.Remote
	}
	line("ostreesetup --nogpg --osname %s%s --url %s --ref %s", c.OSName, remote, c.OSTreeURL, c.Ref)
	return []byte(b.String()), nil
}

func withDefaults(c Config) Config {
	def := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	def(&c.OSName, DefaultOSName)
	def(&c.Ref, DefaultRef)
	def(&c.Remote, c.OSName)
	def(&c.SELinux, DefaultSELinux)
	def(&c.Timezone, DefaultTimezone)
	def(&c.Keyboard, DefaultKeyboard)
	def(&c.Lang, DefaultLang)
	def(&c.Finish, DefaultFinish)
	def(&c.Firmware, DefaultFirmware)
	def(&c.FSType, DefaultFSType)
	def(&c.Network.BootProto, "dhcp")
	if c.BootSizeMiB == 0 {
		c.BootSizeMiB = DefaultBootSizeMiB
	}
	if c.EFISizeMiB == 0 {
		c.EFISizeMiB = DefaultEFISizeMiB
	}
	return c
}

// bootArgs is the installed system's extra kernel command line: the
// network in the initramfs and Ignition's first-boot settings.
func (c Config) bootArgs() []string {
	args := []string{"rw", c.Network.ipArg()}
	for _, ns := range c.Network.Nameservers {
		if c.Network.BootProto == "static" {
			args = append(args, "nameserver="+ns)
		}
	}
	args = append(args, "rd.neednet=1", "ignition.platform.id=metal",
		"ignition.config.url="+c.IgnitionURL, "ignition.firstboot=1")
	return append(args, c.KernelArgs...)
}

// kickstart is the network command.
func (n Network) kickstart() string {
	s := "network --bootproto=" + n.BootProto
	if n.Device != "" {
		s += " --device=" + n.Device
	}
	if n.BootProto == "static" {
		s += " --ip=" + n.IP + " --netmask=" + n.Netmask
		if n.Gateway != "" {
			s += " --gateway=" + n.Gateway
		}
		if len(n.Nameservers) > 0 {
			s += " --nameserver=" + strings.Join(n.Nameservers, ",")
		}
	}
	if n.Hostname != "" {
		s += " --hostname=" + n.Hostname
	}
	return s + " --activate"
}

// ipArg is dracut's ip= for the same network, so the first boot reaches
// the Ignition server before the root filesystem is up.
func (n Network) ipArg() string {
	if n.BootProto == "static" {
		// ip=<client>::<gateway>:<netmask>:<hostname>:<interface>:none
		return "ip=" + strings.Join([]string{n.IP, "", n.Gateway, n.Netmask, n.Hostname, n.Device, "none"}, ":")
	}
	if n.Device != "" {
		return "ip=" + n.Device + ":dhcp"
	}
	return "ip=dhcp"
}
