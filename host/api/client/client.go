// Package client is the Go client of byov's HTTP API (host/api), which the
// CLI uses. Every route has a typed method returning the API's own types;
// an error the API answered is a *Error with its status, code, message and
// hint, and a failure to reach the server says what to check.
//
// The address is http://host:port, https://host:port or unix:///path/to.sock;
// a bare host:port means http. FromEnv reads BYOV_ADDR, BYOV_TOKEN,
// BYOV_CACERT and BYOV_SKIP_VERIFY, as the CLI does.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/byov/byov/host/api"
	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/sessions"
)

// Environment variables FromEnv reads.
const (
	EnvAddr       = "BYOV_ADDR"
	EnvToken      = "BYOV_TOKEN"
	EnvCACert     = "BYOV_CACERT"
	EnvSkipVerify = "BYOV_SKIP_VERIFY"
)

// DefaultAddr is where FromEnv looks when BYOV_ADDR is not set: the listen
// address of the example configuration and of `byov dev`.
const DefaultAddr = "http://127.0.0.1:8443"

// DefaultTimeout bounds one call. It outlasts the server's own limit on an
// exchange (api.DefaultWriteTimeout), so that a slow checkout is answered by
// the server, with its reason, rather than cut off here.
const DefaultTimeout = api.DefaultWriteTimeout + 30*time.Second

// maxResponseBytes bounds what the client reads of an answer; a full audit
// page is well under it.
const maxResponseBytes = 32 << 20

// Client calls one byov server. It is safe for concurrent use.
type Client struct {
	addr  string // as the user gave it, for messages
	base  string // scheme://host[/prefix] that paths are appended to
	unix  string // the socket path, for a unix:// address
	token string
	hc    *http.Client
}

type settings struct {
	caFile     string
	skipVerify bool
	hc         *http.Client
	timeout    time.Duration
}

// Option configures a Client.
type Option func(*settings) error

// WithCACert trusts the CA certificates in the PEM file at path (instead of
// the system's) for an https address.
func WithCACert(path string) Option {
	return func(s *settings) error { s.caFile = path; return nil }
}

// WithSkipVerify turns certificate checks off, for a test server only:
// anyone on the path could then read tokens and credentials.
func WithSkipVerify(skip bool) Option {
	return func(s *settings) error { s.skipVerify = skip; return nil }
}

// WithHTTPClient uses hc as it is; the TLS options and the timeout are then
// hc's business.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) error { s.hc = hc; return nil }
}

// WithTimeout bounds each call; DefaultTimeout when not given.
func WithTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return fmt.Errorf("the client timeout %s is not positive", d)
		}
		s.timeout = d
		return nil
	}
}

// FromEnv returns a client for BYOV_ADDR (DefaultAddr when unset) with
// BYOV_TOKEN, trusting BYOV_CACERT and honouring BYOV_SKIP_VERIFY; opts
// given here win over the environment.
func FromEnv(opts ...Option) (*Client, error) {
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		addr = DefaultAddr
	}
	var env []Option
	if ca := os.Getenv(EnvCACert); ca != "" {
		env = append(env, WithCACert(ca))
	}
	if v := os.Getenv(EnvSkipVerify); v != "" {
		skip, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%q is not true or false", EnvSkipVerify, v)
		}
		env = append(env, WithSkipVerify(skip))
	}
	return New(addr, os.Getenv(EnvToken), append(env, opts...)...)
}

// New returns a client for the server at addr that authenticates with token
// (which may be empty for the health check and the metrics).
func New(addr, token string, opts ...Option) (*Client, error) {
	var s settings
	for _, o := range opts {
		if err := o(&s); err != nil {
			return nil, err
		}
	}
	c := &Client{addr: addr, token: token}
	scheme := "http"
	switch {
	case strings.HasPrefix(addr, "unix://"):
		c.unix = strings.TrimPrefix(addr, "unix://")
		if c.unix == "" {
			return nil, fmt.Errorf("the address %q names no socket; write unix:///path/to/byov.sock", addr)
		}
		// The host part is never resolved: the transport dials the socket.
		c.base = "http://byov"
	default:
		raw := addr
		if !strings.Contains(raw, "://") {
			raw = "http://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("the address %q is not a byov address; write http://host:port, https://host:port or unix:///path", addr)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("the address %q has the scheme %s; byov speaks http, https or unix", addr, u.Scheme)
		}
		scheme = u.Scheme
		c.base = u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/")
	}
	if s.hc != nil {
		c.hc = s.hc
		return c, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.skipVerify}
	if s.caFile != "" {
		if scheme != "https" {
			return nil, fmt.Errorf("a CA file (%s) was given for %s, which is not an https address", s.caFile, addr)
		}
		pem, err := os.ReadFile(s.caFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read the CA file given by %s or WithCACert: %w", EnvCACert, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the CA file %s holds no PEM certificate", s.caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	if c.unix != "" {
		tr.Proxy = nil
		path := c.unix
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	}
	timeout := s.timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	c.hc = &http.Client{Transport: tr, Timeout: timeout}
	return c, nil
}

// Addr returns the address the client talks to, as given.
func (c *Client) Addr() string { return c.addr }

// Error is an error answer of the API.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Code is one of the api.Code* constants or a connector's sdk code.
	Code    string
	Message string
	Hint    string
	// Session is the failed or cancelled session of a start that produced
	// one; its Error says what the connector reported.
	Session *sessions.Session
	// Plugin is the plugin's status after a failed reload.
	Plugin *plugins.Status
}

// Error reads as the server's sentence, with its hint.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = fmt.Sprintf("the byov server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Hint != "" {
		return msg + " (hint: " + e.Hint + ")"
	}
	return msg
}

