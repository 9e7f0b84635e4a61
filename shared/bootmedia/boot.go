package bootmedia

import (
	"fmt"
	"strings"

	"github.com/ocne-image/ocne-image/shared/kickstart"
)

// Boot says where the installer's files are served.
type Boot struct {
	// BaseURL is where the extraction directory is served over HTTP, e.g.
	// http://10.0.0.5:8080/boot: the kernel is BaseURL/images/pxeboot/vmlinuz
	// and inst.stage2 is BaseURL itself.
	BaseURL string
	// KickstartURL is where the Kickstart file is served (inst.ks).
	KickstartURL string
	// IP is the installer's dracut ip= value; default dhcp.
	IP string
	// Proxy is the installer's HTTP proxy (inst.proxy), used for the
	// stage2 image and the OSTree pull; empty for none.
	Proxy string
	// ExtraArgs are appended to the installer's kernel command line.
	ExtraArgs []string
}

func (b Boot) validate() error {
	base := strings.TrimSuffix(b.BaseURL, "/")
	errs := []error{
		kickstart.CheckURL("BaseURL", base, "http", "https"),
		kickstart.CheckURL("KickstartURL", b.KickstartURL, "http", "https"),
	}
	if b.IP != "" {
		errs = append(errs, kickstart.CheckKernelArg("IP", b.IP))
	}
	if b.Proxy != "" {
		errs = append(errs, kickstart.CheckURL("Proxy", b.Proxy, "http", "https"))
	}
	for i, a := range b.ExtraArgs {
		errs = append(errs, kickstart.CheckKernelArg(fmt.Sprintf("ExtraArgs[%d]", i), a))
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("boot media: %w", err)
		}
	}
	return nil
}

// KernelArgs returns the installer's kernel command line (without the
// kernel and initrd): inst.ks, inst.stage2, the network and the extras.
func KernelArgs(b Boot) ([]string, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	ip := b.IP
	if ip == "" {
		ip = "dhcp"
	}
	args := []string{"inst.ks=" + b.KickstartURL, "inst.stage2=" + strings.TrimSuffix(b.BaseURL, "/"), "ip=" + ip}
	if b.Proxy != "" {
		args = append(args, "inst.proxy="+b.Proxy)
	}
	return append(args, b.ExtraArgs...), nil
}

// IPXEScript returns an iPXE script that boots the installer over HTTP.
// The same checks as for the Kickstart file keep values from adding
// commands or ${} expansions to it.
func IPXEScript(b Boot) ([]byte, error) {
	args, err := KernelArgs(b)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(b.BaseURL, "/")
	// initrd= names the image for kernels booted through the EFI stub.
	return []byte(fmt.Sprintf(`#!ipxe
# OCK node installer, written by ocne-image
dhcp
kernel %s/%s initrd=initrd.img %s
initrd %s/%s
boot
`, base, KernelPath, strings.Join(args, " "), base, InitrdPath)), nil
}
