package plugins

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-version"

	"github.com/byov/byov/sdk"
)

// Options configure a Manager.
type Options struct {
	// Dir is the plugin directory (server.plugin_dir).
	Dir string
	// LockFile is the path of byov.lock.hcl; when the file does not exist,
	// binaries run unverified and the manager warns at every start.
	LockFile string
	// ExecDir is a private directory for the verified copies that run;
	// empty means a temporary one, removed by Close.
	ExecDir string
	// WorkDir is the plugins' working directory, so that relative paths in
	// connector config blocks resolve against the configuration file's
	// directory, like every other path in it. Empty: the host's.
	WorkDir string
	// Constraints are the version constraints of the `plugin` blocks.
	Constraints map[string]version.Constraints

	StartTimeout      time.Duration // to handshake and answer; default 30s
	DrainTimeout      time.Duration // for calls in flight on a replaced process; default 30s
	HealthInterval    time.Duration // between pings; default 10s
	CallTimeout       time.Duration // for calls whose context has no deadline; default 60s
	RestartBackoff    time.Duration // first wait after a failed restart; default 250ms
	MaxRestartBackoff time.Duration // default 30s

	Logger hclog.Logger
	// OnRestart, when set, hears of every automatic restart after a crash:
	// the status after it, and the error when the attempt failed. The host
	// audits them.
	OnRestart func(st Status, err error)
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StartTimeout, 30*time.Second)
	def(&o.DrainTimeout, 30*time.Second)
	def(&o.HealthInterval, 10*time.Second)
	def(&o.CallTimeout, 60*time.Second)
	def(&o.RestartBackoff, 250*time.Millisecond)
	def(&o.MaxRestartBackoff, 30*time.Second)
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
}

// Manager runs the connector plugins of one host.
type Manager struct {
	opts   Options
	hashes *hashCache
	// ownExecDir: the exec directory is a temporary one of this manager's,
	// removed by Close.
	ownExecDir bool

	mu      sync.Mutex
	plugins map[string]*Plugin
}

// NewManager prepares a manager; plugins start on first use.
func NewManager(opts Options) (*Manager, error) {
	opts.setDefaults()
	if opts.Dir == "" {
		return nil, fmt.Errorf("no plugin directory given; set server.plugin_dir")
	}
	ownExecDir := opts.ExecDir == ""
	if ownExecDir {
		dir, err := os.MkdirTemp("", "byov-plugin-exec-")
		if err != nil {
			return nil, fmt.Errorf("creating the plugin exec directory: %w", err)
		}
		opts.ExecDir = dir
	}
	if err := PrepareExecDir(opts.ExecDir); err != nil {
		return nil, err
	}
	return &Manager{opts: opts, ownExecDir: ownExecDir, hashes: &hashCache{sums: map[fileIdentity]string{}}, plugins: map[string]*Plugin{}}, nil
}

func (m *Manager) startOptions() startOptions {
	lock, err := ReadLock(m.opts.LockFile)
	if err != nil {
		// A damaged lock file must not open the door to unverified code:
		// refuse everything until it is fixed.
		lock = &Lock{}
		m.opts.Logger.Error("the lock file cannot be read; refusing every connector binary until it is fixed", "lock_file", m.opts.LockFile, "error", err)
	}
	if lock == nil {
		m.opts.Logger.Warn("no lock file: connector binaries run without hash verification; run `byov plugin lock`", "lock_file", m.opts.LockFile)
	}
	return startOptions{workDir: m.opts.WorkDir, hashes: m.hashes, execDir: m.opts.ExecDir, lock: lock, startTimeout: m.opts.StartTimeout, logger: m.opts.Logger}
}

func (m *Manager) constraint(typ string) version.Constraints { return m.opts.Constraints[typ] }

func (m *Manager) selectBinary(typ, want string) (Binary, error) {
	bins, problems, err := Scan(m.opts.Dir)
	if err != nil {
		return Binary{}, err
	}
	for _, p := range problems {
		m.opts.Logger.Warn("skipping a file in the plugin directory", "problem", p)
	}
	return Select(bins, typ, m.constraint(typ), want)
}

func meetsConstraint(c version.Constraints, v string) bool {
	parsed, err := version.NewSemver(v)
	return err == nil && c.Check(parsed)
}

// Plugin returns the supervisor of a type, starting its process if it is
// not running yet. A start failure is returned and retried on the next use.
func (m *Manager) Plugin(ctx context.Context, typ string) (*Plugin, error) {
	p := m.plugin(typ)

	p.lifecycle.Lock()
	defer p.lifecycle.Unlock()
	if p.current() != nil {
		return p, nil
	}
	if p.isClosed() {
		return nil, sdk.Errorf(sdk.CodeUnavailable, "", "the plugin manager has been closed")
	}
	proc, err := p.start(ctx, "", false)
	if err != nil {
		p.markDown(err)
		return nil, err
	}
	p.install(proc)
	p.logger.Info("connector plugin started", "plugin", proc.label(), "sha256", proc.sum, "protocol", proc.protocol)
	return p, nil
}

