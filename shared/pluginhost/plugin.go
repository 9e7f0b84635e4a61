package pluginhost

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
)

// pluginProcess is a running plugin.
type pluginProcess struct {
	client *plugin.Client
	stderr *tail
}

// launch starts the plugin at path, verifying its sha256 first when one is
// configured, and dispenses its IgnitionHost.
func launch(ctx context.Context, name, path, sha string, log io.Writer) (*pluginProcess, ignitionhost.IgnitionHost, error) {
	var secure *plugin.SecureConfig
	if sha != "" {
		sum, err := decodeHex(sha)
		if err != nil {
			return nil, nil, fmt.Errorf("ignitionPlugins.%s.sha256 in the config: %w", name, err)
		}
		secure = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	var out io.Writer = io.Discard
	level := hclog.Off
	if log != nil {
		out, level = log, hclog.Debug
	}
	p := &pluginProcess{stderr: &tail{}}
	// go-plugin passes the plugin's non-log stderr (a panic) to Stderr;
	// we keep its end to say how a plugin died.
	p.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  ignitionhost.Handshake,
		Plugins:          ignitionhost.PluginMap(),
		Cmd:              exec.CommandContext(ctx, path),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		SecureConfig:     secure,
		StartTimeout:     20 * time.Second,
		Stderr:           p.stderr,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin." + name, Output: out, Level: level}),
	})
	rpc, err := p.client.Client()
	if err != nil {
		p.kill()
		return nil, nil, launchError(name, path, sha, err, p)
	}
	raw, err := rpc.Dispense(ignitionhost.PluginName)
	if err != nil {
		p.kill()
		return nil, nil, fmt.Errorf("plugin %s (%s) does not serve the Ignition hosting interface: %v", name, path, err)
	}
	host, ok := raw.(ignitionhost.IgnitionHost)
	if !ok {
		p.kill()
		return nil, nil, fmt.Errorf("plugin %s (%s) does not serve the Ignition hosting interface", name, path)
	}
	return p, host, nil
}

func launchError(name, path, sha string, err error, p *pluginProcess) error {
	msg := err.Error()
	// go-plugin appends the plugin's first output line (a JSON log record).
	if i := strings.Index(msg, ": {\""); i > 0 {
		msg = msg[:i]
	}
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		sum, _ := fileSHA256(path)
		return fmt.Errorf("plugin %s (%s) has sha256 %s, but ignitionPlugins.%s.sha256 in the config says %s: not running it; reinstall the plugin or update the checksum", name, path, sum, name, sha)
	case strings.Contains(strings.ToLower(msg), "incompatible api version"):
		// go-plugin's message names both versions.
		return fmt.Errorf("plugin %s (%s) speaks another Ignition hosting protocol version (%s): install a build of it for protocol %d", name, path, strings.TrimSpace(msg), ignitionhost.ProtocolVersion)
	}
	return fmt.Errorf("start plugin %s (%s): %s%s; is it an ocne-image Ignition hosting plugin?", name, path, strings.ReplaceAll(msg, "\n", " "), p.lastWords())
}

func (p *pluginProcess) kill() { p.client.Kill() }

func (p *pluginProcess) exited() bool { return p.client.Exited() }

// lastWords returns ": <line>" with the most telling line the plugin wrote
// to stderr before dying (a panic message), or "".
func (p *pluginProcess) lastWords() string {
	// go-plugin copies stderr asynchronously; give the last lines a moment.
	time.Sleep(50 * time.Millisecond)
	if l := p.stderr.telling(); l != "" {
		return ": " + l
	}
	return ""
}

// tail keeps the end of a plugin's stderr.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 16 << 10

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailSize {
		t.buf = t.buf[len(t.buf)-tailSize:]
	}
	return len(b), nil
}

// telling picks a panic or fatal error line, else the last line.
func (t *tail) telling() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var last string
	sc := bufio.NewScanner(bytes.NewReader(t.buf))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return l
		}
		if l != "" {
			last = l
		}
	}
	return last
}

func decodeHex(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%q is not a sha256 (64 hex digits)", s)
	}
	return b, nil
}