// CodeOf returns the API code of err when it is a *Error, else "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// do sends one request and decodes the answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	resp, data, err := c.roundTrip(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return c.apiError(resp, data)
	}
	return c.decode(resp, data, out)
}

func (c *Client) decode(resp *http.Response, data []byte, out any) error {
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if s, ok := out.(*string); ok {
		*s = string(data)
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the answer of %s to %s %s is not what byov sends (is it a byov server?): %w",
			c.addr, resp.Request.Method, resp.Request.URL.Path, err)
	}
	return nil
}

// roundTrip sends one request and reads the whole answer.
func (c *Client) roundTrip(ctx context.Context, method, path string, query url.Values, in any) (*http.Response, []byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot encode the request to %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot make the request %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "byov-client")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, c.explain(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, nil, fmt.Errorf("the answer of byov at %s to %s %s broke off: %w", c.addr, method, path, err)
	}
	return resp, data, nil
}

// apiError reads an error answer; one that is not the API's JSON is
// explained as well as it can be.
func (c *Client) apiError(resp *http.Response, data []byte) error {
	var eb api.ErrorBody
	if err := json.Unmarshal(data, &eb); err == nil && eb.Error.Code != "" {
		return &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Hint: eb.Error.Hint,
			Session: eb.Session, Plugin: eb.Plugin}
	}
	e := &Error{Status: resp.StatusCode, Code: "UnexpectedResponse",
		Message: fmt.Sprintf("%s answered %s, and not as the byov API does", c.addr, resp.Status),
		Hint:    "check that " + EnvAddr + " points at `byov serve`"}
	if bytes.Contains(data, []byte("HTTP request to an HTTPS server")) {
		e.Message = fmt.Sprintf("the server at %s speaks HTTPS", c.addr)
		e.Hint = "use https:// in " + EnvAddr
	}
	return e
}

// explain turns a transport failure into a sentence saying what to check.
func (c *Client) explain(err error) error {
	var (
		unknownCA *x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certErr   *tls.CertificateVerificationError
		recErr    tls.RecordHeaderError
		dnsErr    *net.DNSError
		netErr    net.Error
	)
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach byov at %s: the connection was refused; is `byov serve` running at %s? (set %s to where it listens): %w",
			c.addr, c.addr, EnvAddr, err)
	case c.unix != "" && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT)):
		return fmt.Errorf("cannot reach byov at %s: there is no socket at %s; is `byov serve` running at %s?: %w", c.addr, c.unix, c.addr, err)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("cannot trust byov at %s: its certificate is signed by a CA this client does not know; set %s to the CA's PEM file (or %s=true for a test server only): %w",
			c.addr, EnvCACert, EnvSkipVerify, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("cannot trust byov at %s: its certificate is not valid for that name; use a name the certificate holds in %s: %w", c.addr, EnvAddr, err)
	case errors.As(err, &certErr):
		return fmt.Errorf("cannot trust byov at %s: its certificate did not verify; check it, or set %s to the CA's PEM file: %w", c.addr, EnvCACert, err)
	case errors.As(err, &recErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("byov at %s does not speak TLS; use http:// in %s: %w", c.addr, EnvAddr, err)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("cannot reach byov at %s: the host name does not resolve; check %s: %w", c.addr, EnvAddr, err)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("byov at %s did not answer in time; check that it runs and that the network lets you through: %w", c.addr, err)
	}
	return fmt.Errorf("cannot reach byov at %s; is `byov serve` running there?: %w", c.addr, err)
}
