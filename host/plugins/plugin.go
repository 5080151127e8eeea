package plugins

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/sdk"
)

// State is a plugin's life-cycle state, as `byov plugin list` shows it.
type State string

const (
	StateStarting   State = "starting"
	StateRunning    State = "running"
	StateRestarting State = "restarting"
	// StateFailed: restarts keep failing; byov keeps retrying with backoff.
	StateFailed  State = "failed"
	StateStopped State = "stopped"
)

// instanceConfig is what the host told a plugin about one instance; it is
// replayed into every new process of the type (restart, swap).
type instanceConfig struct {
	config map[string]any
	sa     sdk.ServiceAccount
	// err is why the serving process refused this configuration; calls to
	// the instance return it until a Configure succeeds.
	err error
}

// Plugin supervises the processes of one connector type.
type Plugin struct {
	typ    string
	m      *Manager
	logger hclog.Logger

	// lifecycle serialises everything that changes which process runs or
	// what is configured in it: start, restart, swap, Configure, close.
	lifecycle sync.Mutex

	// mu guards the fields below; calls take it briefly to pick a process.
	// instances is written under both locks, so either suffices to read it.
	mu        sync.RWMutex
	instances map[string]instanceConfig
	cur       *process
	state     State
	lastErr   error
	restarts  int
	// retrying is set while a crash-restart loop runs.
	retrying bool
	// ready is closed and replaced whenever cur becomes non-nil or the
	// plugin gives up, waking calls that wait for a restart.
	ready  chan struct{}
	closed bool
}

func newPlugin(m *Manager, typ string) *Plugin {
	return &Plugin{
		typ: typ, m: m, logger: m.opts.Logger.Named(typ),
		instances: map[string]instanceConfig{}, state: StateStarting, ready: make(chan struct{}),
	}
}

// Type returns the connector type.
func (p *Plugin) Type() string { return p.typ }

// Metadata returns the running binary's metadata.
func (p *Plugin) Metadata() (sdk.Metadata, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.cur == nil {
		return sdk.Metadata{}, p.downError()
	}
	return p.cur.meta, nil
}

// start runs the selected binary; the caller holds lifecycle. When strict,
// an instance configuration the new process refuses fails the start (a swap
// must not break a working instance); otherwise the refusal is kept on that
// instance alone, so one bad connector block does not take down the others.
func (p *Plugin) start(ctx context.Context, want string, strict bool) (*process, error) {
	bin, err := p.m.selectBinary(p.typ, want)
	if err != nil {
		return nil, err
	}
	proc, err := startProcess(ctx, bin, p.m.startOptions())
	if err != nil {
		return nil, err
	}
	if bin.Version == nil {
		if c := p.m.constraint(p.typ); c != nil && !meetsConstraint(c, proc.meta.Version) {
			proc.stop()
			return nil, fmt.Errorf("connector %s reports version %s, which does not meet the configured constraint %q", bin.Name(), proc.meta.Version, c)
		}
	}
	if err := p.configureAll(ctx, proc, strict); err != nil {
		proc.stop()
		return nil, err
	}
	return proc, nil
}

// configureAll replays every instance's configuration into a new process.
// The instances' error states change only when the start goes ahead, so an
// aborted swap leaves them as the serving process has them.
func (p *Plugin) configureAll(ctx context.Context, proc *process, strict bool) error {
	p.mu.RLock()
	configs := make(map[string]instanceConfig, len(p.instances))
	ids := make([]string, 0, len(p.instances))
	for id, ic := range p.instances {
		configs[id] = ic
		ids = append(ids, id)
	}
	p.mu.RUnlock()
	sort.Strings(ids)
	results := make(map[string]error, len(ids))
	for _, id := range ids {
		ic := configs[id]
		cctx, cancel := context.WithTimeout(ctx, p.m.opts.StartTimeout)
		err := proc.rpc.Configure(cctx, id, ic.config, ic.sa)
		cancel()
		if err != nil {
			err = fmt.Errorf("connector %s refused the configuration of instance %q: %w", proc.label(), id, err)
			if strict && ic.err == nil {
				return err
			}
			p.logger.Error("a connector instance could not be configured; its calls fail until it is fixed", "instance", id, "error", err)
		}
		results[id] = err
	}
	p.mu.Lock()
	for id, err := range results {
		if ic, still := p.instances[id]; still {
			ic.err = err
			p.instances[id] = ic
		}
	}
	p.mu.Unlock()
	return nil
}

