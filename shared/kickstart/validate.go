package kickstart

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// FieldError names the setting that cannot go into the file and why.
type FieldError struct {
	Field   string // the Config field, e.g. IgnitionURL or Network.IP
	Value   string
	Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("kickstart %s %q: %s", e.Field, e.Value, e.Problem)
}

// unsafeChars break a value out of its place: Anaconda splits lines like a
// POSIX shell (quotes, backslash, # comments) and GRUB parses the kernel
// command line as a script ($ expansion, ; & | < > { } `).
const unsafeChars = "\"'\\#$;&|<>{}`"

// checkText refuses empty values, whitespace, control and non-ASCII
// characters and unsafeChars.
func checkText(field, v string) error {
	if v == "" {
		return &FieldError{field, v, "must not be empty"}
	}
	for _, r := range v {
		switch {
		case r == '\n' || r == '\r':
			return &FieldError{field, v, "contains a line break"}
		case r == ' ' || r == '\t':
			return &FieldError{field, v, "contains a space"}
		case r < 0x21 || r > 0x7e:
			return &FieldError{field, v, fmt.Sprintf("contains %q: only printable ASCII is allowed (percent-encode it in a URL)", r)}
		case strings.ContainsRune(unsafeChars, r):
			return &FieldError{field, v, fmt.Sprintf("contains %q, which would break the Kickstart file or the kernel command line (percent-encode it in a URL)", r)}
		}
	}
	return nil
}

// CheckURL refuses a URL that is not absolute, has another scheme than
// those given, or holds characters unsafe in a Kickstart file or on a
// kernel command line.
func CheckURL(field, v string, schemes ...string) error {
	if err := checkText(field, v); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil {
		return &FieldError{field, v, "is not a URL"}
	}
	if !slices.Contains(schemes, u.Scheme) {
		return &FieldError{field, v, "must be a URL with scheme " + strings.Join(schemes, ", ")}
	}
	if u.Host == "" && u.Scheme != "file" {
		return &FieldError{field, v, "has no host"}
	}
	if u.Scheme == "file" && (u.Path == "" || !strings.HasPrefix(u.Path, "/")) {
		return &FieldError{field, v, "must be file:///absolute/path"}
	}
	return nil
}

// CheckKernelArg refuses a kernel argument that is unsafe on the command
// line or in the Kickstart file.
func CheckKernelArg(field, v string) error {
	if err := checkText(field, v); err != nil {
		return err
	}
	if v[0] == '=' {
		return &FieldError{field, v, "has no name before '='"}
	}
	return nil
}

