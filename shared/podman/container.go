package podman

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/specgen"
	spec "github.com/opencontainers/runtime-spec/specs-go"
	nettypes "go.podman.io/common/libnetwork/types"

	"github.com/ocne-image/ocne-image/shared/serverimage/layout"
)

// LabelRole marks the containers podman-ocne runs; status, logs, stop and
// --replace touch no container without it.
const (
	LabelRole = "io.github.ocne-image.role"
	RoleValue = "archive-server"
	// LabelPrefix starts the labels that record what a server serves, so
	// status can say it again later.
	LabelPrefix = "io.github.ocne-image."
)

// RestartPolicies are the values Podman accepts.
var RestartPolicies = []string{"always", "unless-stopped", "on-failure", "no"}

// ImageLabelCommit and ImageLabelRef are set on archive server images by
// `create`; an image without them is not one.
const (
	ImageLabelCommit = "ostree.commit"
	ImageLabelRef    = "ostree.ref"
)

// RunSpec describes an archive server container.
type RunSpec struct {
	Name    string
	Image   string
	Port    int
	Restart string
	// Replace removes an existing podman-ocne container of that name first.
	Replace bool
	// Mounts maps a path under the server's web root (e.g. "ks") to the
	// host directory served there, read-only.
	Mounts map[string]string
	// Labels are added to the role label.
	Labels map[string]string
	// Ready is how long to wait for the repository to answer.
	Ready time.Duration
}

// Container is what status reports about a server.
type Container struct {
	Name    string            `json:"name"`
	ID      string            `json:"id"`
	Image   string            `json:"image"`
	State   string            `json:"state"`
	Port    int               `json:"port,omitempty"`
	Started time.Time         `json:"started,omitzero"`
	Labels  map[string]string `json:"-"`
}

// ErrNotFound is returned for a container name Podman does not know.
var ErrNotFound = errors.New("no such container")

// NotLoadedError is an image the Podman service at URL does not have.
type NotLoadedError struct{ Image, URL string }

func (e *NotLoadedError) Error() string {
	return fmt.Sprintf("image %s is not loaded in Podman (%s)", e.Image, e.URL)
}

// NameInUseError is a container name that is taken.
type NameInUseError struct{ Name, State string }

func (e *NameInUseError) Error() string {
	return fmt.Sprintf("a container named %s already exists (%s)", e.Name, e.State)
}

// ForeignError is a container podman-ocne did not start, which it leaves
// alone.
type ForeignError struct{ Name string }

func (e *ForeignError) Error() string {
	return fmt.Sprintf("container %s was not started by podman-ocne (no %s=%s label): leaving it alone", e.Name, LabelRole, RoleValue)
}

// PortInUseError is a host port something else listens on.
type PortInUseError struct{ Port int }

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d is already in use on this host", e.Port)
}

// ImageInfo is what the service knows about an archive server image.
type ImageInfo struct {
	Commit, Ref string
}

// ArchiveImage checks that name is an archive server image in the service.
func (c *Client) ArchiveImage(name string) (*ImageInfo, error) {
	img, err := images.GetImage(c.ctx, name, nil)
	if isNotFound(err) {
		return nil, &NotLoadedError{Image: name, URL: c.URL}
	}
	if err != nil {
		return nil, fmt.Errorf("look up image %s: %s", name, oneLine(err))
	}
	var labels map[string]string
	if img.Config != nil {
		labels = img.Config.Labels
	}
	if labels[ImageLabelCommit] == "" {
		return nil, fmt.Errorf("image %s is not an OCK archive server image (no %s label): use the image 'kubectl ocne-image create' wrote", name, ImageLabelCommit)
	}
	info := &ImageInfo{Commit: labels[ImageLabelCommit], Ref: labels[ImageLabelRef]}
	if info.Ref == "" {
		info.Ref = "ock"
	}
	return info, nil
}

