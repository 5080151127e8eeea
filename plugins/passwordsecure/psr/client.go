// Package psr is a client for the Netwrix Password Secure web API (PsrApi),
// limited to what byov needs: log in with an API key, find the "AD User"
// entry of a DOMAIN\username account and read its password. The wire format
// is the one of shared/passwordsecure/PROTOCOL.md; section numbers in
// comments refer to it.
//
// A Client logs in once and reuses its session until the server refuses it,
// caches what does not change between checkouts (the default filter, which
// entry and item key belong to an account) for a short time, and coalesces
// concurrent lookups of one account. The password itself is fetched on every
// checkout, with the caller's reason, so that Password Secure's logbook
// records every read.
//
// Every failure is an *Error with a Kind, a message and a hint an operator
// can act on. No error, log line or String method ever holds the API key, a
// session key, a private key or a password.
package psr

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxAttempts   = 3
	DefaultRetryBackoff  = 200 * time.Millisecond
	DefaultForm          = "AD User"
	DefaultDomainField   = "Domain"
	DefaultUsernameField = "Username"
	DefaultPasswordField = "Password"
	DefaultClientType    = "byov"
)

// Options configure a Client.
type Options struct {
	// BaseURL is the API URL, e.g. https://ps.example.com/api (§1.1).
	BaseURL string
	// APIKey is the key as Password Secure showed it: <JWT>:<base64 key>.
	// New parses it and does not keep the string.
	APIKey string
	// CACertPEM holds extra CA certificates to trust, beside the system's.
	CACertPEM []byte
	// SkipCertCheck turns off certificate verification; for tests only.
	SkipCertCheck bool
	// Timeout bounds every HTTP call (each attempt); DefaultTimeout if zero.
	Timeout time.Duration
	// CacheTTL is how long the entry and item key found for an account are
	// reused. Zero turns the cache off. The password is never cached.
	CacheTTL time.Duration
	// MaxAttempts bounds tries of a call that failed transiently (reset,
	// 502, 503); DefaultMaxAttempts if zero, 1 turns retries off.
	MaxAttempts int
	// RetryBackoff is the wait before the first retry; it doubles each time.
	RetryBackoff time.Duration
	// Form, DomainField, UsernameField and PasswordField name the form and
	// its fields, for sites that renamed them. Defaults: AD User, Domain,
	// Username, Password.
	Form, DomainField, UsernameField, PasswordField string
	// ClientType and ClientVersion are sent in the login's ClientInformation.
	ClientType, ClientVersion string
	// Logger gets debug and warning lines; hclog.NewNullLogger() if nil.
	Logger hclog.Logger
	// Transport, when set, replaces the HTTP transport (tests wrap it to
	// count round trips). TLS options are then the caller's business.
	Transport http.RoundTripper
}

// Client talks to one Password Secure server with one API key. It is safe
// for concurrent use.
type Client struct {
	opts       Options
	base       *url.URL
	http       *http.Client
	tlsConfig  *tls.Config
	log        hclog.Logger
	instanceID string

	key    *APIKey
	keyErr error

	// sessMu guards sess and loginCall, the login in progress, which
	// callers arriving meanwhile share: a burst of 401s, or of checkouts
	// with a revoked key, costs one login, not one per caller.
	// closed is set by Close, after which the client logs in no more.
	sessMu    sync.Mutex
	sess      *session
	loginCall *loginCall
	closed    bool

	filterMu sync.Mutex
	filter   []byte // the server's default ContainerListFilter, raw JSON

	cacheMu sync.Mutex
	cache   map[string]cacheEntry
	flight  flightGroup

	requests, logins, cacheHits atomic.Int64
}

// Stats counts what a Client has done, for tests, benchmarks and metrics.
type Stats struct {
	// Requests is the number of HTTP round trips, retries included.
	Requests int64
	// Logins is the number of completed API-key logins.
	Logins int64
	// CacheHits is the number of checkouts that skipped the entry search.
	CacheHits int64
}

// New checks the options and returns a client. It does not connect: the
// first call logs in. A malformed API key does not fail New, so that Check
// can report it as one of its steps; every call that needs the key returns
// the parse error instead.
func New(opts Options) (*Client, error) {
	base, err := NormalizeBaseURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = DefaultRetryBackoff
	}
	if opts.CacheTTL < 0 {
		opts.CacheTTL = 0
	}
	setDefault(&opts.Form, DefaultForm)
	setDefault(&opts.DomainField, DefaultDomainField)
	setDefault(&opts.UsernameField, DefaultUsernameField)
	setDefault(&opts.PasswordField, DefaultPasswordField)
	setDefault(&opts.ClientType, DefaultClientType)
	setDefault(&opts.ClientVersion, "1.0.0")
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}

	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.SkipCertCheck} //nolint:gosec // the operator's explicit choice, warned about by the connector
	if len(opts.CACertPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(opts.CACertPEM) {
			return nil, newError(KindConfig, nil, "ca_file must hold one or more PEM certificates (-----BEGIN CERTIFICATE-----)", "the CA file holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	transport := opts.Transport
	if transport == nil {
		dialer := &net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}
		transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSClientConfig:       tlsConfig,
			TLSHandshakeTimeout:   opts.Timeout,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}

	c := &Client{
		opts:       opts,
		base:       base,
		tlsConfig:  tlsConfig,
		log:        opts.Logger,
		instanceID: newUUID(),
		cache:      map[string]cacheEntry{},
		http: &http.Client{
			Transport: transport,
			// The API never redirects; following one could send the
			// session headers to another host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.key, c.keyErr = ParseAPIKey(opts.APIKey)
	// The parsed key is all the client needs; the string would otherwise
	// stay in memory, and in any %+v of the client, for the client's life.
	c.opts.APIKey = ""
	return c, nil
}

// BaseURL returns the normalised base URL, ending in a slash.
func (c *Client) BaseURL() string { return c.base.String() }

// APIKey returns the parsed API key, or why it could not be parsed.
func (c *Client) APIKey() (*APIKey, error) { return c.key, c.keyErr }

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), Logins: c.logins.Load(), CacheHits: c.cacheHits.Load()}
}

// Close cancels the lookups still running and waits for them, ends the
// server session (CloseSession) and forgets the keys. A closed client does
// not log in again: every later call fails.
func (c *Client) Close(ctx context.Context) error {
	c.sessMu.Lock()
	c.closed = true
	s := c.sess
	c.sess = nil
	c.sessMu.Unlock()
	// A lookup may outlive the checkout that started it; it must be done
	// before the keys it may be using are forgotten.
	c.flight.close()
	c.dropCache()
	if s == nil {
		return nil
	}
	err := c.endSession(ctx, s)
	if t, ok := c.http.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return err
}

// errClosed is the error of every call after Close.
func errClosed() error {
	return newError(KindUnavailable, nil, "", "the Password Secure client is closed")
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