var (
	// Names start with a letter or digit so that none reads as an option.
	ostreeName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	ostreeRef   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)
	tzName      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+/-]*$`)
	keymap      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	locale      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.@-]*$`)
	diskName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/_.:+-]*$`)
	ifName      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$`)
	serviceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9@._:-]*$`)
	hostName    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
)

func checkName(field, v string, re *regexp.Regexp, what string) error {
	if err := checkText(field, v); err != nil {
		return err
	}
	if !re.MatchString(v) {
		return &FieldError{field, v, "is not " + what}
	}
	return nil
}

func checkOneOf(field, v string, allowed []string) error {
	if !slices.Contains(allowed, v) {
		return &FieldError{field, v, "must be one of " + strings.Join(allowed, ", ")}
	}
	return nil
}

func checkIPv4(field, v string) error {
	if err := checkText(field, v); err != nil {
		return err
	}
	if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
		return &FieldError{field, v, "is not an IPv4 address"}
	}
	return nil
}

func (c Config) validate() error {
	checks := []error{
		CheckURL("OSTreeURL", c.OSTreeURL, "http", "https", "file"),
		checkName("Ref", c.Ref, ostreeRef, "an OSTree ref (letters, digits, . _ - /)"),
		checkName("OSName", c.OSName, ostreeName, "an OSTree OS name (letters, digits, . _ -)"),
		checkName("Remote", c.Remote, ostreeName, "an OSTree remote name (letters, digits, . _ -)"),
		CheckURL("IgnitionURL", c.IgnitionURL, "http", "https", "tftp", "s3", "gs"),
		checkOneOf("SELinux", c.SELinux, SELinuxModes),
		checkName("Timezone", c.Timezone, tzName, "a time zone name such as UTC or Europe/Berlin"),
		checkName("Keyboard", c.Keyboard, keymap, "a keymap name such as us or de-nodeadkeys"),
		checkName("Lang", c.Lang, locale, "a locale such as en_US.UTF-8"),
		checkOneOf("Firmware", c.Firmware, Firmwares),
		checkOneOf("FSType", c.FSType, FSTypes),
		checkOneOf("Finish", c.Finish, FinishActions),
	}
	for i, a := range c.KernelArgs {
		checks = append(checks, CheckKernelArg(fmt.Sprintf("KernelArgs[%d]", i), a))
	}
	if c.Disk != "" {
		checks = append(checks, checkName("Disk", c.Disk, diskName, "a disk name such as sda or disk/by-id/..."))
	}
	for _, s := range []struct {
		field string
		size  int
		min   int
	}{{"BootSizeMiB", c.BootSizeMiB, 256}, {"EFISizeMiB", c.EFISizeMiB, 100}, {"RootSizeMiB", c.RootSizeMiB, 0}} {
		if s.size < s.min {
			checks = append(checks, &FieldError{s.field, fmt.Sprint(s.size), fmt.Sprintf("must be at least %d", s.min)})
		}
	}
	for i, s := range c.EnableServices {
		checks = append(checks, checkName(fmt.Sprintf("EnableServices[%d]", i), s, serviceName, "a systemd unit name"))
	}
	for i, s := range c.DisableServices {
		checks = append(checks, checkName(fmt.Sprintf("DisableServices[%d]", i), s, serviceName, "a systemd unit name"))
	}
	checks = append(checks, c.Network.validate()...)
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

func (n Network) validate() []error {
	errs := []error{checkOneOf("Network.BootProto", n.BootProto, BootProtos)}
	if n.Device != "" {
		errs = append(errs, checkName("Network.Device", n.Device, ifName, "a network interface name such as eth0 or enp1s0"))
	}
	if n.Hostname != "" {
		errs = append(errs, checkName("Network.Hostname", n.Hostname, hostName, "a host name"))
	}
	if n.BootProto != "static" {
		for _, f := range [][2]string{{"Network.IP", n.IP}, {"Network.Netmask", n.Netmask}, {"Network.Gateway", n.Gateway}} {
			if f[1] != "" {
				errs = append(errs, &FieldError{f[0], f[1], "needs Network.BootProto static"})
			}
		}
		if len(n.Nameservers) > 0 {
			errs = append(errs, &FieldError{"Network.Nameservers", strings.Join(n.Nameservers, ","), "needs Network.BootProto static"})
		}
		return errs
	}
	if n.Device == "" {
		// dracut's static ip= binds to an interface; without one the
		// initramfs may configure another NIC than the installer did.
		errs = append(errs, &FieldError{"Network.Device", "", "must be set for a static address"})
	}
	errs = append(errs, checkIPv4("Network.IP", n.IP), checkIPv4("Network.Netmask", n.Netmask))
	if n.Netmask != "" {
		if m, err := netip.ParseAddr(n.Netmask); err == nil && m.Is4() {
			b := m.As4()
			// A netmask is ones then zeros: its complement plus one is a power of two.
			inv := ^(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
			if inv == ^uint32(0) || inv&(inv+1) != 0 {
				errs = append(errs, &FieldError{"Network.Netmask", n.Netmask, "is not a netmask such as 255.255.255.0"})
			}
		}
	}
	if n.Gateway != "" {
		errs = append(errs, checkIPv4("Network.Gateway", n.Gateway))
	}
	for i, ns := range n.Nameservers {
		errs = append(errs, checkIPv4(fmt.Sprintf("Network.Nameservers[%d]", i), ns))
	}
	return errs
}
