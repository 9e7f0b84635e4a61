package podman

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocne-image/ocne-image/shared/atomicfile"
	"github.com/ocne-image/ocne-image/shared/bootmedia"
)

// Paths under the server's web root. ks is where the old nginx image had
// it; ignition and the network boot media sit beside it.
const (
	KickstartPath = "ks"
	IgnitionPath  = "ignition"
	BootPath      = "boot"
	// IPXEFile is the iPXE script's name in the boot directory, for
	// "chain http://HOST:PORT/boot/boot.ipxe", the name kubectl ocne-image
	// kickstart --iso uses too.
	IPXEFile = "boot.ipxe"
)

// labelSite holds the Site as JSON, so status can print it again.
const labelSite = LabelPrefix + "site"

// ServeOptions are the inputs of Serve.
type ServeOptions struct {
	RunSpec
	// AdvertiseAddress is the host address nodes reach the server at.
	AdvertiseAddress string
	// KickstartDir and IgnitionDir are served at /ks/ and /ignition/;
	// they are created if missing.
	KickstartDir, IgnitionDir string
	// KickstartFile is the Kickstart's name in KickstartDir, IgnitionFile
	// the Ignition config's name in IgnitionDir.
	KickstartFile, IgnitionFile string
}

// File is written into a served directory once the server answers.
type File struct {
	Path string
	Data []byte
	Mode os.FileMode
}

// Site is what a running server offers, as the nodes see it.
type Site struct {
	URL          string `json:"url"`
	Name         string `json:"name"`
	Image        string `json:"image"`
	Commit       string `json:"commit,omitempty"`
	OSTreeURL    string `json:"ostreeURL"`
	Ref          string `json:"ref"`
	KickstartURL string `json:"kickstartURL"`
	IgnitionURL  string `json:"ignitionURL"`
	// KernelArgs boot the installer into this Kickstart.
	KernelArgs string `json:"kernelArgs"`
	KernelURL  string `json:"kernelURL,omitempty"`
	InitrdURL  string `json:"initrdURL,omitempty"`
	IPXEURL    string `json:"ipxeURL,omitempty"`
	IPXE       string `json:"ipxe,omitempty"`
}

// BaseURL is the server's address for the nodes.
func BaseURL(addr string, port int) string {
	return "http://" + net.JoinHostPort(addr, strconv.Itoa(port))
}

// NewSite lays out the URLs of a server at base.
func NewSite(base string, o ServeOptions, img *ImageInfo) *Site {
	// Names go in unescaped: the Kickstart renderer refuses what would
	// need escaping, rather than serve a file under a surprising name.
	ks := base + "/" + KickstartPath + "/" + o.KickstartFile
	return &Site{
		URL: base, Name: o.Name, Image: o.Image, Commit: img.Commit, Ref: img.Ref,
		OSTreeURL:    base + "/ostree",
		KickstartURL: ks,
		IgnitionURL:  base + "/" + IgnitionPath + "/" + o.IgnitionFile,
		KernelArgs:   "inst.ks=" + ks,
	}
}

// AddBoot adds the network boot media served at /boot/ (the layout
// bootmedia.ExtractPXE writes): the installer's kernel and initrd, its
// kernel arguments with inst.stage2, and an iPXE script, which it returns.
func (s *Site) AddBoot() ([]byte, error) {
	b := bootmedia.Boot{BaseURL: s.URL + "/" + BootPath, KickstartURL: s.KickstartURL}
	args, err := bootmedia.KernelArgs(b)
	if err != nil {
		return nil, err
	}
	script, err := bootmedia.IPXEScript(b)
	if err != nil {
		return nil, err
	}
	s.KernelURL = b.BaseURL + "/" + bootmedia.KernelPath
	s.InitrdURL = b.BaseURL + "/" + bootmedia.InitrdPath
	s.KernelArgs = strings.Join(args, " ")
	s.IPXEURL = b.BaseURL + "/" + IPXEFile
	s.IPXE = string(script)
	return script, nil
}

// Serve runs the archive server for o as described by site, then writes
// files (a generated Kickstart) into the served directories. Files are
// written only once the server runs, so a failed serve overwrites nothing;
// if writing fails, the container is removed again.
func (c *Client) Serve(o ServeOptions, site *Site, files ...File) (*Site, error) {
	if o.Mounts == nil {
		o.Mounts = map[string]string{}
	}
	o.Mounts[KickstartPath] = o.KickstartDir
	o.Mounts[IgnitionPath] = o.IgnitionDir
	raw, err := json.Marshal(site)
	if err != nil {
		return nil, err
	}
	if o.Labels == nil {
		o.Labels = map[string]string{}
	}
	o.Labels[labelSite] = string(raw)
	ctr, err := c.Run(o.RunSpec, c.ProbeHost())
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := atomicfile.Write(f.Path, f.Data, f.Mode); err != nil {
			c.remove(ctr.ID)
			return nil, err
		}
	}
	return site, nil
}

// SiteOf returns what the named podman-ocne container serves.
func (c *Client) SiteOf(ctr *Container) (*Site, error) {
	var s Site
	if err := json.Unmarshal([]byte(ctr.Labels[labelSite]), &s); err != nil {
		return nil, fmt.Errorf("container %s has no readable %s label: %v", ctr.Name, labelSite, err)
	}
	return &s, nil
}

// Dir is a directory to serve and the mode to create it with.
type Dir struct {
	Path string
	Mode os.FileMode
}

// MakeDirs creates the served directories that do not exist yet, in
// order, and returns a function that removes exactly those again. The
// Ignition directory is private: the files in it hold join tokens.
func MakeDirs(dirs ...Dir) (undo func(), err error) {
	var made []string
	undo = func() {
		for i := len(made) - 1; i >= 0; i-- {
			os.RemoveAll(made[i])
		}
	}
	for _, d := range dirs {
		top, err := mkdirAll(d.Path, d.Mode)
		if err != nil {
			undo()
			return nil, fmt.Errorf("create %s: %w", d.Path, err)
		}
		if top != "" {
			made = append(made, top)
		}
	}
	return undo, nil
}

// mkdirAll is os.MkdirAll that reports the topmost directory it created.
func mkdirAll(dir string, mode os.FileMode) (string, error) {
	dir = filepath.Clean(dir)
	top := ""
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		top = d
		if filepath.Dir(d) == d {
			break
		}
	}
	if top == "" {
		return "", nil // the user's own directory: leave its mode alone
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return "", err
	}
	// MkdirAll applies the umask; the Ignition directory must end up
	// private whatever the umask.
	if err := os.Chmod(dir, mode); err != nil {
		return "", err
	}
	return top, nil
}

// AdvertiseAddress is this host's address on its default route: the one
// nodes on the local network most likely reach it at. Connecting a UDP
// socket sends nothing; it only asks the kernel which source address it
// would use.
func AdvertiseAddress() (string, error) {
	for _, probe := range []string{"192.0.2.1:9", "[2001:db8::1]:9"} {
		conn, err := net.Dial("udp", probe)
		if err != nil {
			continue
		}
		addr := conn.LocalAddr().(*net.UDPAddr).IP.String()
		conn.Close()
		return addr, nil
	}
	return "", ErrNoDefaultRoute
}

// ErrNoDefaultRoute is AdvertiseAddress's failure: nodes reach this host at
// an address it cannot guess.
var ErrNoDefaultRoute = errors.New("cannot tell this host's address: it has no default route")

// ReadyTimeout is how long serve waits for the repository by default.
const ReadyTimeout = 60 * time.Second
