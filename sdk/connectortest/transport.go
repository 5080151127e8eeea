package connectortest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/byov/byov/sdk"
)

// A transport starts the connector and hands back the host's view of it.
type transport interface {
	name() string
	// start returns a client and, for a plugin process, the binary's file
	// name. Everything the connector logs goes to logs.
	start(t tester, h Harness, logs *logBuffer) (client *sdk.Client, logger hclog.Logger, binary string)
}

// processTransport runs the connector binary exactly as the host does:
// go-plugin, gRPC only, mutual TLS, none of the test's environment.
type processTransport struct{}

func (processTransport) name() string { return "process" }

func (processTransport) start(t tester, h Harness, logs *logBuffer) (*sdk.Client, hclog.Logger, string) {
	t.Helper()
	path, binary := h.Binary, filepath.Base(h.Binary)
	if h.Package != "" {
		path, binary = buildPackage(t, h.Package, h.Connector.Metadata().Type), ""
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("connectortest: the connector binary cannot be used: %v; build it first, or set Harness.Package so that the kit builds it", err)
	}
	client, err := startProcess(t, h.command(path), logs.decoded(), logs.raw())
	if err != nil {
		t.Fatalf("connectortest: the connector binary %s did not start as a byov plugin: %v\n"+
			"Its main function must be just `sdk.Serve(yourConnector{})`, and Metadata() must be valid (sdk.Serve refuses to start otherwise). Its output was:\n%s",
			path, err, logs.tail(40))
	}
	return client, nil, binary
}

// inProcessTransport serves the connector value over a loopback gRPC
// connection (go-plugin's TestGRPCConn): the SDK's own server and client
// code on both sides, without a process. go-plugin's fuller
// TestPluginGRPCConn adds only its stdio and broker services, which a
// connector does not use, and logs to stderr on every run.
type inProcessTransport struct{}

func (inProcessTransport) name() string { return "in-process" }

func (inProcessTransport) start(t tester, h Harness, logs *logBuffer) (*sdk.Client, hclog.Logger, string) {
	t.Helper()
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: logs.decoded(), JSONFormat: true})
	p := &sdk.GRPCPlugin{Impl: h.Connector, Logger: logger}
	// Register once on a throwaway server first: the SDK refuses invalid
	// metadata there, and the author should read why, not a bare "err:".
	probe := grpc.NewServer()
	err := p.GRPCServer(nil, probe)
	probe.Stop()
	if err != nil {
		t.Fatalf("connectortest: the connector's Metadata() is invalid: %v; fix it — the host cannot start this connector", err)
	}
	conn, server := plugin.TestGRPCConn(t, func(s *grpc.Server) {
		_ = p.GRPCServer(nil, s)
		healthpb.RegisterHealthServer(s, health.NewServer())
	})
	t.Cleanup(func() {
		conn.Close()
		server.Stop()
	})
	return sdk.NewClient(conn), logger, ""
}

// Build builds the connector package pkg (a path as `go build` takes it)
// into the test's temporary directory as byov-connector-<typ>, with -race
// when the tests run with it, and returns the binary's path. Use it with
// StartProcess for tests of your own.
func Build(t testing.TB, pkg, typ string) string {
	return buildPackage(t, pkg, typ)
}

// buildPackage builds pkg with -race when the tests run with it, so that
// the concurrency case sees races in the plugin.
func buildPackage(t testing.TB, pkg, typ string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("connectortest: the go command is not on PATH, so Harness.Package cannot be built; build the connector yourself and set Harness.Binary")
	}
	out := filepath.Join(t.TempDir(), "byov-connector-"+typ)
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, pkg)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("connectortest: `go %s %s` failed: %v\n%s\nfix the build, or build the binary yourself and set Harness.Binary", strings.Join(args, " "), pkg, err, b)
	}
	return out
}

// logBuffer keeps what a connector logs: decoded is what the host's logger
// writes (go-plugin re-logs the plugin's JSON lines), raw is the plugin's
// stderr as it came, race reports and panics included.
type logBuffer struct {
	mu   sync.Mutex
	dec  bytes.Buffer
	rawB bytes.Buffer
}

type logWriter struct {
	b   *logBuffer
	buf *bytes.Buffer
}

func (w logWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	return w.buf.Write(p)
}

func (b *logBuffer) decoded() logWriter { return logWriter{b, &b.dec} }
func (b *logBuffer) raw() logWriter     { return logWriter{b, &b.rawB} }

// texts returns both streams, labelled for messages.
func (b *logBuffer) texts() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return map[string]string{"the connector's log": b.dec.String(), "the plugin's stderr": b.rawB.String()}
}

func (b *logBuffer) rawString() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rawB.String()
}

// tail returns the last n lines of the plugin's output.
func (b *logBuffer) tail(n int) string {
	s := strings.TrimRight(b.rawString(), "\n")
	if s == "" {
		return "(nothing)"
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls the plugin's stderr for a while: go-plugin copies it from a
// pipe in its own goroutine, so a report can arrive after the call returned.
func (b *logBuffer) waitFor(substr string, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		if strings.Contains(b.rawString(), substr) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// section returns the block of text starting at marker, up to the next
// line of '=' (how the race detector ends a report), at most max lines.
func section(text, marker string, max int) string {
	i := strings.Index(text, marker)
	if i < 0 {
		return ""
	}
	lines := strings.Split(text[i:], "\n")
	var out []string
	for j, l := range lines {
		if j > 0 && strings.HasPrefix(l, "=====") || j >= max {
			break
		}
		out = append(out, l)
	}
	return fmt.Sprint(strings.Join(out, "\n"))
}