// Run starts the archive server container and waits until probeHost:Port
// serves the repository. On any failure, Ctrl-C included, the container it
// created is removed again.
func (c *Client) Run(s RunSpec, probeHost string) (ctr *Container, err error) {
	if err := c.clearName(s.Name, s.Replace); err != nil {
		return nil, err
	}
	// Podman's own message for a taken port names neither the port's user
	// nor a way out; check first where we can see the host's ports.
	if c.Local() {
		if err := portFree(s.Port); err != nil {
			return nil, err
		}
	}
	sg := specgen.NewSpecGenerator(s.Image, false)
	sg.Name = s.Name
	sg.RestartPolicy = s.Restart
	sg.Labels = map[string]string{LabelRole: RoleValue}
	for k, v := range s.Labels {
		sg.Labels[k] = v
	}
	sg.PortMappings = []nettypes.PortMapping{{HostPort: uint16(s.Port), ContainerPort: 80, Protocol: "tcp"}}
	for _, sub := range slices.Sorted(maps.Keys(s.Mounts)) {
		sg.Mounts = append(sg.Mounts, spec.Mount{
			Type: "bind", Source: s.Mounts[sub], Destination: layout.WebRoot + "/" + sub,
			// z: the host directory gets a shared SELinux label, or the
			// server may not read it on an enforcing host (OCK's own).
			Options: []string{"ro", "z"},
		})
	}
	created, err := containers.CreateWithSpec(c.ctx, sg, nil)
	if err != nil {
		if c.ctx.Err() != nil {
			return nil, c.ctx.Err()
		}
		return nil, fmt.Errorf("create container %s: %s", s.Name, oneLine(err))
	}
	defer func() {
		if err != nil {
			c.remove(created.ID)
		}
	}()
	if err := containers.Start(c.ctx, created.ID, nil); err != nil {
		if c.ctx.Err() != nil {
			return nil, c.ctx.Err()
		}
		if addrInUse(err) {
			return nil, &PortInUseError{Port: s.Port}
		}
		return nil, fmt.Errorf("start container %s: %s", s.Name, oneLine(err))
	}
	if err := c.waitReady(created.ID, probeHost, s.Port, s.Ready); err != nil {
		return nil, err
	}
	return c.Status(s.Name)
}

// Local reports whether the service runs on this host, where the ports it
// publishes are this host's.
func (c *Client) Local() bool {
	u, err := url.Parse(c.URL)
	return err == nil && u.Scheme == "unix"
}

// ProbeHost is where this process reaches the ports the service publishes.
func (c *Client) ProbeHost() string {
	if u, err := url.Parse(c.URL); err == nil && u.Scheme != "unix" && u.Hostname() != "" {
		return u.Hostname()
	}
	return "127.0.0.1"
}

// clearName makes sure name is free, removing our own container of that
// name if replace is set.
func (c *Client) clearName(name string, replace bool) error {
	old, err := c.Status(name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !replace {
		return &NameInUseError{Name: name, State: old.State}
	}
	if old.Labels[LabelRole] != RoleValue {
		return &ForeignError{Name: name}
	}
	if _, err := containers.Remove(c.ctx, old.ID, new(containers.RemoveOptions).WithForce(true).WithTimeout(stopTimeout)); err != nil && !isNotFound(err) {
		return fmt.Errorf("replace container %s: %s", name, oneLine(err))
	}
	return nil
}

// stopTimeout is below Podman's 10 s default: the server drains within 5 s.
const stopTimeout = 8

// remove deletes a container that must not outlive a failed command, even
// when that failure is the user's Ctrl-C.
func (c *Client) remove(id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 20*time.Second)
	defer cancel()
	containers.Remove(ctx, id, new(containers.RemoveOptions).WithForce(true).WithTimeout(0))
}

