// Package apitest builds an API server for tests of host/api and its client:
// a real state file, audit log and session manager in a temporary
// directory, with fakes only at the edge (the vault, the connector
// directory and the plugin controller).
package apitest

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byov/byov/config"
	"github.com/byov/byov/host/api"
	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/sessions"
	"github.com/byov/byov/host/store"
	"github.com/byov/byov/sdk"
	"github.com/hashicorp/go-hclog"
)

// Passwords the fake vault hands out; tests look for them where they must
// never be.
const (
	AlicePassword = "Tr0ub4dor&3-alice-secret"
	BobPassword   = "correct-horse-battery-bob"
	CarolPassword = "carol-pw-never-shown"
)

// Config: alice and bob are domain admins with password access on srv01 and
// ghost (whose account the vault does not know); carol may use srv01 through
// a profile without password access; root (the admin token's user) is in no
// policy.
func Config() *config.Config {
	return &config.Config{
		Server: config.Server{CheckoutTimeout: 5 * time.Second},
		ConnectionProfiles: map[string]*config.ConnectionProfile{
			"default": {Name: "default", MaxSessionDuration: 2 * time.Hour, AllowPasswordAccess: true},
			"no-pw":   {Name: "no-pw", MaxSessionDuration: time.Hour},
		},
		Resources: map[string]*config.Resource{
			"srv01": {Name: "srv01", Platform: "windows", Domain: "CORP"},
			"ghost": {Name: "ghost", Platform: "windows", Domain: "NOWHERE"},
			"db01":  {Name: "db01", Platform: "windows", Domain: "CORP"},
		},
		Users: map[string]*config.User{
			"alice": {Name: "alice", Groups: []string{"domain-admins"}},
			"bob":   {Name: "bob", Groups: []string{"domain-admins"}},
			"carol": {Name: "carol"},
		},
		Connectors: map[string]*config.Connector{"ps-prod": {Name: "ps-prod", Plugin: "passwordsecure"}},
		Activities: map[string]*config.Activity{
			"domain-admin": {Name: "domain-admin", Platform: "windows", LoginAccount: config.LoginVault, Connector: "ps-prod"},
			"own-login":    {Name: "own-login", Platform: "windows", LoginAccount: config.LoginRequester},
		},
		AccessPolicies: []*config.AccessPolicy{
			{Name: "admins", Type: "resource", ConnectionProfile: "default", Users: []string{"group:domain-admins"},
				Activities: []string{"domain-admin", "own-login"}, Resources: []string{"srv01", "ghost"}},
			{Name: "carol", Type: "resource", ConnectionProfile: "no-pw", Users: []string{"carol"},
				Activities: []string{"domain-admin"}, Resources: []string{"srv01"}},
		},
	}
}

// Vault is the fake vault behind connector ps-prod.
type Vault struct {
	mu        sync.Mutex
	passwords map[string]string
	checkouts int
	checkins  int
	leases    int
}

// Checkout implements sessions.Vault.
func (v *Vault) Checkout(ctx context.Context, req sdk.CheckoutRequest) (*sdk.Credential, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.checkouts++
	pw, ok := v.passwords[req.Account.String()]
	if !ok {
		return nil, sdk.Errorf(sdk.CodeNotFound, "create an AD User entry for "+req.Account.String()+" in the vault",
			"no entry for account %s", req.Account)
	}
	v.leases++
	return &sdk.Credential{Username: req.Account.Username, Secret: sdk.Secret(pw), LeaseID: fmt.Sprint("lease-", v.leases),
		Metadata: map[string]string{"entry": "42"}}, nil
}

// Checkin implements sessions.Vault.
func (v *Vault) Checkin(ctx context.Context, req sdk.CheckinRequest) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.checkins++
	return nil
}

// Counts returns how many checkouts and checkins the vault saw.
func (v *Vault) Counts() (checkouts, checkins int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.checkouts, v.checkins
}

// Directory is the fake connector directory: ps-prod (no accounts
// capability), builtin (an in-memory account store) and errs, whose Check
// fails with the code named by the test account's username.
type Directory struct {
	mu       sync.Mutex
	accounts map[string]sdk.AccountInfo
	secrets  map[string]string
}

