package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/sessions"
	"github.com/byov/byov/host/store"
	"github.com/byov/byov/sdk"
	"github.com/hashicorp/go-hclog"
)

// Limits and timeouts of the HTTP server.
const (
	// MaxBodyBytes bounds a request body; nothing the API accepts comes
	// near it, so a larger body is a mistake or an attack.
	MaxBodyBytes = 64 << 10
	// DefaultWriteTimeout bounds a whole exchange. It must outlast a session
	// start, which waits for the checkout (server.checkout_timeout, 30s by
	// default), and a plugin reload, which waits for the new process.
	DefaultWriteTimeout = 2 * time.Minute
	readHeaderTimeout   = 10 * time.Second
	readTimeout         = 30 * time.Second
	idleTimeout         = 2 * time.Minute
	maxHeaderBytes      = 64 << 10
)

// PluginController lists and reloads connector plugins; *plugins.Manager is
// one.
type PluginController interface {
	List() []plugins.Status
	Reload(ctx context.Context, typ, version string) (plugins.Status, error)
}

// ConnectorDirectory knows the configured connectors (the `connector` blocks
// of the configuration in force) and hands out their instances. Instance
// reports an unknown name as an *sdk.Error with CodeNotFound. Neither call
// may start a plugin process: any token may list connectors.
type ConnectorDirectory interface {
	Connectors() []ConnectorInfo
	Instance(ctx context.Context, name string) (ConnectorInstance, error)
}

// ConnectorInstance is one configured connector; *plugins.Instance is one.
type ConnectorInstance interface {
	Check(ctx context.Context, req sdk.CheckRequest) ([]sdk.Finding, error)
	Put(ctx context.Context, req sdk.PutRequest) (int64, error)
	Delete(ctx context.Context, account sdk.Account) error
	List(ctx context.Context, req sdk.ListRequest) ([]sdk.AccountInfo, error)
}

// ConnectorInfo describes a configured connector for `byov connector list`.
type ConnectorInfo struct {
	Name         string   `json:"name"`
	Plugin       string   `json:"plugin"`
	Description  string   `json:"description,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// Options wire a Server.
type Options struct {
	Sessions *sessions.Manager
	// Audit must be the log the sessions write to: token and plugin records
	// join the same chain.
	Audit   *audit.Log
	Store   *store.Store
	Plugins PluginController
	// Connectors is the configured connectors; nil means none.
	Connectors ConnectorDirectory
	// Health adds detail to /v1/sys/health (version, config file, ...);
	// optional. What it returns is merged with what the API finds itself.
	Health func(ctx context.Context) Health
	// KnownUser, when set, says whether a name has a user block in the
	// configuration in force; a user-role token for an unknown name is
	// refused, since no policy could ever name it.
	KnownUser func(name string) bool
	Logger    hclog.Logger

	// TLS says the listener is TLS. Loopback says the listen address is
	// loopback (or a Unix socket). AllowPlaintextCredentials lets the
	// credential route answer over plain HTTP on any other address, which
	// the operator must ask for explicitly.
	TLS, Loopback, AllowPlaintextCredentials bool

	// Now is the clock for token checks; time.Now when nil.
	Now func() time.Time
	// Metrics collects what /metrics shows; a new one when nil.
	Metrics *Metrics
	// WriteTimeout bounds one exchange; DefaultWriteTimeout when zero.
	WriteTimeout time.Duration
}

// Server serves the API.
type Server struct {
	opts    Options
	log     hclog.Logger
	metrics *Metrics
	handler http.Handler
	mux     *http.ServeMux

	mu   sync.Mutex
	srvs []*http.Server
	down bool

	// allowPlaintext starts as Options.AllowPlaintextCredentials and follows
	// configuration reloads.
	allowPlaintext atomic.Bool
}

// SetAllowPlaintextCredentials changes server.allow_plaintext_credentials
// for the requests that follow (a configuration reload calls it).
func (s *Server) SetAllowPlaintextCredentials(allow bool) { s.allowPlaintext.Store(allow) }

// New returns a Server; nothing listens until Serve or ListenAndServe.
func New(opts Options) (*Server, error) {
	if opts.Sessions == nil || opts.Audit == nil || opts.Store == nil {
		return nil, errors.New("the API needs the session manager, the audit log and the state store; one of them is missing")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	s := &Server{opts: opts, log: opts.Logger, metrics: opts.Metrics}
	s.allowPlaintext.Store(opts.AllowPlaintextCredentials)
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	s.routes()
	return s, nil
}

// Handler returns the API as an http.Handler, for tests and for callers that
// run their own http.Server.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics returns the collector behind /metrics, for the server to feed
// checkouts the API does not see (see the package documentation).
func (s *Server) Metrics() *Metrics { return s.metrics }

func (s *Server) newHTTPServer() (*http.Server, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, http.ErrServerClosed
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
		ErrorLog:          s.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	s.srvs = append(s.srvs, srv)
	return srv, nil
}

// Serve answers requests on ln until Shutdown, and then returns nil. Wrap ln
// with tls.NewListener for TLS (and set Options.TLS).
func (s *Server) Serve(ln net.Listener) error {
	srv, err := s.newHTTPServer()
	if err != nil {
		// Shut down before it started: nothing to serve.
		ln.Close()
		return nil
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("the API server stopped: %w", err)
	}
	return nil
}

// ListenAndServe listens on addr and serves until Shutdown, with TLS when
// both file names are given. addr is host:port, or unix:///path for a Unix
// socket (created owner-and-group only; a stale socket file is replaced).
func (s *Server) ListenAndServe(addr, tlsCertFile, tlsKeyFile string) error {
	if (tlsCertFile == "") != (tlsKeyFile == "") {
		return errors.New("TLS needs both a certificate file and a key file; give both or neither")
	}
	var ln net.Listener
	var err error
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		ln, err = listenUnix(path)
	} else {
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	srv, err := s.newHTTPServer()
	if err != nil {
		ln.Close()
		return nil
	}
	if tlsCertFile != "" {
		err = srv.ServeTLS(ln, tlsCertFile, tlsKeyFile)
	} else {
		err = srv.Serve(ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("the API server on %s stopped: %w", addr, err)
	}
	return nil
}

func listenUnix(path string) (net.Listener, error) {
	// Only a socket left behind by an earlier run is removed; any other
	// file at that path is the operator's and stays.
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// LoopbackAddr reports whether a listen address reaches this machine only:
// a loopback IP, "localhost", or a unix:// socket. The server uses it for
// Options.Loopback.
func LoopbackAddr(addr string) bool {
	if strings.HasPrefix(addr, "unix://") {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Shutdown stops accepting requests and waits, until ctx ends, for those in
// flight; Serve and ListenAndServe then return.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.down = true
	srvs := s.srvs
	s.srvs = nil
	s.mu.Unlock()
	var errs []error
	for _, srv := range srvs {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the API server did not stop cleanly: %w", err)
	}
	return nil
}
