package sdk

import (
	"context"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/byov/byov/sdk/internal/proto/connectorv1"
)

// PluginName is the name under which a connector is dispensed.
const PluginName = "connector"

// Handshake is shared by the host and every connector. The cookie only keeps
// a user from running a connector binary by hand by mistake; it is not a
// security measure (the host verifies binaries by hash).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "BYOV_PLUGIN",
	MagicCookieValue: "7f3b1c9e0d2a4b6c8e1f3a5b7c9d0e2f",
}

// GRPCPlugin is the go-plugin glue for protocol v1, on both sides. On the
// plugin side Impl is the connector; the host side leaves it nil and gets a
// *Client from Dispense.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Connector
	// Logger is the plugin side's logger; instances get named sub-loggers.
	Logger hclog.Logger

	// server, when set, is served instead of a new one built from Impl, so
	// that Serve can close its instances when go-plugin returns.
	server *grpcServer
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the connector service on the plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	srv := p.server
	if srv == nil {
		var err error
		if srv, err = newGRPCServer(p.Impl, p.Logger); err != nil {
			return err
		}
	}
	connectorv1.RegisterConnectorServer(s, srv)
	return nil
}

// GRPCClient returns the host's view of the connector.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return newClient(conn), nil
}

// PluginSets returns the protocol versions this SDK serves, for
// go-plugin's VersionedPlugins.
func PluginSets(impl Connector, logger hclog.Logger) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{Impl: impl, Logger: logger}},
	}
}
