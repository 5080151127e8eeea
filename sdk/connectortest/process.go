package connectortest

import (
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/byov/byov/sdk"
)

// StartProcess runs a connector binary the way the byov host does —
// go-plugin with gRPC only, mutual TLS and none of the test's environment —
// and returns the host's client. The plugin's log lines, as the host
// re-logs them, go to logs; the process is killed when the test ends. Use it
// for tests of your own beyond the kit's cases.
func StartProcess(t testing.TB, cmd *exec.Cmd, logs io.Writer) (*sdk.Client, error) {
	t.Helper()
	return startProcess(t, cmd, logs, nil)
}

// startProcess is StartProcess with the plugin's raw stderr kept too (race
// reports and panics), which the kit's cases read.
func startProcess(t testing.TB, cmd *exec.Cmd, logs, stderr io.Writer) (*sdk.Client, error) {
	t.Helper()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.PluginSets(nil, nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     30 * time.Second,
		Logger:           hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: logs}),
		Stderr:           stderr,
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		return nil, err
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return nil, err
	}
	return raw.(*sdk.Client), nil
}