// Connectors implements api.ConnectorDirectory.
func (d *Directory) Connectors() []api.ConnectorInfo {
	return []api.ConnectorInfo{
		{Name: "ps-prod", Plugin: "passwordsecure", Description: "Password Secure, production", Capabilities: []string{"checkin"}},
		{Name: "builtin", Plugin: "builtin", Description: "byov's own vault", Capabilities: []string{"accounts"}},
		{Name: "errs", Plugin: "errs"},
	}
}

// Instance implements api.ConnectorDirectory.
func (d *Directory) Instance(ctx context.Context, name string) (api.ConnectorInstance, error) {
	switch name {
	case "builtin":
		return builtinInstance{d}, nil
	case "ps-prod", "errs":
		return plainInstance{name}, nil
	}
	return nil, sdk.Errorf(sdk.CodeNotFound, "", "no connector %s", name)
}

// Secret returns the password stored for an account, for tests to check a
// put reached the vault.
func (d *Directory) Secret(account string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.secrets[strings.ToLower(account)]
}

type plainInstance struct{ name string }

func (p plainInstance) Check(ctx context.Context, req sdk.CheckRequest) ([]sdk.Finding, error) {
	if p.name == "errs" && !req.TestAccount.IsZero() {
		code := sdk.Code(req.TestAccount.Username)
		return nil, sdk.Errorf(code, "hint for "+string(code), "the vault said %s", code)
	}
	f := []sdk.Finding{{Step: "connect", OK: true, Message: "reached the API"}, {Step: "login", OK: true, Message: "logged in as NPS"}}
	if !req.TestAccount.IsZero() {
		f = append(f, sdk.Finding{Step: "lookup", OK: false, Message: "no entry for " + req.TestAccount.String(), Hint: "create it"})
	}
	return f, nil
}

func (p plainInstance) unsupported() error {
	return sdk.Errorf(sdk.CodeUnsupported, "use a connector type that offers it",
		"connector %s does not offer the accounts capability", p.name)
}

func (p plainInstance) Put(context.Context, sdk.PutRequest) (int64, error) { return 0, p.unsupported() }
func (p plainInstance) Delete(context.Context, sdk.Account) error          { return p.unsupported() }
func (p plainInstance) List(context.Context, sdk.ListRequest) ([]sdk.AccountInfo, error) {
	return nil, p.unsupported()
}

type builtinInstance struct{ d *Directory }

func (b builtinInstance) Check(context.Context, sdk.CheckRequest) ([]sdk.Finding, error) {
	return []sdk.Finding{{Step: "open", OK: true, Message: "the vault file is open"}}, nil
}

func (b builtinInstance) Put(ctx context.Context, req sdk.PutRequest) (int64, error) {
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	key := strings.ToLower(req.Account.String())
	info := b.d.accounts[key]
	info.Account, info.Description, info.Tags = req.Account, req.Description, req.Tags
	info.Version++
	info.UpdatedAt = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	b.d.accounts[key] = info
	b.d.secrets[key] = req.Secret.Reveal()
	return info.Version, nil
}

func (b builtinInstance) Delete(ctx context.Context, a sdk.Account) error {
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	key := strings.ToLower(a.String())
	if _, ok := b.d.accounts[key]; !ok {
		return sdk.Errorf(sdk.CodeNotFound, "list the accounts with `byov vault list`", "the vault has no account %s", a)
	}
	delete(b.d.accounts, key)
	delete(b.d.secrets, key)
	return nil
}

func (b builtinInstance) List(ctx context.Context, req sdk.ListRequest) ([]sdk.AccountInfo, error) {
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	var out []sdk.AccountInfo
	for _, info := range b.d.accounts {
		if req.Domain == "" || strings.EqualFold(req.Domain, info.Account.Domain) {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account.String() < out[j].Account.String() })
	return out, nil
}

// Plugins is the fake plugin controller. Reloading to version 9.9.9 fails.
type Plugins struct {
	mu       sync.Mutex
	statuses []plugins.Status
}

// List implements api.PluginController.
func (p *Plugins) List() []plugins.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]plugins.Status(nil), p.statuses...)
}

