// Package server assembles `byov serve`: it loads the configuration, runs
// the connector plugins, opens the state database, and serves the HTTP API
// over them; it reloads the configuration on request without dropping
// sessions, keeping the old one when the new one has errors.
package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2"

	"github.com/byov/byov/config"
	"github.com/byov/byov/host/api"
	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/sessions"
	"github.com/byov/byov/host/store"
	"github.com/byov/byov/sdk"
)

// Options configure a Server.
type Options struct {
	// ConfigPath is the HCL file; the lock file lives beside it.
	ConfigPath string
	Logger     hclog.Logger
	// Listener, when set, is served instead of listening on server.listen
	// (tests use a random port).
	Listener net.Listener
}

// Server is a running byov host.
type Server struct {
	opts   Options
	logger hclog.Logger

	cfg      atomic.Pointer[config.Config]
	plugins  *plugins.Manager
	store    *store.Store
	audit    *audit.Log
	sessions *sessions.Manager
	api      *api.Server

	// reloadMu serialises configuration reloads.
	reloadMu sync.Mutex
}

// DiagnosticsError carries configuration diagnostics. Text renders them
// all with their source lines, for the operator's terminal; Error lists
// only the errors, by position, summary and detail, without source lines:
// it goes to logs and to the audit, where a line such as an inline secret's
// must not be copied.
type DiagnosticsError struct {
	Diags hcl.Diagnostics
	Text  string
}

func (e *DiagnosticsError) Error() string {
	var b strings.Builder
	errs := e.Diags.Errs()
	fmt.Fprintf(&b, "the configuration has %d error(s):", len(errs))
	for _, err := range errs {
		var d *hcl.Diagnostic
		if errors.As(err, &d) {
			where := ""
			if d.Subject != nil {
				where = d.Subject.String() + ": "
			}
			fmt.Fprintf(&b, "\n  %s%s; %s", where, d.Summary, d.Detail)
		}
	}
	return b.String()
}

// configDir is the absolute directory of the configuration file.
func configDir(configPath string) string {
	if abs, err := filepath.Abs(configPath); err == nil {
		return filepath.Dir(abs)
	}
	return filepath.Dir(configPath)
}

// LockFilePath is where the lock file of a configuration lives.
func LockFilePath(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), plugins.LockFileName)
}

// LoadConfig loads a configuration with the schemas of the connectors'
// plugins when a plugin manager is given. Warnings are logged; errors come
// back as a *DiagnosticsError.
func LoadConfig(path string, mgr *plugins.Manager, logger hclog.Logger) (*config.Config, hcl.Diagnostics, error) {
	opts := config.LoadOptions{}
	if mgr != nil {
		opts.SchemaFunc = func(typ string) ([]sdk.Attribute, error) {
			p, err := mgr.Plugin(context.Background(), typ)
			if err != nil {
				return nil, err
			}
			meta, err := p.Metadata()
			if err != nil {
				return nil, err
			}
			return meta.ConfigSchema, nil
		}
		opts.KnownPluginTypes = mgr.KnownTypes
	}
	cfg, diags := config.LoadFile(path, opts)
	if diags.HasErrors() {
		return nil, diags, &DiagnosticsError{Diags: diags, Text: RenderDiagnostics(diags)}
	}
	return cfg, diags, nil
}

// RenderDiagnostics prints diagnostics in the HCL style.
func RenderDiagnostics(diags hcl.Diagnostics) string {
	var b bytes.Buffer
	_ = config.WriteDiagnostics(&b, nil, diags, false)
	return b.String()
}

// PluginOptions are the plugin manager options a configuration implies.
func PluginOptions(cfg *config.Config, configPath string, logger hclog.Logger) plugins.Options {
	constraints := map[string]version.Constraints{}
	for typ, p := range cfg.Plugins {
		if p.Constraints != nil {
			constraints[typ] = p.Constraints
		}
	}
	return plugins.Options{
		Dir:            cfg.Server.PluginDir,
		LockFile:       LockFilePath(configPath),
		WorkDir:        configDir(configPath),
		ExecDir:        plugins.DefaultExecDir(cfg.Server.DataDir),
		Constraints:    constraints,
		StartTimeout:   cfg.Server.PluginStartTimeout,
		DrainTimeout:   cfg.Server.PluginDrainTimeout,
		HealthInterval: cfg.Server.PluginHealthInterval,
		Logger:         logger.Named("plugins"),
	}
}

