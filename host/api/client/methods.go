package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/byov/byov/host/api"
	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/sessions"
)

func seg(s string) string { return url.PathEscape(s) }

// StartSession asks for a session. When the checkout fails or the session
// is cancelled, the error is a *Error and the session that recorded it is
// returned as well (and in Error.Session).
func (c *Client) StartSession(ctx context.Context, req api.StartSessionRequest) (sessions.Session, error) {
	var s sessions.Session
	err := c.do(ctx, http.MethodPost, "/v1/sessions", nil, req, &s)
	var e *Error
	if errors.As(err, &e) && e.Session != nil {
		return *e.Session, err
	}
	return s, err
}

// SessionFilter selects sessions for ListSessions.
type SessionFilter struct {
	// User is another user's name (administrators only).
	User string
	// States are session states, or "active" for every state before the
	// end.
	States []string
	// Limit is the server's default (100) when zero.
	Limit int
}

// ListSessions returns sessions, newest first: the caller's own, or for an
// administrator everyone's.
func (c *Client) ListSessions(ctx context.Context, f SessionFilter) ([]sessions.Session, error) {
	q := url.Values{}
	if f.User != "" {
		q.Set("user", f.User)
	}
	if len(f.States) > 0 {
		q.Set("state", strings.Join(f.States, ","))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out api.SessionList
	err := c.do(ctx, http.MethodGet, "/v1/sessions", q, nil, &out)
	return out.Sessions, err
}

// Session returns one session.
func (c *Client) Session(ctx context.Context, id string) (sessions.Session, error) {
	var s sessions.Session
	err := c.do(ctx, http.MethodGet, "/v1/sessions/"+seg(id), nil, nil, &s)
	return s, err
}

// Credential returns the session's credential, password included.
func (c *Client) Credential(ctx context.Context, id string) (api.Credential, error) {
	var cred api.Credential
	err := c.do(ctx, http.MethodGet, "/v1/sessions/"+seg(id)+"/credential", nil, nil, &cred)
	return cred, err
}

// EndSession ends a session; reason may be empty.
func (c *Client) EndSession(ctx context.Context, id, reason string) (sessions.Session, error) {
	var s sessions.Session
	var in any
	if reason != "" {
		in = api.EndSessionRequest{Reason: reason}
	}
	err := c.do(ctx, http.MethodDelete, "/v1/sessions/"+seg(id), nil, in, &s)
	return s, err
}

// Connectors lists the configured connectors.
func (c *Client) Connectors(ctx context.Context) ([]api.ConnectorInfo, error) {
	var out api.ConnectorList
	err := c.do(ctx, http.MethodGet, "/v1/connectors", nil, nil, &out)
	return out.Connectors, err
}

// CheckConnector runs a connector's check; testAccount (DOMAIN\username)
// may be empty.
func (c *Client) CheckConnector(ctx context.Context, name, testAccount string) (api.CheckResult, error) {
	var out api.CheckResult
	err := c.do(ctx, http.MethodPost, "/v1/connectors/"+seg(name)+"/check", nil, api.CheckRequest{TestAccount: testAccount}, &out)
	return out, err
}

// Accounts lists the accounts a vault connector holds (builtin), optionally
// of one domain.
func (c *Client) Accounts(ctx context.Context, connector, domain string) ([]api.AccountInfo, error) {
	q := url.Values{}
	if domain != "" {
		q.Set("domain", domain)
	}
	var out api.AccountList
	err := c.do(ctx, http.MethodGet, "/v1/connectors/"+seg(connector)+"/accounts", q, nil, &out)
	return out.Accounts, err
}

// PutAccount stores a new version of an account's password.
func (c *Client) PutAccount(ctx context.Context, connector string, req api.PutAccountRequest) (api.PutAccountResult, error) {
	var out api.PutAccountResult
	err := c.do(ctx, http.MethodPut, "/v1/connectors/"+seg(connector)+"/accounts", nil, req, &out)
	return out, err
}

// DeleteAccount removes an account (DOMAIN\username) from a vault connector.
func (c *Client) DeleteAccount(ctx context.Context, connector, account string) error {
	return c.do(ctx, http.MethodDelete, "/v1/connectors/"+seg(connector)+"/accounts/"+seg(account), nil, nil, nil)
}

// Plugins lists the connector plugins.
func (c *Client) Plugins(ctx context.Context) ([]plugins.Status, error) {
	var out api.PluginList
	err := c.do(ctx, http.MethodGet, "/v1/plugins", nil, nil, &out)
	return out.Plugins, err
}

// ReloadPlugin swaps a plugin type's process for a new binary: exactly
// version, or the highest allowed when version is empty. On failure the old
// version keeps serving and the error's Plugin says what runs.
func (c *Client) ReloadPlugin(ctx context.Context, typ, version string) (plugins.Status, error) {
	var out api.ReloadResult
	err := c.do(ctx, http.MethodPost, "/v1/plugins/"+seg(typ)+"/reload", nil, api.ReloadRequest{Version: version}, &out)
	var e *Error
	if errors.As(err, &e) && e.Plugin != nil {
		return *e.Plugin, err
	}
	return out.Plugin, err
}

// AuditQuery selects audit records.
type AuditQuery struct {
	SessionID string
	// Type is an exact record type or a prefix ending in a dot.
	Type string
	// Since is a time; SinceAgo, when set instead, a duration back from the
	// server's now.
	Since    time.Time
	SinceAgo time.Duration
	// After pages: the NextAfter of the previous page.
	After int64
	// Limit is 100 when zero, at most 1000.
	Limit int
	// Newest returns the latest records first.
	Newest bool
}

// Audit returns one page of audit records.
func (c *Client) Audit(ctx context.Context, f AuditQuery) (api.AuditPage, error) {
	q := url.Values{}
	if f.SessionID != "" {
		q.Set("session", f.SessionID)
	}
	if f.Type != "" {
		q.Set("type", f.Type)
	}
	switch {
	case !f.Since.IsZero():
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	case f.SinceAgo > 0:
		q.Set("since", f.SinceAgo.String())
	}
	if f.After > 0 {
		q.Set("after", strconv.FormatInt(f.After, 10))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Newest {
		q.Set("newest", "true")
	}
	var out api.AuditPage
	err := c.do(ctx, http.MethodGet, "/v1/audit", q, nil, &out)
	return out, err
}

// VerifyAudit checks the audit chain; a broken chain is a Report with OK
// false, not an error.
func (c *Client) VerifyAudit(ctx context.Context) (audit.Report, error) {
	var out audit.Report
	err := c.do(ctx, http.MethodGet, "/v1/audit/verify", nil, nil, &out)
	return out, err
}

// CreateToken makes an API token; the answer is the only place it appears.
func (c *Client) CreateToken(ctx context.Context, req api.CreateTokenRequest) (api.CreatedToken, error) {
	var out api.CreatedToken
	err := c.do(ctx, http.MethodPost, "/v1/tokens", nil, req, &out)
	return out, err
}

// Tokens lists the API tokens, without their secrets.
func (c *Client) Tokens(ctx context.Context) ([]api.TokenInfo, error) {
	var out api.TokenList
	err := c.do(ctx, http.MethodGet, "/v1/tokens", nil, nil, &out)
	return out.Tokens, err
}

// RevokeToken revokes a token by its id.
func (c *Client) RevokeToken(ctx context.Context, id string) (api.TokenInfo, error) {
	var out api.TokenInfo
	err := c.do(ctx, http.MethodDelete, "/v1/tokens/"+seg(id), nil, nil, &out)
	return out, err
}

// Health returns the server's health; it needs no token. A server that
// cannot read its state file answers 503: the health is returned then too,
// with an error saying what is wrong.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var out api.Health
	resp, data, err := c.roundTrip(ctx, http.MethodGet, "/v1/sys/health", nil, nil)
	if err != nil {
		return out, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return out, c.decode(resp, data, &out)
	case http.StatusServiceUnavailable:
		if err := c.decode(resp, data, &out); err != nil || out.Status == "" {
			return out, c.apiError(resp, data)
		}
		return out, &Error{Status: resp.StatusCode, Code: "Unavailable",
			Message: "byov at " + c.addr + " cannot serve: " + strings.Join(out.Problems, "; "),
			Hint:    "the server log has the details"}
	}
	return out, c.apiError(resp, data)
}

// Metrics returns the Prometheus text of /metrics.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	var out string
	err := c.do(ctx, http.MethodGet, "/metrics", nil, nil, &out)
	return out, err
}