// install makes proc the process that serves calls and watches it.
func (p *Plugin) install(proc *process) (old *process) {
	p.mu.Lock()
	old = p.cur
	p.cur = proc
	p.state = StateRunning
	p.lastErr = nil
	p.wake()
	p.mu.Unlock()
	go p.supervise(proc)
	return old
}

// supervise pings proc while it serves and restarts the type if it dies.
func (p *Plugin) supervise(proc *process) {
	interval := p.m.opts.HealthInterval
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	failures := 0
	for {
		select {
		case <-proc.exited:
			if proc.retiring.Load() {
				return
			}
			p.logger.Error("connector plugin exited unexpectedly; restarting it", "plugin", proc.label())
			p.crashed(proc, fmt.Errorf("connector plugin %s exited unexpectedly", proc.label()))
			return
		case <-ticker.C:
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			err := proc.rpc.Ping(ctx)
			cancel()
			if err == nil {
				failures = 0
				continue
			}
			if proc.retiring.Load() {
				return
			}
			failures++
			p.logger.Warn("connector plugin failed its health check", "plugin", proc.label(), "failures", failures, "error", err)
			if failures >= 3 {
				p.logger.Error("connector plugin stopped answering; killing and restarting it", "plugin", proc.label())
				p.crashed(proc, fmt.Errorf("connector plugin %s stopped answering its health check", proc.label()))
				return
			}
		}
	}
}

// crashed takes a failed process out of service at once, so that no new
// call reaches it, and restarts the type in the background. Only the first
// report about a process acts; later ones (the exit watcher, other calls
// that failed with it) find it already replaced.
func (p *Plugin) crashed(proc *process, why error) {
	p.mu.Lock()
	if p.cur != proc || p.closed {
		p.mu.Unlock()
		return
	}
	p.cur = nil
	p.state = StateRestarting
	p.lastErr = nil
	p.mu.Unlock()
	// Stopping waits for go-plugin's grace period when the process still
	// runs; the caller that reported the failure should not wait for it.
	go func() {
		proc.stop()
		p.restart(proc, why)
	}()
}

// restart starts the type again with exponential backoff until it runs or
// the plugin is closed.
func (p *Plugin) restart(proc *process, why error) {
	want := proc.meta.Version
	if proc.bin.Version == nil {
		want = ""
	}
	p.mu.Lock()
	p.retrying = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.retrying = false
		p.mu.Unlock()
	}()
	backoff := p.m.opts.RestartBackoff
	for attempt := 1; ; attempt++ {
		p.lifecycle.Lock()
		// Closed, or brought back meanwhile by a `plugin reload`: nothing
		// left to do (starting another process would orphan that one).
		if p.isClosed() || p.current() != nil {
			p.lifecycle.Unlock()
			return
		}
		next, err := p.start(context.Background(), want, false)
		if err == nil {
			p.mu.Lock()
			p.restarts++
			p.mu.Unlock()
			p.install(next)
			p.lifecycle.Unlock()
			p.logger.Info("connector plugin restarted", "plugin", next.label(), "attempt", attempt)
			p.notifyRestart(nil)
			return
		}
		// Still under lifecycle, so that a reload cannot install a process
		// in between and then be reported as failed.
		p.markDown(fmt.Errorf("%v; restarting it failed: %w", why, err))
		p.lifecycle.Unlock()
		p.notifyRestart(err)
		p.logger.Error("restarting the connector plugin failed; retrying", "plugin", p.typ, "attempt", attempt, "retry_in", backoff, "error", err)
		time.Sleep(backoff)
		backoff = min(backoff*2, p.m.opts.MaxRestartBackoff)
	}
}