// New loads the configuration and brings everything up except the
// listener. Connector plugins that cannot start are reported in the log and
// their sessions fail with the reason; the host serves the others.
func New(ctx context.Context, opts Options) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: "byov"})
	}
	// The server block says where the plugins are, and the plugins say how
	// their config blocks look: load once for the first, again for the rest.
	first, _, err := LoadConfig(opts.ConfigPath, nil, logger)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(first.Server.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	s := &Server{opts: opts, logger: logger}
	popts := PluginOptions(first, opts.ConfigPath, logger)
	popts.OnRestart = s.auditRestart
	mgr, err := plugins.NewManager(popts)
	if err != nil {
		return nil, err
	}
	s.plugins = mgr
	fail := func(err error) (*Server, error) { s.Close(); return nil, err }

	cfg, diags, err := LoadConfig(opts.ConfigPath, mgr, logger)
	if err != nil {
		return fail(err)
	}
	logWarnings(logger, diags)
	s.store, err = store.Open(ctx, filepath.Join(cfg.Server.DataDir, "byov.db"))
	if err != nil {
		return fail(err)
	}
	s.audit = audit.New(s.store, audit.Options{})
	s.cfg.Store(cfg)
	s.applyConnectors(ctx, nil, cfg)

	s.sessions, err = sessions.New(sessions.Options{
		Store:  s.store,
		Audit:  s.audit,
		Config: s.cfg.Load,
		Vaults: s.vault,
		Logger: logger.Named("sessions"),
	})
	if err != nil {
		return fail(err)
	}
	s.api, err = api.New(api.Options{
		Sessions:                  s.sessions,
		Audit:                     s.audit,
		Store:                     s.store,
		Plugins:                   mgr,
		Connectors:                connectorDirectory{s},
		Logger:                    logger.Named("api"),
		TLS:                       cfg.Server.TLSCertFile != "",
		Loopback:                  isLoopback(cfg.Server.Listen),
		AllowPlaintextCredentials: cfg.Server.AllowPlaintextCredentials,
		KnownUser: func(name string) bool {
			_, ok := s.cfg.Load().Users[name]
			return ok
		},
	})
	if err != nil {
		return fail(err)
	}
	return s, nil
}

func logWarnings(logger hclog.Logger, diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			where := ""
			if d.Subject != nil {
				where = d.Subject.String()
			}
			logger.Warn("configuration: "+d.Summary, "at", where, "detail", d.Detail)
		}
	}
}

// instance resolves a connector block of the configuration in force to
// its plugin instance.
func (s *Server) instance(name string) (*plugins.Instance, error) {
	c, ok := s.cfg.Load().Connectors[name]
	if !ok {
		return nil, sdk.Errorf(sdk.CodeNotFound, "`byov connector list` shows the configured connectors", "there is no connector named %q", name)
	}
	return s.plugins.Instance(c.Plugin, name), nil
}

// vault is instance for sessions (without a typed nil on error).
func (s *Server) vault(name string) (sessions.Vault, error) {
	inst, err := s.instance(name)
	if err != nil {
		return nil, err
	}
	return inst, nil
}

// applyConnectors configures every connector block of next in its plugin,
// and removes those that old had and next has not. A connector that fails
// is logged with its block's position; the others go on.
func (s *Server) applyConnectors(ctx context.Context, old, next *config.Config) []error {
	var errs []error
	names := make([]string, 0, len(next.Connectors))
	for name := range next.Connectors {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := next.Connectors[name]
		sa := sdk.ServiceAccount{}
		if acct, ok := next.ServiceAccounts[c.ServiceAccount]; ok {
			sa = sdk.ServiceAccount{Username: acct.Username, Secret: acct.Secret}
		}
		if _, err := s.plugins.Configure(ctx, c.Plugin, name, c.Config, sa); err != nil {
			err = fmt.Errorf("connector %q (%s): %w", name, c.DeclRange.String(), err)
			s.logger.Error("a connector could not be set up; its sessions will fail until it is fixed", "connector", name, "error", err)
			errs = append(errs, err)
		}
	}
	if old != nil {
		for name, c := range old.Connectors {
			if _, still := next.Connectors[name]; !still {
				if err := s.plugins.Unconfigure(ctx, c.Plugin, name); err != nil {
					s.logger.Warn("removing a connector instance failed", "connector", name, "error", err)
				}
			}
		}
	}
	return errs
}