// plugin returns the supervisor of a type without starting it.
func (m *Manager) plugin(typ string) *Plugin {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.plugins[typ]
	if !ok {
		p = newPlugin(m, typ)
		m.plugins[typ] = p
	}
	return p
}

// RunningMetadata returns the metadata of the process serving a type, and
// false when none serves it; it never starts one.
func (m *Manager) RunningMetadata(typ string) (sdk.Metadata, bool) {
	m.mu.Lock()
	p := m.plugins[typ]
	m.mu.Unlock()
	if p == nil {
		return sdk.Metadata{}, false
	}
	meta, err := p.Metadata()
	return meta, err == nil
}

// Instance returns a handle on an instance of a type. The handle stays valid
// across restarts and swaps of the type's process; its calls report why
// the instance cannot serve, if it cannot.
func (m *Manager) Instance(typ, id string) *Instance {
	return &Instance{p: m.plugin(typ), id: id}
}

// Configure creates or replaces an instance of a type, starting the type's
// process if needed, and returns its handle. The configuration is kept even
// when the process cannot start or refuses it, so that a later restart,
// `plugin reload` or configuration reload can bring the instance up; the
// handle is returned with the error.
func (m *Manager) Configure(ctx context.Context, typ, id string, config map[string]any, sa sdk.ServiceAccount) (*Instance, error) {
	p := m.plugin(typ)
	inst := &Instance{p: p, id: id}
	// Holding lifecycle, either a process serves and gets the configuration
	// now, or none does and the configuration is recorded before any start
	// (a crash restart in progress included) reads the instances.
	p.lifecycle.Lock()
	if p.current() != nil {
		defer p.lifecycle.Unlock()
		return inst, p.configure(ctx, id, config, sa)
	}
	p.mu.Lock()
	p.instances[id] = instanceConfig{config: config, sa: sa}
	p.mu.Unlock()
	p.lifecycle.Unlock()
	if _, err := m.Plugin(ctx, typ); err != nil {
		return inst, err
	}
	return inst, p.instanceError(id)
}

// Unconfigure removes an instance.
func (m *Manager) Unconfigure(ctx context.Context, typ, id string) error {
	m.mu.Lock()
	p := m.plugins[typ]
	m.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.unconfigure(ctx, id)
}

// Reload swaps the type's process for the chosen binary: the highest
// version allowed when want is "", else exactly want.
func (m *Manager) Reload(ctx context.Context, typ, want string) (Status, error) {
	p := m.plugin(typ)
	if p.current() == nil && want == "" {
		// Nothing runs (never started, or its start failed): start it.
		if _, err := m.Plugin(ctx, typ); err != nil {
			return p.Status(), fmt.Errorf("starting connector %s failed: %w", typ, err)
		}
		return p.Status(), nil
	}
	return p.reload(ctx, want)
}

// List returns the status of every started type, and a row for each binary
// type in the plugin directory that has not been started.
func (m *Manager) List() []Status {
	m.mu.Lock()
	rows := make([]Status, 0, len(m.plugins))
	started := map[string]bool{}
	for typ, p := range m.plugins {
		rows = append(rows, p.Status())
		started[typ] = true
	}
	m.mu.Unlock()
	if bins, _, err := Scan(m.opts.Dir); err == nil {
		for _, b := range bins {
			if started[b.Type] {
				continue
			}
			started[b.Type] = true
			rows = append(rows, Status{Type: b.Type, Version: b.VersionString(), Path: b.Path, State: StateStopped})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Type < rows[j].Type })
	return rows
}

// Close stops every plugin, letting calls in flight finish first.
func (m *Manager) Close() {
	m.mu.Lock()
	ps := make([]*Plugin, 0, len(m.plugins))
	for _, p := range m.plugins {
		ps = append(ps, p)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); p.close() }()
	}
	wg.Wait()
	if m.ownExecDir {
		if err := os.RemoveAll(m.opts.ExecDir); err != nil {
			m.opts.Logger.Warn("removing the temporary plugin exec directory failed", "dir", m.opts.ExecDir, "error", err)
		}
	}
}

// DefaultExecDir is where a host with a data directory keeps exec copies.
func DefaultExecDir(dataDir string) string { return filepath.Join(dataDir, "plugin-exec") }

// KnownTypes lists the connector types with a binary in the plugin
// directory.
func (m *Manager) KnownTypes() []string {
	bins, _, err := Scan(m.opts.Dir)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var types []string
	for _, b := range bins {
		if !seen[b.Type] {
			seen[b.Type] = true
			types = append(types, b.Type)
		}
	}
	return types
}
