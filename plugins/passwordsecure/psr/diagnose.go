package psr

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Step is the outcome of one step of Diagnose.
type Step struct {
	// Name is one of: url, dns, tcp, tls, http, api-key, login, scope, lookup.
	Name    string
	OK      bool
	Message string
	Hint    string
	// Err is the failure, nil when OK.
	Err error
}

// Diagnose walks the path from byov to an entry one layer at a time, so
// that a failure is reported at the layer that causes it: the URL, DNS, TCP,
// TLS, the HTTP path, the API key, the login, the key's rights and scope,
// and, when account is not nil, a lookup of that account (without reading
// its password, so no logbook entry). It stops at the first failed step,
// since every later one would fail for the same reason.
func (c *Client) Diagnose(ctx context.Context, account *Account) []Step {
	var steps []Step
	add := func(name string, err error, okMsg string) bool {
		st := Step{Name: name, OK: err == nil, Message: okMsg, Err: err}
		if err != nil {
			st.Message = err.Error()
			var e *Error
			if errors.As(err, &e) {
				st.Message, st.Hint = e.Message, e.Hint
			}
		}
		steps = append(steps, st)
		return err == nil
	}
	host, port := hostPort(c.base)
	where := net.JoinHostPort(host, port)

	if !add("url", nil, fmt.Sprintf("api_url is %s; calls go to %s:%s", c.base, host, port)) {
		return steps
	}

	dnsMsg := fmt.Sprintf("%s is an IP address", host)
	var dnsErr error
	if net.ParseIP(host) == nil {
		dctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		addrs, err := net.DefaultResolver.LookupHost(dctx, host)
		cancel()
		if err != nil {
			dnsErr = c.classifyTransport(err)
		} else {
			dnsMsg = fmt.Sprintf("%s resolves to %s", host, strings.Join(addrs, ", "))
		}
	}
	if !add("dns", dnsErr, dnsMsg) {
		return steps
	}

	dialer := &net.Dialer{Timeout: c.opts.Timeout}
	start := time.Now()
	conn, err := dialer.DialContext(ctx, "tcp", where)
	if err != nil {
		add("tcp", c.classifyTransport(err), "")
		return steps
	}
	_ = conn.Close()
	add("tcp", nil, fmt.Sprintf("connected to %s in %s", where, time.Since(start).Round(time.Millisecond)))

	if c.base.Scheme == "https" {
		msg, err := c.probeTLS(ctx, dialer, host, where)
		if !add("tls", err, msg) {
			return steps
		}
	} else {
		steps = append(steps, Step{Name: "tls", OK: true, Message: "api_url uses plain http, so nothing is encrypted in transit",
			Hint: "use https in production: the API key and passwords cross this connection"})
	}

	// GET CloseSession without a session touches nothing on the server, yet
	// tells a missing API path (404 or a web page) from a present one.
	_, err = c.roundTrip(ctx, http.MethodGet, "WebService/CloseSession", nil, nil)
	if err != nil && (KindOf(err) == KindHTTPPath || KindOf(err) == KindUnreachable || KindOf(err) == KindTLS || KindOf(err) == KindUnavailable) {
		add("http", err, "")
		return steps
	}
	if !add("http", nil, fmt.Sprintf("%s answers as a Password Secure API", c.base)) {
		return steps
	}

	keyErr, keyMsg := c.checkKey(), ""
	if keyErr == nil {
		keyMsg = c.key.String()
	}
	if !add("api-key", keyErr, keyMsg) {
		return steps
	}
	if !add("login", c.Login(ctx), fmt.Sprintf("logged in as %q with the API key", c.key.User)) {
		return steps
	}
	scopeErr := c.checkScope()
	if scopeErr == nil {
		// The session is only worth something if data calls work in it.
		_, scopeErr = c.defaultFilter(ctx)
	}
	if !add("scope", scopeErr, fmt.Sprintf("the key may read password entries (rights %q, scopes %q)", c.key.RightsText, c.key.ScopesText)) {
		return steps
	}
	if account != nil {
		e, err := c.Lookup(ctx, *account)
		msg := ""
		if err == nil {
			msg = fmt.Sprintf("found %s as entry %s (%q) and can decrypt its password key", account, e.ID, e.Name)
		}
		add("lookup", err, msg)
	}
	return steps
}

func (c *Client) checkKey() error {
	if c.keyErr != nil {
		return c.keyErr
	}
	return c.key.CheckExpiry(time.Now())
}

// probeTLS does a handshake with the client's own TLS settings and reports
// the certificate, so that a name mismatch lists the names it does carry.
func (c *Client) probeTLS(ctx context.Context, dialer *net.Dialer, host, where string) (string, error) {
	cfg := c.tlsConfig.Clone()
	cfg.ServerName = host
	td := &tls.Dialer{NetDialer: dialer, Config: cfg}
	hctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	conn, err := td.DialContext(hctx, "tcp", where)
	if err != nil {
		return "", c.classifyTransport(err)
	}
	defer conn.Close()
	state := conn.(*tls.Conn).ConnectionState()
	msg := fmt.Sprintf("TLS %s with %s", tls.VersionName(state.Version), where)
	if len(state.PeerCertificates) > 0 {
		cert := state.PeerCertificates[0]
		msg += fmt.Sprintf("; certificate for %s issued by %q, valid until %s", strings.Join(certNames(cert.DNSNames, cert.IPAddresses), ", "), cert.Issuer.String(), cert.NotAfter.UTC().Format("2006-01-02"))
	}
	if c.opts.SkipCertCheck {
		return msg + " (certificate NOT verified: skip_cert_check is on)", nil
	}
	return msg, nil
}

func certNames(dns []string, ips []net.IP) []string {
	names := append([]string(nil), dns...)
	for _, ip := range ips {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		names = []string{"no names"}
	}
	return names
}