// wake releases the calls waiting in acquire; the caller holds mu.
func (p *Plugin) wake() {
	close(p.ready)
	p.ready = make(chan struct{})
}

// markDown records that no process serves the type and why, and tells the
// calls waiting for one.
func (p *Plugin) markDown(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state, p.lastErr = StateFailed, err
	p.wake()
}

func (p *Plugin) notifyRestart(err error) {
	if hook := p.m.opts.OnRestart; hook != nil {
		hook(p.Status(), err)
	}
}

func (p *Plugin) isClosed() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.closed
}

// downError says why no process serves the type.
func (p *Plugin) downError() error {
	if p.closed {
		return sdk.Errorf(sdk.CodeUnavailable, "", "connector plugin %s has been stopped", p.typ)
	}
	if p.lastErr != nil {
		hint := fmt.Sprintf("fix the cause, then run `byov plugin reload %s`", p.typ)
		if p.retrying {
			hint = fmt.Sprintf("byov keeps retrying; see `byov plugin list` and the host log for connector %s", p.typ)
		}
		return &sdk.Error{Code: sdk.CodeUnavailable, Message: p.lastErr.Error(), Hint: hint}
	}
	return sdk.Errorf(sdk.CodeUnavailable, "retry shortly", "connector plugin %s is restarting", p.typ)
}

// acquire returns the serving process with a call counted on it, waiting
// for a restart in progress for as long as ctx allows. A call for an
// instance (id not empty) whose configuration was refused fails at once;
// that is checked under the same lock, since this is every call's path.
func (p *Plugin) acquire(ctx context.Context, id string) (*process, error) {
	for {
		p.mu.RLock()
		if id != "" {
			if err := p.instanceErrorLocked(id); err != nil {
				p.mu.RUnlock()
				return nil, err
			}
		}
		proc, ready, state := p.cur, p.ready, p.state
		if proc != nil {
			proc.inflight.Add(1)
			p.mu.RUnlock()
			return proc, nil
		}
		if p.closed || state == StateFailed {
			err := p.downError()
			p.mu.RUnlock()
			return nil, err
		}
		p.mu.RUnlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, sdk.Wrap(ctx.Err(), sdk.CodeUnavailable, "retry shortly",
				fmt.Sprintf("connector plugin %s was restarting and did not come back before the call's deadline", p.typ))
		}
	}
}

// call runs fn on the serving process. A failure of the process itself is
// reported naming it; the connector's own errors pass through unchanged.
func (p *Plugin) call(ctx context.Context, id string, fn func(ctx context.Context, c *sdk.Client) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.m.opts.CallTimeout)
		defer cancel()
	}
	proc, err := p.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer proc.inflight.Done()
	err = fn(ctx, proc.rpc)
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, sdk.ErrPluginUnreachable):
		p.logger.Error("connector plugin failed during a call; restarting it", "plugin", proc.label(), "error", err)
		p.crashed(proc, fmt.Errorf("connector plugin %s failed during a call", proc.label()))
		return sdk.Wrap(err, sdk.CodeUnavailable, "byov restarts it automatically; retry the request",
			fmt.Sprintf("connector plugin %s failed during the call (it crashed or was killed)", proc.label()))
	case errors.Is(err, context.DeadlineExceeded) && deadlinePassed(ctx):
		return sdk.Wrap(err, sdk.CodeUnavailable, "the vault may be slow or unreachable; run `byov connector check`",
			fmt.Sprintf("connector plugin %s did not answer before the call's deadline", proc.label()))
	}
	return err
}