// Reload implements api.PluginController.
func (p *Plugins) Reload(ctx context.Context, typ, version string) (plugins.Status, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, st := range p.statuses {
		if st.Type != typ {
			continue
		}
		if version == "9.9.9" {
			return st, fmt.Errorf("reloading connector %s failed, %s %s keeps serving: no binary byov-connector-%s_9.9.9 in the plugin directory", typ, typ, st.Version, typ)
		}
		if version == "" {
			version = st.Version
		}
		st.Version, st.SHA256, st.PID = version, "abc123", st.PID+1
		p.statuses[i] = st
		return st, nil
	}
	return plugins.Status{}, fmt.Errorf("no plugin %s", typ)
}

// SetState changes a plugin's state, as a crash would.
func (p *Plugins) SetState(typ string, state plugins.State, restarts int, lastErr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.statuses {
		if p.statuses[i].Type == typ {
			p.statuses[i].State, p.statuses[i].Restarts, p.statuses[i].LastError = state, restarts, lastErr
		}
	}
}

// LogBuffer collects the server's log lines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Harness is a running API with its parts.
type Harness struct {
	Store    *store.Store
	Audit    *audit.Log
	Sessions *sessions.Manager
	Vault    *Vault
	Dir      *Directory
	Plugins  *Plugins
	Server   *api.Server
	Logs     *LogBuffer
	// HTTP serves Server.Handler on loopback; URL is its address.
	HTTP *httptest.Server
	URL  string
	// Tokens by user: root is admin, the others users.
	Tokens map[string]string
}

// New starts a harness; opts, when given, changes the API's options before
// the server is made.
func New(t testing.TB, opts ...func(*api.Options)) *Harness {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "byov.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &Harness{Store: st, Audit: audit.New(st, audit.Options{}),
		Vault: &Vault{passwords: map[string]string{`CORP\alice`: AlicePassword, `CORP\bob`: BobPassword, `CORP\carol`: CarolPassword}},
		Dir:   &Directory{accounts: map[string]sdk.AccountInfo{}, secrets: map[string]string{}},
		Plugins: &Plugins{statuses: []plugins.Status{
			{Type: "builtin", Version: "1.0.0", State: plugins.StateRunning, PID: 100, Instances: 1},
			{Type: "passwordsecure", Version: "1.2.0", State: plugins.StateRunning, PID: 200, Instances: 1, Restarts: 2},
		}},
		Logs: &LogBuffer{}, Tokens: map[string]string{}}
	cfg := Config()
	h.Sessions, err = sessions.New(sessions.Options{Store: st, Audit: h.Audit, Config: func() *config.Config { return cfg },
		Vaults: func(name string) (sessions.Vault, error) {
			if name != "ps-prod" {
				return nil, fmt.Errorf("no connector %s", name)
			}
			return h.Vault, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	o := api.Options{Sessions: h.Sessions, Audit: h.Audit, Store: st, Plugins: h.Plugins, Connectors: h.Dir,
		Logger: hclog.New(&hclog.LoggerOptions{Output: h.Logs, Level: hclog.Trace, Name: "api"})}
	for _, f := range opts {
		f(&o)
	}
	h.Server, err = api.New(o)
	if err != nil {
		t.Fatal(err)
	}
	for user, role := range map[string]store.Role{"root": store.RoleAdmin, "alice": store.RoleUser, "bob": store.RoleUser, "carol": store.RoleUser} {
		secret, _, err := st.CreateToken(ctx, store.TokenSpec{Name: user + "-token", Role: role, User: user})
		if err != nil {
			t.Fatal(err)
		}
		h.Tokens[user] = secret
	}
	h.HTTP = httptest.NewServer(h.Server.Handler())
	t.Cleanup(h.HTTP.Close)
	h.URL = h.HTTP.URL
	return h
}

// Secrets returns every secret the harness knows: passwords and tokens.
func (h *Harness) Secrets() []string {
	out := []string{AlicePassword, BobPassword, CarolPassword}
	for _, tok := range h.Tokens {
		out = append(out, tok)
	}
	return out
}
