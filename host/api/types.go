package api

import (
	"time"

	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/sessions"
)

// The request and response bodies of the API. Sessions, audit records, the
// audit report and plugin statuses travel as the types of their packages,
// which already have snake_case JSON.

// StartSessionRequest is the body of POST /v1/sessions. The requester is the
// token's user; its groups come from the configuration.
type StartSessionRequest struct {
	Activity string `json:"activity"`
	Resource string `json:"resource"`
	Reason   string `json:"reason,omitempty"`
}

// EndSessionRequest is the optional body of DELETE /v1/sessions/{id}.
type EndSessionRequest struct {
	Reason string `json:"reason,omitempty"`
}

// SessionList is the answer of GET /v1/sessions.
type SessionList struct {
	Sessions []sessions.Session `json:"sessions"`
}

// Credential is the answer of GET /v1/sessions/{id}/credential, the one
// response that carries a password.
type Credential struct {
	SessionID string `json:"session_id"`
	// Account is DOMAIN\username as the activity named it; Username is the
	// name the vault returned with the password.
	Account  string `json:"account,omitempty"`
	Username string `json:"username"`
	Password string `json:"password"`
	// ExpiresAt is when the session ends, and with it the use of the
	// credential.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// CredentialExpiresAt is when the vault says the credential itself
	// stops working, if it says so.
	CredentialExpiresAt time.Time `json:"credential_expires_at,omitzero"`
	// LeaseID and Metadata are the vault's non-secret facts.
	LeaseID  string            `json:"lease_id,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// String keeps the password out of anything that formats a Credential with
// %v (a log line, an error).
func (c Credential) String() string {
	return "credential of " + c.Username + " for session " + c.SessionID + " (password redacted)"
}

// ConnectorList is the answer of GET /v1/connectors.
type ConnectorList struct {
	Connectors []ConnectorInfo `json:"connectors"`
}

// CheckRequest is the optional body of POST /v1/connectors/{name}/check.
type CheckRequest struct {
	// TestAccount, as DOMAIN\username, asks for a test lookup of it.
	TestAccount string `json:"test_account,omitempty"`
}

// CheckResult is the answer of a connector check.
type CheckResult struct {
	Connector string `json:"connector"`
	// OK is true when every step passed.
	OK       bool      `json:"ok"`
	Findings []Finding `json:"findings"`
}

// Finding is one step of a connector check.
type Finding struct {
	Step    string `json:"step"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
	Hint    string `json:"hint,omitempty"`
}

// AccountInfo describes an account a connector holds, without its secret.
type AccountInfo struct {
	// Account is DOMAIN\username.
	Account     string            `json:"account"`
	Domain      string            `json:"domain,omitempty"`
	Username    string            `json:"username"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Version     int64             `json:"version"`
	UpdatedAt   time.Time         `json:"updated_at,omitzero"`
}

// AccountList is the answer of GET /v1/connectors/{name}/accounts.
type AccountList struct {
	Accounts []AccountInfo `json:"accounts"`
}

// PutAccountRequest is the body of PUT /v1/connectors/{name}/accounts.
type PutAccountRequest struct {
	// Account is DOMAIN\username.
	Account     string            `json:"account"`
	Password    string            `json:"password"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// String keeps the password out of anything that formats the request.
func (r PutAccountRequest) String() string {
	return "put account " + r.Account + " (password redacted)"
}

// PutAccountResult is the answer of PUT /v1/connectors/{name}/accounts.
type PutAccountResult struct {
	Connector string `json:"connector"`
	Account   string `json:"account"`
	Version   int64  `json:"version"`
}

// PluginList is the answer of GET /v1/plugins.
type PluginList struct {
	Plugins []plugins.Status `json:"plugins"`
}

// ReloadRequest is the optional body of POST /v1/plugins/{type}/reload.
type ReloadRequest struct {
	// Version picks an exact version; empty means the highest allowed.
	Version string `json:"version,omitempty"`
}

// ReloadResult is the answer of a plugin reload.
type ReloadResult struct {
	Plugin plugins.Status `json:"plugin"`
}

// AuditPage is the answer of GET /v1/audit.
type AuditPage struct {
	Records []audit.Record `json:"records"`
	// NextAfter, when set, is the ?after= of the next page.
	NextAfter int64 `json:"next_after,omitempty"`
}

// CreateTokenRequest is the body of POST /v1/tokens.
type CreateTokenRequest struct {
	Name string `json:"name"`
	// Role is "admin" or "user"; "user" when empty.
	Role string `json:"role,omitempty"`
	// User is the configuration's user name the token acts as.
	User string `json:"user"`
	// TTL is a duration such as "720h" or "30d"; empty means until revoked.
	TTL string `json:"ttl,omitempty"`
}

// TokenInfo describes an API token; the token itself is not kept.
type TokenInfo struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	User       string    `json:"user"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// CreatedToken is the answer of POST /v1/tokens: the only time the token is
// shown.
type CreatedToken struct {
	Token string `json:"token"`
	TokenInfo
}

// String keeps the token out of anything that formats a CreatedToken.
func (t CreatedToken) String() string { return "token " + t.ID + " (" + t.Name + ", redacted)" }

// TokenList is the answer of GET /v1/tokens.
type TokenList struct {
	Tokens []TokenInfo `json:"tokens"`
}

// Health is the answer of GET /v1/sys/health, and what Options.Health adds
// to it.
type Health struct {
	// Status is "ok" or "degraded"; degraded says why in Problems.
	Status  string         `json:"status"`
	Version string         `json:"version,omitempty"`
	Plugins []PluginHealth `json:"plugins"`
	// Problems are sentences saying what is wrong.
	Problems []string `json:"problems,omitempty"`
	// Detail holds whatever else Options.Health reports.
	Detail map[string]string `json:"detail,omitempty"`
}

// PluginHealth is one plugin's line in the health answer.
type PluginHealth struct {
	Type    string `json:"type"`
	State   string `json:"state"`
	Version string `json:"version,omitempty"`
}

// Health statuses.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
)

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
	// Session is the failed or cancelled session, when a start produced one.
	Session *sessions.Session `json:"session,omitempty"`
	// Plugin is the plugin's status after a failed reload.
	Plugin *plugins.Status `json:"plugin,omitempty"`
}

// ErrorDetail says what went wrong and what to do about it.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}
