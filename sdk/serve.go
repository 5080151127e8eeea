package sdk

import (
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// parentCheckInterval is how often a connector looks for its host. Pdeathsig
// covers Linux hosts most of the time, but it fires when the host *thread*
// that started the plugin exits, and it does not exist elsewhere; this
// watchdog catches the rest within a second.
const parentCheckInterval = 500 * time.Millisecond

// closeTimeout bounds how long Serve spends closing instances after the host
// has stopped it. go-plugin's Kill on the host side waits 2 s for the process
// to exit before killing it, so a longer bound would only be cut short;
// this one leaves Close time to give up and log why.
const closeTimeout = 1500 * time.Millisecond

// Serve runs the connector until the host stops it (reload, restart after a
// crash, shutdown), then closes every instance it still holds. It is the
// whole main function of a connector binary. Run by hand, outside a byov
// host, it explains that and exits.
func Serve(c Connector) {
	logger := newPluginLogger()
	srv, err := newGRPCServer(c, logger)
	if err != nil {
		logger.Error("the connector's metadata is invalid; fix the connector and rebuild it", "error", err)
		fmt.Fprintf(os.Stderr, "byov connector: %v\n", err)
		os.Exit(1)
	}
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		m := srv.meta
		fmt.Fprintf(os.Stderr, "This is byov connector %q version %s. It is started by the byov host, not by hand:\n"+
			"put it in the host's plugin_dir, run `byov plugin lock`, then `byov plugin reload %s`.\n", m.Type, m.Version, m.Type)
		os.Exit(1)
	}
	go watchParent(logger, srv)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {PluginName: &GRPCPlugin{Impl: c, Logger: logger, server: srv}},
		},
		GRPCServer: plugin.DefaultGRPCServer,
		Logger:     logger,
	})
	// The host has stopped the gRPC server; Instance.Close promises
	// connectors a chance to release sessions and files.
	srv.closeAll(closeTimeout)
}

// newPluginLogger writes JSON lines to stderr, which go-plugin parses on the
// host side and re-logs with their level under the plugin's name.
func newPluginLogger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

func watchParent(logger hclog.Logger, srv *grpcServer) {
	parent := os.Getppid()
	for range time.Tick(parentCheckInterval) {
		if os.Getppid() != parent {
			logger.Warn("the byov host that started this connector is gone; closing its instances and exiting", "host_pid", parent)
			srv.closeAll(closeTimeout)
			os.Exit(2)
		}
	}
}

var (
	typeName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	semver   = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// ValidType reports whether s is a connector type: lower-case letters,
// digits and dashes, starting with a letter. It is the <type> of a binary
// named byov-connector-<type>.
func ValidType(s string) bool { return typeName.MatchString(s) }

// ValidateMetadata checks a connector's metadata: its type, its version (a
// semantic version such as 1.2.0), its capabilities and its config schema.
// Serve calls it when the binary starts, so an author sees a mistake at once.
func ValidateMetadata(m Metadata) error {
	if !ValidType(m.Type) {
		return fmt.Errorf("metadata type %q must be lower-case letters, digits and dashes, starting with a letter", m.Type)
	}
	if !semver.MatchString(m.Version) {
		return fmt.Errorf("metadata version %q is not a semantic version such as 1.2.0", m.Version)
	}
	for _, c := range m.Capabilities {
		if c != CapabilityCheckin && c != CapabilityAccounts {
			return fmt.Errorf("metadata announces unknown capability %q; known ones are %q and %q", c, CapabilityCheckin, CapabilityAccounts)
		}
	}
	return ValidateSchema(m.ConfigSchema)
}