// Reload reads the configuration again. With errors, the running one
// stays in force and the error carries the diagnostics.
func (s *Server) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	next, diags, err := LoadConfig(s.opts.ConfigPath, s.plugins, s.logger)
	if err != nil {
		s.recordReload(ctx, audit.OutcomeError, err)
		return err
	}
	logWarnings(s.logger, diags)
	old := s.cfg.Load()
	if next.Server.DataDir != old.Server.DataDir || next.Server.PluginDir != old.Server.PluginDir || next.Server.Listen != old.Server.Listen ||
		next.Server.TLSCertFile != old.Server.TLSCertFile || next.Server.TLSKeyFile != old.Server.TLSKeyFile {
		s.logger.Warn("server.listen, data_dir, plugin_dir and the TLS files take effect only at the next start")
	}
	errs := s.applyConnectors(ctx, old, next)
	s.cfg.Store(next)
	s.api.SetAllowPlaintextCredentials(next.Server.AllowPlaintextCredentials)
	s.recordReload(ctx, audit.OutcomeOK, errors.Join(errs...))
	s.logger.Info("configuration reloaded", "connectors", len(next.Connectors), "policies", len(next.AccessPolicies))
	return nil
}

func (s *Server) recordReload(ctx context.Context, outcome audit.Outcome, err error) {
	detail := map[string]string{"config": s.opts.ConfigPath}
	if err != nil {
		detail["error"] = truncate(err.Error(), 900)
	}
	if _, aerr := s.audit.Append(ctx, audit.Event{Type: audit.TypeConfigReload, Actor: "host", Outcome: outcome, Detail: detail}); aerr != nil {
		s.logger.Error("auditing a configuration reload failed", "error", aerr)
	}
}

// auditRestart records an automatic plugin restart.
func (s *Server) auditRestart(st plugins.Status, err error) {
	if s.audit == nil {
		return
	}
	outcome, detail := audit.OutcomeOK, map[string]string{"version": st.Version, "restarts": fmt.Sprint(st.Restarts)}
	if err != nil {
		outcome, detail["error"] = audit.OutcomeError, truncate(err.Error(), 900)
	}
	if _, aerr := s.audit.Append(context.Background(), audit.Event{Type: audit.TypePluginRestart, Actor: "host",
		Connector: st.Type, Outcome: outcome, Detail: detail}); aerr != nil {
		s.logger.Error("auditing a plugin restart failed", "error", aerr)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Config returns the configuration in force.
func (s *Server) Config() *config.Config { return s.cfg.Load() }

// Plugins returns the plugin manager.
func (s *Server) Plugins() *plugins.Manager { return s.plugins }

// Store returns the state database.
func (s *Server) Store() *store.Store { return s.store }

// Serve runs the API and the expiry worker until ctx ends, then shuts down:
// the listener first, then the plugins (letting calls finish), then the
// database.
func (s *Server) Serve(ctx context.Context) error {
	cfg := s.cfg.Load()
	ln := s.opts.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", cfg.Server.Listen)
		if err != nil {
			return fmt.Errorf("listening on %s (server.listen): %w", cfg.Server.Listen, err)
		}
	}
	if cfg.Server.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Server.TLSCertFile, cfg.Server.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("loading the TLS certificate (server.tls_cert_file, tls_key_file): %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	// The expiry worker is stopped and waited for before Serve returns, so
	// that Close never pulls the plugins or the database from under a
	// checkin it is making.
	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); s.sessions.RunExpiry(workerCtx) }()
	defer func() { stopWorker(); <-workerDone }()

	errc := make(chan error, 1)
	go func() { errc <- s.api.Serve(ln) }()
	s.logger.Info("byov is serving", "addr", ln.Addr().String(), "tls", cfg.Server.TLSCertFile != "")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.api.Shutdown(shutdownCtx); err != nil {
		s.logger.Warn("the API did not shut down cleanly", "error", err)
	}
	return nil
}

// Close stops the plugins and closes the database.
func (s *Server) Close() {
	if s.plugins != nil {
		s.plugins.Close()
	}
	if s.store != nil {
		_ = s.store.Close()
	}
}

func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// connectorDirectory gives the API the connectors of the configuration in
// force.
type connectorDirectory struct{ s *Server }

func (d connectorDirectory) Connectors() []api.ConnectorInfo {
	cfg := d.s.cfg.Load()
	out := make([]api.ConnectorInfo, 0, len(cfg.Connectors))
	for name, c := range cfg.Connectors {
		info := api.ConnectorInfo{Name: name, Plugin: c.Plugin, Description: c.Description}
		if meta, running := d.s.plugins.RunningMetadata(c.Plugin); running {
			for _, cap := range meta.Capabilities {
				info.Capabilities = append(info.Capabilities, string(cap))
			}
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (d connectorDirectory) Instance(_ context.Context, name string) (api.ConnectorInstance, error) {
	inst, err := d.s.instance(name)
	if err != nil {
		return nil, err
	}
	return inst, nil
}