// waitReady polls the repository's config file, which libostree fetches
// first, until it is served or the container stops.
func (c *Client) waitReady(id, host string, port int, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	u := fmt.Sprintf("http://%s/ostree/config", net.JoinHostPort(host, fmt.Sprint(port)))
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for i := 0; ; i++ {
		req, _ := http.NewRequestWithContext(c.ctx, http.MethodGet, u, nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		if i%10 == 9 {
			if err := c.running(id); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the archive server did not serve %s within %s (last: %s): see 'podman-ocne logs'", u, timeout, strings.TrimSpace(last))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// running fails with the container's last log line if it has exited.
func (c *Client) running(id string) error {
	data, err := containers.Inspect(c.ctx, id, nil)
	if err != nil {
		return fmt.Errorf("inspect container: %s", oneLine(err))
	}
	if data.State != nil && (data.State.Running || data.State.Restarting) {
		return nil
	}
	msg := c.lastLog(id)
	if msg == "" && data.State != nil {
		msg = fmt.Sprintf("exit code %d %s", data.State.ExitCode, data.State.Error)
	}
	return fmt.Errorf("the archive server container exited: %s", strings.TrimSpace(msg))
}

func (c *Client) lastLog(id string) string {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	lines := make(chan string, 64)
	go func() {
		containers.Logs(ctx, id, new(containers.LogOptions).WithStdout(true).WithStderr(true).WithTail("3"), lines, lines)
		close(lines)
	}()
	var last string
	for l := range lines {
		if s := strings.TrimSpace(l); s != "" {
			last = s
		}
	}
	return last
}

// Status reports the named container; ErrNotFound if there is none.
func (c *Client) Status(name string) (*Container, error) {
	data, err := containers.Inspect(c.ctx, name, nil)
	if isNotFound(err) {
		return nil, fmt.Errorf("%w named %s in Podman (%s)", ErrNotFound, name, c.URL)
	}
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %s", name, oneLine(err))
	}
	ctr := &Container{Name: data.Name, ID: data.ID, Image: data.ImageName}
	if data.Config != nil {
		ctr.Labels = data.Config.Labels
	}
	if data.State != nil {
		ctr.State = data.State.Status
		if data.State.Running {
			ctr.Started = data.State.StartedAt
		}
	}
	if data.HostConfig != nil {
		for _, b := range data.HostConfig.PortBindings["80/tcp"] {
			fmt.Sscan(b.HostPort, &ctr.Port)
		}
	}
	return ctr, nil
}

// Names lists the containers podman-ocne started, for shell completion.
func (c *Client) Names() ([]string, error) {
	list, err := containers.List(c.ctx, new(containers.ListOptions).WithAll(true).
		WithFilters(map[string][]string{"label": {LabelRole + "=" + RoleValue}}))
	if err != nil {
		return nil, fmt.Errorf("list containers: %s", oneLine(err))
	}
	var names []string
	for _, ctr := range list {
		names = append(names, ctr.Names...)
	}
	return names, nil
}

// Own returns the named container if podman-ocne started it.
func (c *Client) Own(name string) (*Container, error) {
	ctr, err := c.Status(name)
	if err != nil {
		return nil, err
	}
	if ctr.Labels[LabelRole] != RoleValue {
		return nil, &ForeignError{Name: name}
	}
	return ctr, nil
}

// Stop stops and removes the named podman-ocne container.
func (c *Client) Stop(name string) error {
	ctr, err := c.Own(name)
	if err != nil {
		return err
	}
	if err := containers.Stop(c.ctx, ctr.ID, new(containers.StopOptions).WithTimeout(stopTimeout)); err != nil && !isNotFound(err) && statusCode(err) != http.StatusNotModified {
		return fmt.Errorf("stop container %s: %s", name, oneLine(err))
	}
	if _, err := containers.Remove(c.ctx, ctr.ID, new(containers.RemoveOptions).WithForce(true)); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove container %s: %s", name, oneLine(err))
	}
	return nil
}

// Logs copies the named container's output to out, following it if asked,
// until it ends or ctx is cancelled.
func (c *Client) Logs(name string, follow bool, tail string, out, errOut io.Writer) error {
	ctr, err := c.Own(name)
	if err != nil {
		return err
	}
	stdout, stderr := make(chan string, 64), make(chan string, 64)
	done := make(chan error, 1)
	go func() {
		opts := new(containers.LogOptions).WithStdout(true).WithStderr(true).WithFollow(follow)
		if tail != "" {
			opts.WithTail(tail)
		}
		done <- containers.Logs(c.ctx, ctr.ID, opts, stdout, stderr)
	}()
	for {
		select {
		case l := <-stdout:
			out.Write([]byte(l))
		case l := <-stderr:
			errOut.Write([]byte(l))
		case err := <-done:
			// Drain what arrived before the stream ended.
			for {
				select {
				case l := <-stdout:
					out.Write([]byte(l))
				case l := <-stderr:
					errOut.Write([]byte(l))
				default:
					if err != nil && c.ctx.Err() == nil {
						return fmt.Errorf("logs of container %s: %s", name, oneLine(err))
					}
					return nil
				}
			}
		}
	}
}

func portFree(port int) error {
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return &PortInUseError{Port: port}
		}
		// Not ours to bind (e.g. a privileged port as non-root): Podman
		// may still be allowed to, so let it try.
		return nil
	}
	l.Close()
	return nil
}
