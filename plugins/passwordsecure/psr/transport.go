package psr

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// maxBody bounds a response; the largest legitimate one is a container list.
const maxBody = 32 << 20

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// roundTrip performs one API call, {base}{path}, with the session headers of
// s when s is not nil. It retries transient failures (connection reset, 502,
// 503) with backoff, each attempt under its own deadline, and never anything
// else: a refused login must not be repeated, because the server counts
// failed logins towards a lockout. A 200 answer's body is returned without
// its BOM; every other outcome is an *Error.
func (c *Client) roundTrip(ctx context.Context, method, path string, body any, s *session) ([]byte, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, newError(KindInternal, err, "", "encoding the %s request failed: %v", path, err)
		}
	}
	target := c.base.JoinPath(path).String()
	var lastErr *Error
	for attempt := 1; attempt <= c.opts.MaxAttempts; attempt++ {
		if attempt > 1 {
			wait := c.opts.RetryBackoff << (attempt - 2)
			wait += rand.N(wait/2 + 1) // jitter, so that many clients do not retry in step
			c.log.Debug("retrying a Password Secure call after a transient failure", "call", path, "attempt", attempt, "wait", wait, "error", lastErr.Message)
			select {
			case <-ctx.Done():
				return nil, lastErr
			case <-time.After(wait):
			}
		}
		data, err := c.attempt(ctx, method, target, path, payload, s)
		if err == nil {
			return data, nil
		}
		lastErr = err
		if !err.transient || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func (c *Client) attempt(ctx context.Context, method, target, path string, payload []byte, s *session) ([]byte, *Error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, newError(KindInternal, err, "", "building the %s request failed: %v", path, err)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s != nil {
		req.Header.Set("token2", s.token2)
		req.Header.Set("ApiKeyToken", c.key.jwt)
	}
	c.requests.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.classifyTransport(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		e := c.classifyTransport(err)
		e.Message = "reading the answer to " + path + " failed: " + e.Message
		return nil, e
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	return c.classifyStatus(resp, path, data)
}

// classifyStatus turns an HTTP answer into the body (200) or an *Error.
func (c *Client) classifyStatus(resp *http.Response, path string, data []byte) ([]byte, *Error) {
	where := joinHostPort(c.base)
	switch code := resp.StatusCode; {
	case code == http.StatusOK || code == http.StatusNoContent:
		if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct == "text/html" {
			return nil, c.pathError(path, "answered with a web page instead of the API's JSON")
		}
		return data, nil
	case code == http.StatusUnauthorized:
		return nil, &Error{Kind: KindAPIKey, status: code, Message: fmt.Sprintf("Password Secure at %s refused the call to %s as unauthorized (401)", where, path),
			Hint: "the API key or its session was refused; check that the key is valid and not revoked"}
	case code == http.StatusForbidden:
		return nil, &Error{Kind: KindPermission, status: code, Message: fmt.Sprintf("Password Secure at %s forbade the call to %s (403)", where, path),
			Hint: "give the API key Read access rights and the Password scope, and its user Read on the entry"}
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		return nil, c.pathError(path, fmt.Sprintf("answered %d %s", code, http.StatusText(code)))
	case code == http.StatusBadGateway || code == http.StatusServiceUnavailable:
		return nil, &Error{Kind: KindUnavailable, status: code, transient: true,
			Message: fmt.Sprintf("Password Secure at %s is unavailable: %s answered %d %s", where, path, code, http.StatusText(code)),
			Hint:    "the web application cannot reach its application server or is restarting; try again shortly and check the Password Secure server's health"}
	case code >= 500:
		return nil, serverError(where, path, code, data)
	default:
		return nil, &Error{Kind: KindInternal, status: code, Message: fmt.Sprintf("Password Secure at %s answered %s with an unexpected %d %s", where, path, code, http.StatusText(code))}
	}
}

func (c *Client) pathError(path, what string) *Error {
	hint := "check the path of api_url; it is the address of the web application's API"
	if !strings.Contains(strings.ToLower(c.base.Path), "/api") {
		hint = "is /api missing from api_url? Password Secure serves its API under /api, e.g. " + c.base.Scheme + "://" + c.base.Host + "/api"
	}
	return &Error{Kind: KindHTTPPath, status: http.StatusNotFound,
		Message: fmt.Sprintf("the web server at %s %s for %s, so %s is not a Password Secure API address", joinHostPort(c.base), what, path, c.base.String()),
		Hint:    hint}
}

// Password Secure exception codes that change what the operator must do
// (§1.4).
const (
	excRightInsufficient  = 30003
	excRightLastObject    = 30005
	excRightNoKey         = 30011
	excSealNotBroken      = 60020
	excSealOUCannotEdit   = 60007
	maxServerMessageRunes = 300
)

// serverError reads a 500 body {"ExceptionCode":n,"message"|"txt":"…"}.
func serverError(where, path string, status int, data []byte) *Error {
	var body struct {
		ExceptionCode int    `json:"ExceptionCode"`
		Message       string `json:"message"`
		Txt           string `json:"txt"`
	}
	_ = json.Unmarshal(data, &body)
	msg := body.Message
	if msg == "" {
		msg = body.Txt
	}
	if r := []rune(msg); len(r) > maxServerMessageRunes {
		msg = string(r[:maxServerMessageRunes]) + "…"
	}
	e := &Error{Kind: KindUnavailable, status: status, ExceptionCode: body.ExceptionCode}
	detail := ""
	if msg != "" {
		detail = ": " + msg
	}
	switch body.ExceptionCode {
	case excRightInsufficient, excRightLastObject, excRightNoKey:
		e.Kind = KindPermission
		e.Message = fmt.Sprintf("Password Secure refused %s for lack of rights (code %d)%s", path, body.ExceptionCode, detail)
		e.Hint = "give the API key's user (or one of its roles) the Read right on the entry"
	case excSealNotBroken, excSealOUCannotEdit:
		e.Kind = KindSealed
		e.Message = fmt.Sprintf("the entry is sealed; release required (Password Secure code %d%s)", body.ExceptionCode, detail)
		e.Hint = "request a release of the seal in Password Secure; byov never breaks a seal"
	default:
		e.Message = fmt.Sprintf("Password Secure at %s failed on %s with %d %s%s", where, path, status, http.StatusText(status), detail)
		if body.ExceptionCode != 0 {
			e.Message += fmt.Sprintf(" (code %d)", body.ExceptionCode)
		}
		e.Hint = "look in the Password Secure server's log for this error"
	}
	return e
}

// classifyTransport explains a failure below HTTP: DNS, TCP, TLS, deadline.
func (c *Client) classifyTransport(err error) *Error {
	host, port := hostPort(c.base)
	where := net.JoinHostPort(host, port)
	var (
		dnsErr     *net.DNSError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
	)
	switch {
	case errors.As(err, &dnsErr):
		return newError(KindUnreachable, err,
			"check the host name in api_url; if DNS cannot know it, use the server's IP address or add a hosts entry",
			"the vault host %q does not resolve (DNS: %s)", host, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return newError(KindUnreachable, err,
			"wrong port, or the Password Secure web application is not running there; the web API is usually on 443",
			"the connection to %s was refused", where)
	case errors.As(err, &unknownCA):
		return newError(KindTLS, err,
			"set ca_file to the PEM certificate of the CA that issued the server's certificate (or, for a test only, skip_cert_check = true)",
			"the TLS certificate of %s is signed by an unknown authority%s", where, certSubject(unknownCA.Cert))
	case errors.As(err, &hostErr):
		return newError(KindTLS, err,
			"use in api_url one of the names the certificate carries"+certNamesHint(hostErr.Certificate)+", or have the certificate reissued for "+host,
			"the TLS certificate of %s is not valid for the name %q", where, host)
	case errors.As(err, &invalidErr):
		return newError(KindTLS, err, "renew or fix the server's certificate, or set ca_file to the right CA",
			"the TLS certificate of %s is invalid: %s", where, invalidErr.Error())
	case errors.As(err, &recordErr):
		return newError(KindTLS, err, "api_url says https, but this port speaks plain HTTP; use the HTTPS port (or http:// on a test server)",
			"%s did not answer the TLS handshake with TLS", where)
	case errors.As(err, &alertErr):
		return newError(KindTLS, err, "check the TLS versions and ciphers the server allows, and whether it wants a client certificate",
			"the TLS handshake with %s failed: %v", where, alertErr)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE):
		e := newError(KindUnavailable, err, "a proxy or the server dropped the connection; if it keeps happening, check the server and any load balancer in front of it",
			"the connection to %s was reset", where)
		e.transient = true
		return e
	case errors.Is(err, context.Canceled):
		return newError(KindUnavailable, err, "", "the call to %s was cancelled", where)
	case isTimeout(err):
		return newError(KindUnreachable, err,
			"a firewall may be dropping the traffic, or the server is overloaded; check the route and firewall rules to the vault, or raise timeout",
			"no answer from %s within %s", where, c.opts.Timeout)
	}
	msg := err.Error()
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		msg = urlErr.Err.Error()
	}
	return newError(KindUnreachable, err, "check that api_url points to the Password Secure web server and that it is reachable from byov",
		"cannot reach %s: %s", where, msg)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func certSubject(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	return fmt.Sprintf(" (issuer %q)", cert.Issuer.String())
}

// certNamesHint lists the names a certificate is valid for, so that the
// operator can pick the right one for api_url.
func certNamesHint(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	names := append([]string(nil), cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && cert.Subject.CommonName != "" {
		names = append(names, cert.Subject.CommonName+" (common name only, which Go does not accept)")
	}
	if len(names) == 0 {
		return " (it carries none)"
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// decodeJSON reads a 200 body into out; an empty body leaves out untouched.
func decodeJSON(path string, data []byte, out any) error {
	if len(bytes.TrimSpace(data)) == 0 || out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return newError(KindInternal, err, "check that api_url points to Password Secure and that its version is supported",
			"the answer to %s is not the JSON this client expects: %v", path, err)
	}
	return nil
}
