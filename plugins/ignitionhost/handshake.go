package ignitionhost

import (
	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the version of the plugin protocol in
// proto/ignitionhost.proto. It changes only when the service changes
// incompatibly; the host then refuses plugins built for another version
// with a message naming both.
const ProtocolVersion = 1

// Handshake is what host and plugin check before talking. The cookie is
// not a secret: it only stops a user from running a plugin by hand.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "OCNE_IGNITION_PLUGIN",
	MagicCookieValue: "7d1f0c5e-ignition-host",
}

// PluginName is the name the host dispenses the IgnitionHost under.
const PluginName = "ignitionhost"

// PluginMap is what the host hands to go-plugin's ClientConfig.Plugins.
func PluginMap() map[string]plugin.Plugin {
	return map[string]plugin.Plugin{PluginName: &GRPCPlugin{}}
}

// Serve runs impl as a plugin: a plugin's main calls it and nothing else.
// It returns when the host is done with the plugin.
func Serve(impl IgnitionHost) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         map[string]plugin.Plugin{PluginName: &GRPCPlugin{Impl: impl}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