// configure records an instance's configuration and applies it to the
// serving process; a restarted or swapped-in process gets it too. The
// caller holds lifecycle.
func (p *Plugin) configure(ctx context.Context, id string, config map[string]any, sa sdk.ServiceAccount) error {
	p.mu.RLock()
	proc := p.cur
	p.mu.RUnlock()
	var err error
	if proc != nil {
		err = proc.rpc.Configure(ctx, id, config, sa)
	}
	p.mu.Lock()
	p.instances[id] = instanceConfig{config: config, sa: sa, err: err}
	p.mu.Unlock()
	return err
}

// instanceError is the configuration error of an instance, if any.
func (p *Plugin) instanceError(id string) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.instanceErrorLocked(id)
}

func (p *Plugin) instanceErrorLocked(id string) error {
	ic, ok := p.instances[id]
	if !ok {
		return sdk.Errorf(sdk.CodeInvalidConfig, "add a connector block for it and reload the configuration",
			"connector instance %q of type %s is not configured", id, p.typ)
	}
	return ic.err
}

// unconfigure forgets an instance.
func (p *Plugin) unconfigure(ctx context.Context, id string) error {
	p.lifecycle.Lock()
	defer p.lifecycle.Unlock()
	p.mu.Lock()
	delete(p.instances, id)
	proc := p.cur
	p.mu.Unlock()
	if proc == nil {
		return nil
	}
	return proc.rpc.Unconfigure(ctx, id)
}

// reload starts the chosen version beside the serving one, configures and
// pings it, routes new calls to it, drains the old one and stops it. If the
// new one fails, the old one keeps serving and the error says why.
func (p *Plugin) reload(ctx context.Context, want string) (Status, error) {
	p.lifecycle.Lock()
	next, err := p.start(ctx, want, true)
	if err != nil {
		p.lifecycle.Unlock()
		still := "nothing else was running"
		if old := p.current(); old != nil {
			still = fmt.Sprintf("%s keeps serving", old.label())
		}
		return p.Status(), fmt.Errorf("reloading connector %s failed, %s: %w", p.typ, still, err)
	}
	old := p.install(next)
	p.lifecycle.Unlock()
	p.logger.Info("connector plugin swapped in", "plugin", next.label(), "sha256", next.sum)
	if old != nil {
		old.drainAndStop(p.m.opts.DrainTimeout, p.logger)
	}
	return p.Status(), nil
}

func (p *Plugin) current() *process {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cur
}

// close stops the plugin for good.
func (p *Plugin) close() {
	p.lifecycle.Lock()
	defer p.lifecycle.Unlock()
	p.mu.Lock()
	p.closed = true
	proc := p.cur
	p.cur = nil
	p.state = StateStopped
	p.wake()
	p.mu.Unlock()
	if proc != nil {
		proc.drainAndStop(p.m.opts.DrainTimeout, p.logger)
	}
}

// Status is one row of `byov plugin list`.
type Status struct {
	Type        string    `json:"type"`
	Version     string    `json:"version"`
	Protocol    int       `json:"protocol"`
	SHA256      string    `json:"sha256"`
	Path        string    `json:"path"`
	State       State     `json:"state"`
	PID         int       `json:"pid"`
	Restarts    int       `json:"restarts"`
	Instances   int       `json:"instances"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Description string    `json:"description,omitempty"`
}

// Status reports the plugin's current state.
func (p *Plugin) Status() Status {
	p.mu.RLock()
	defer p.mu.RUnlock()
	s := Status{Type: p.typ, State: p.state, Restarts: p.restarts, Instances: len(p.instances)}
	if p.lastErr != nil {
		s.LastError = p.lastErr.Error()
	}
	if proc := p.cur; proc != nil {
		s.Version, s.Protocol, s.SHA256, s.Path = proc.meta.Version, proc.protocol, proc.sum, proc.bin.Path
		s.PID, s.StartedAt, s.Description = proc.pid, proc.started, proc.meta.Description
	}
	return s
}

// deadlinePassed reports whether ctx's deadline is reached. gRPC ends a call
// by its own timer, which can fire a moment before ctx.Err() is set, so the
// clock is asked rather than the context.
func deadlinePassed(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
