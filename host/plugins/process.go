package plugins

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/byov/byov/sdk"
)

// process is one running connector binary.
type process struct {
	bin      Binary
	sum      string
	meta     sdk.Metadata
	protocol int
	client   *plugin.Client
	rpc      *sdk.Client
	pid      int
	started  time.Time

	// inflight counts calls on this process; a swap waits for it to drain.
	inflight sync.WaitGroup
	// exited is closed when the process is gone, for whatever reason.
	exited chan struct{}
	// retiring is set before an intentional stop, so its exit is not a crash.
	retiring atomic.Bool
}

// label names the process in errors and logs: "test 1.0.0 (pid 123)".
func (p *process) label() string {
	return fmt.Sprintf("%s %s (pid %d)", p.bin.Type, p.meta.Version, p.pid)
}

type startOptions struct {
	workDir      string
	hashes       *hashCache
	execDir      string
	lock         *Lock
	startTimeout time.Duration
	logger       hclog.Logger
}

var pluginVersionInError = regexp.MustCompile(`Plugin version: (\d+)`)

// startProcess verifies a binary, runs its verified copy, and checks that it
// is the connector it claims to be and answers. On any failure nothing is
// left running.
func startProcess(ctx context.Context, bin Binary, opts startOptions) (*process, error) {
	execPath, sum, err := opts.hashes.verifiedCopy(bin, opts.lock, opts.execDir)
	if err != nil {
		return nil, err
	}
	logger := opts.logger.With("plugin", bin.Type)
	if v := bin.VersionString(); v != "" {
		logger = logger.With("version", v)
	}

	var client *plugin.Client
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(execPath)
		cmd.Dir = opts.workDir
		dieWithHost(cmd)
		client = plugin.NewClient(&plugin.ClientConfig{
			HandshakeConfig:  sdk.Handshake,
			VersionedPlugins: map[int]plugin.PluginSet{sdk.ProtocolVersion: {sdk.PluginName: &sdk.GRPCPlugin{}}},
			Cmd:              cmd,
			AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
			AutoMTLS:         true,
			SkipHostEnv:      true,
			StartTimeout:     opts.startTimeout,
			Logger:           logger,
		})
		_, err = client.Start()
		// A freshly written executable can be briefly "busy" while a fork in
		// another goroutine still holds its write descriptor.
		if err != nil && errors.Is(err, syscall.ETXTBSY) && attempt < 5 {
			client.Kill()
			time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
			continue
		}
		break
	}
	p := &process{bin: bin, sum: sum, client: client, started: time.Now(), exited: make(chan struct{})}
	if err != nil {
		client.Kill()
		return nil, explainStartError(bin, err, opts.startTimeout)
	}
	fail := func(err error) (*process, error) {
		p.retiring.Store(true)
		client.Kill()
		return nil, err
	}
	p.pid = pidOf(client)
	proto, err := client.Client()
	if err != nil {
		return fail(fmt.Errorf("connector %s: connecting to the plugin: %w", bin.Name(), err))
	}
	raw, err := proto.Dispense(sdk.PluginName)
	if err != nil {
		return fail(fmt.Errorf("connector %s: %w", bin.Name(), err))
	}
	p.rpc = raw.(*sdk.Client)
	p.protocol = client.NegotiatedVersion()

	callCtx, cancel := context.WithTimeout(ctx, opts.startTimeout)
	defer cancel()
	meta, err := p.rpc.Metadata(callCtx)
	if err != nil {
		return fail(fmt.Errorf("connector %s did not describe itself: %w", bin.Name(), err))
	}
	if meta.Type != bin.Type {
		return fail(fmt.Errorf("refusing %s: the binary says it is connector type %q, not %q; rename it to %s%s", bin.Name(), meta.Type, bin.Type, BinaryPrefix, meta.Type))
	}
	if bin.Version != nil && meta.Version != bin.Version.String() {
		return fail(fmt.Errorf("refusing %s: the file name says version %s but the binary reports %s; rename it so the lock and the version agree", bin.Name(), bin.Version, meta.Version))
	}
	p.meta = meta
	if err := p.rpc.Ping(callCtx); err != nil {
		return fail(fmt.Errorf("connector %s does not answer its health check: %w", p.label(), err))
	}
	go p.watchExit()
	return p, nil
}

// explainStartError turns go-plugin's start errors into sentences.
func explainStartError(bin Binary, err error, timeout time.Duration) error {
	msg := err.Error()
	if m := pluginVersionInError.FindStringSubmatch(msg); m != nil {
		theirs, _ := strconv.Atoi(m[1])
		return fmt.Errorf("refusing %s: it speaks connector protocol version %d, but this byov host speaks protocol version %d; use a build of the connector for protocol %d, or a byov host that supports protocol %d",
			bin.Name(), theirs, sdk.ProtocolVersion, sdk.ProtocolVersion, theirs)
	}
	if strings.Contains(msg, "timeout while waiting for plugin to start") {
		return fmt.Errorf("connector %s did not start within %s; it may be hanging at start (raise plugin start_timeout if it is only slow): %w", bin.Name(), timeout, err)
	}
	if strings.Contains(msg, "plugin exited before we could connect") {
		return fmt.Errorf("connector %s exited at start before it answered; its log lines above say why: %w", bin.Name(), err)
	}
	return fmt.Errorf("starting connector %s: %w", bin.Name(), err)
}

func pidOf(c *plugin.Client) int {
	if rc := c.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// watchExit closes exited when go-plugin sees the process end. go-plugin
// offers no channel for it, so this polls a cheap flag.
func (p *process) watchExit() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		if p.client.Exited() {
			close(p.exited)
			return
		}
	}
}

// stop ends the process: gracefully through go-plugin, forcefully after
// its grace period.
func (p *process) stop() {
	p.retiring.Store(true)
	p.client.Kill()
}

// drainAndStop waits up to timeout for calls in flight, then stops.
func (p *process) drainAndStop(timeout time.Duration, logger hclog.Logger) {
	p.retiring.Store(true)
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		logger.Warn("calls on the old connector process did not finish within the drain timeout; stopping it anyway", "plugin", p.label(), "drain_timeout", timeout)
	}
	p.stop()
}
