package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	_ "modernc.org/sqlite"

	"github.com/byov/byov/host/api"
	"github.com/byov/byov/host/api/client"
	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/sessions"
	"github.com/byov/byov/internal/logbuffer"
)

var (
	buildOnce sync.Once
	pluginDir string
	buildErr  error
)

// builtPlugins builds the builtin connector once into a plugin directory.
func builtPlugins(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		pluginDir, buildErr = os.MkdirTemp("", "byov-e2e-plugins-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "byov-connector-builtin_1.0.0"), "../../plugins/builtin").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building the builtin connector: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return pluginDir
}

const e2eConfig = `
server {
  listen     = "127.0.0.1:0"
  data_dir   = "data"
  plugin_dir = %q
}

plugin "builtin" { version = ">= 1.0.0" }

connector "vault" {
  plugin = "builtin"
  config {
    path              = "vault.db"
    create            = true
    key_file          = "vault.key"
    rotate_on_checkin = true
  }
}

connection_profile "default" {
  max_session_duration  = %q
  allow_password_access = true
}

resource "srv01" {
  platform = "windows"
  address  = "srv01.corp.example"
  domain   = "CORP"
}

resource "srv02" {
  platform = "windows"
  address  = "srv02.corp.example"
  domain   = "CORP"
}

user "alice" { groups = ["admins"] }

activity "admin" {
  platform      = "windows"
  login_account = "vault"
  connector     = connector.vault
  account       = "${resource.domain}\\administrator"
}

activity "personal" {
  platform      = "windows"
  login_account = "vault"
  connector     = connector.vault
  account       = "${resource.domain}\\adm-${requester.name}"
}

access_policy "admins" {
  type               = "resource"
  connection_profile = connection_profile.default
  users              = ["group:admins"]
  activities         = [activity.admin, activity.personal]
  resources          = [resource.srv01]
}
%s`

// host is a byov host serving on a random loopback port.
type host struct {
	t      testing.TB
	dir    string
	srv    *Server
	addr   string
	cancel context.CancelFunc
	done   chan error
	logs   *logbuffer.Buffer
}

func writeConfig(t testing.TB, dir, maxDuration, extra string) string {
	t.Helper()
	path := filepath.Join(dir, "byov.hcl")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(e2eConfig, builtPlugins(t), maxDuration, extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startHost(t testing.TB, dir string) *host {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &host{t: t, dir: dir, logs: &logbuffer.Buffer{}, done: make(chan error, 1)}
	logger := hclog.New(&hclog.LoggerOptions{Output: h.logs, Level: hclog.Debug})
	h.srv, err = New(context.Background(), Options{ConfigPath: filepath.Join(dir, "byov.hcl"), Logger: logger, Listener: ln})
	if err != nil {
		t.Fatalf("starting the host: %v", err)
	}
	h.addr = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.srv.Serve(ctx) }()
	t.Cleanup(h.stop)
	return h
}

func (h *host) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
	h.srv.Close()
	h.cancel = nil
}

func (h *host) log() string { return h.logs.String() }

// clients returns a root client and one acting as alice.
func (h *host) clients(ctx context.Context) (root, alice *client.Client) {
	t := h.t
	t.Helper()
	path, err := h.srv.BootstrapRootToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rootToken string
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rootToken = strings.TrimSpace(string(b))
		if err := os.WriteFile(filepath.Join(h.dir, "root-token-copy"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		b, err := os.ReadFile(filepath.Join(h.dir, "root-token-copy"))
		if err != nil {
			t.Fatal(err)
		}
		rootToken = strings.TrimSpace(string(b))
	}
	root, err = client.New(h.addr, rootToken)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := root.CreateToken(ctx, api.CreateTokenRequest{Name: "alice", User: "alice", Role: "user"})
	if err != nil {
		t.Fatal(err)
	}
	alice, err = client.New(h.addr, tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	return root, alice
}

const adminPassword = "Adm1n-Passw0rd-e2e"

// seededHost starts a host on a new directory whose profile allows
// sessions of maxDuration, with CORP\administrator in its vault, and
// returns clients for root and alice.
func seededHost(t *testing.T, maxDuration string) (h *host, ctx context.Context, root, alice *client.Client) {
	t.Helper()
	dir := t.TempDir()
	writeConfig(t, dir, maxDuration, "")
	h = startHost(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	root, alice = h.clients(ctx)
	seed(t, ctx, root)
	return h, ctx, root, alice
}

func seed(t testing.TB, ctx context.Context, root *client.Client) {
	t.Helper()
	if _, err := root.PutAccount(ctx, "vault", api.PutAccountRequest{Account: `CORP\administrator`, Password: adminPassword}); err != nil {
		t.Fatal(err)
	}
}

func accountVersion(t *testing.T, ctx context.Context, root *client.Client, account string) int64 {
	t.Helper()
	list, err := root.Accounts(ctx, "vault", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		if strings.EqualFold(a.Account, account) {
			return a.Version
		}
	}
	t.Fatalf("%s is not in the vault", account)
	return 0
}

func auditTypes(t *testing.T, ctx context.Context, root *client.Client, session string) []string {
	t.Helper()
	page, err := root.Audit(ctx, client.AuditQuery{SessionID: session, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range page.Records {
		types = append(types, string(r.Type))
	}
	return types
}

func TestSessionLifecycleOverHTTP(t *testing.T) {
	h, ctx, root, alice := seededHost(t, "1h")

	s, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "admin", Resource: "srv01", Reason: "patching"})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if s.State != sessions.StateAvailable || s.Account != `CORP\administrator` {
		t.Fatalf("session after start: %+v", s)
	}
	cred, err := alice.Credential(ctx, s.ID)
	if err != nil || cred.Password != adminPassword {
		t.Fatalf("credential: %v (password matches: %v)", err, cred.Password == adminPassword)
	}
	if _, err := root.Credential(ctx, s.ID); err == nil {
		t.Fatal("an administrator read another user's credential")
	}
	ended, err := alice.EndSession(ctx, s.ID, "done")
	if err != nil || ended.State != sessions.StateCompleted {
		t.Fatalf("end: %v, %+v", err, ended)
	}
	if _, err := alice.Credential(ctx, s.ID); err == nil {
		t.Fatal("the credential is readable after the session ended")
	}
	// Checkin ran: the builtin vault rotated the password into version 2.
	if v := accountVersion(t, ctx, root, `CORP\administrator`); v != 2 {
		t.Fatalf("after checkin the account is at version %d, want 2 (rotate on checkin)", v)
	}
	want := []string{"request.allowed", "session.pending", "session.provisioning", "session.available",
		"credential.view", "session.ending", "credential.checkin", "session.completed"}
	if got := auditTypes(t, ctx, root, s.ID); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("audit records of the session:\n got %v\nwant %v", got, want)
	}
	rep, err := root.VerifyAudit(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("audit chain: %v %+v", err, rep)
	}
	// Nothing secret in the host's log or the audit.
	page, _ := root.Audit(ctx, client.AuditQuery{Limit: 1000})
	if strings.Contains(h.log(), adminPassword) || strings.Contains(fmt.Sprint(page), adminPassword) {
		t.Fatal("the password reached the host log or the audit")
	}
}

func TestDeniedRequestChecksNothingOut(t *testing.T) {
	_, ctx, root, alice := seededHost(t, "1h")

	_, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "admin", Resource: "srv02"})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 403 || !strings.Contains(apiErr.Message, "srv02") {
		t.Fatalf("want a 403 naming srv02, got %v", err)
	}
	page, err := root.Audit(ctx, client.AuditQuery{Type: string(audit.TypeRequestDenied)})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("want one denial record, got %v %+v", err, page)
	}
	if r := page.Records[0]; r.Actor != "alice" || r.Resource != "srv02" || !strings.Contains(fmt.Sprint(r.Detail), "srv02") {
		t.Fatalf("the denial record lacks who, what or why: %+v", r)
	}
	if page, _ := root.Audit(ctx, client.AuditQuery{Type: "session."}); len(page.Records) != 0 {
		t.Fatalf("a denied request created session records: %+v", page.Records)
	}
	if list, _ := root.ListSessions(ctx, client.SessionFilter{}); len(list) != 0 {
		t.Fatalf("a denied request created a session: %+v", list)
	}
}

func TestConnectorFailureFailsTheSession(t *testing.T) {
	_, ctx, root, alice := seededHost(t, "1h")

	// CORP\adm-alice is not in the vault.
	s, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "personal", Resource: "srv01"})
	if err == nil {
		t.Fatal("a session on an absent account started")
	}
	if client.CodeOf(err) != "NotFound" {
		t.Fatalf("want the connector's NotFound, got %v", err)
	}
	got, err := root.Session(ctx, s.ID)
	if err != nil {
		t.Fatalf("the failed session is not kept: %v", err)
	}
	if got.State != sessions.StateFailed || got.Error == nil || got.Error.Code != "NotFound" || !strings.Contains(got.Error.Hint, "byov vault put") {
		t.Fatalf("the failed session does not carry the connector's code and hint: %+v %+v", got, got.Error)
	}
}

func TestExpiryAcrossHostRestart(t *testing.T) {
	h, ctx, _, alice := seededHost(t, "3s")
	s, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "admin", Resource: "srv01"})
	if err != nil {
		t.Fatal(err)
	}
	h.stop() // the host goes down before the session's end

	h2 := startHost(t, h.dir)
	root2, _ := h2.clients(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := root2.Session(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == sessions.StateCompleted {
			if got.EndedBy != sessions.SystemActor {
				t.Fatalf("the session was ended by %q, not by byov's expiry", got.EndedBy)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session was not ended by expiry after the restart: %+v", got)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if v := accountVersion(t, ctx, root2, `CORP\administrator`); v != 2 {
		t.Fatalf("expiry did not check the credential in exactly once (version %d, want 2); audit: %v", v, auditTypes(t, ctx, root2, s.ID))
	}
	if types := auditTypes(t, ctx, root2, s.ID); !contains(types, "credential.checkin") || !contains(types, "session.completed") {
		t.Fatalf("audit after expiry: %v", types)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestConfigReloadKeepsRunningConfigOnErrors(t *testing.T) {
	h, ctx, root, alice := seededHost(t, "1h")

	// A broken file: the reload is refused with file:line, the old config stays.
	// It also holds a secret written inline, which must not be copied from
	// the source into the log or the audit.
	const inline = "inline-Secr3t-value"
	writeConfig(t, h.dir, "1h", "resource \"srv03\" {\n  platform = \"windows\"\n  adress = \"x\"\n}\n"+
		"service_account \"sa\" {\n  username = \"u\"\n  secret = \""+inline+"\"\n}\n")
	err := h.srv.Reload(ctx)
	var de *DiagnosticsError
	if !errors.As(err, &de) || !strings.Contains(de.Text, "byov.hcl line ") || !strings.Contains(de.Text, "adress") {
		t.Fatalf("want diagnostics naming the file, line and attribute, got %v", err)
	}
	if _, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "admin", Resource: "srv01"}); err != nil {
		t.Fatalf("the running configuration stopped working after a refused reload: %v", err)
	}

	// A good file: srv02 becomes allowed.
	writeConfig(t, h.dir, "1h", `
access_policy "more" {
  type               = "resource"
  connection_profile = connection_profile.default
  users              = ["alice"]
  activities         = [activity.admin]
  resources          = [resource.srv02]
}
`)
	if err := h.srv.Reload(ctx); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if _, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "admin", Resource: "srv02"}); err != nil {
		t.Fatalf("the reloaded policy is not in force: %v", err)
	}
	page, _ := root.Audit(ctx, client.AuditQuery{Type: string(audit.TypeConfigReload)})
	if strings.Contains(fmt.Sprint(page.Records), inline) || strings.Contains(h.log(), inline) || strings.Contains(err.Error(), inline) {
		t.Fatal("the inline secret was copied from the configuration into the audit, the log or the error")
	}
	if len(page.Records) != 2 || page.Records[0].Outcome != audit.OutcomeError || page.Records[1].Outcome != audit.OutcomeOK {
		t.Fatalf("want a refused and an applied reload in the audit, got %+v", page.Records)
	}
}

func TestAuditTamperingIsDetected(t *testing.T) {
	h, ctx, _, alice := seededHost(t, "1h")
	s, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "admin", Resource: "srv01"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.EndSession(ctx, s.ID, ""); err != nil {
		t.Fatal(err)
	}
	h.stop()

	for _, tc := range []struct {
		name string
		sql  []string
	}{
		{"edited", []string{"UPDATE audit SET actor = 'mallory' WHERE seq = 4"}},
		{"deleted", []string{"DELETE FROM audit WHERE seq = 5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copyDir := t.TempDir()
			copyTree(t, h.dir, copyDir)
			db, err := sql.Open("sqlite", filepath.Join(copyDir, "data", "byov.db"))
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range append([]string{"DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete"}, tc.sql...) {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.Close()
			writeConfig(t, copyDir, "1h", "")
			h := startHost(t, copyDir)
			root, _ := h.clients(ctx)
			rep, err := root.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || rep.FirstBad == 0 || rep.FirstBad > 5 {
				t.Fatalf("tampering not detected at the right record: %+v", rep)
			}
		})
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUserTokenNeedsAUserBlock(t *testing.T) {
	_, ctx, root, _ := seededHost(t, "1h")
	_, err := root.CreateToken(ctx, api.CreateTokenRequest{Name: "typo", User: "alcie"})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(apiErr.Message, `"alcie"`) {
		t.Fatalf("want a 400 naming the unknown user, got %v", err)
	}
	if _, err := root.CreateToken(ctx, api.CreateTokenRequest{Name: "ops", User: "automation", Role: "admin"}); err != nil {
		t.Fatalf("an admin token for a name without a user block was refused: %v", err)
	}
}

func TestRootTokenComesBackAfterEveryAdminTokenIsRevoked(t *testing.T) {
	h, ctx, root, _ := seededHost(t, "1h")
	if path, err := h.srv.BootstrapRootToken(ctx); err != nil || path != "" {
		t.Fatalf("a second root token was made while one is usable: %q %v", path, err)
	}
	toks, err := root.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.Role == "admin" {
			if _, err := root.RevokeToken(ctx, tok.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	path, err := h.srv.BootstrapRootToken(ctx)
	if err != nil || path == "" {
		t.Fatalf("no new root token after every admin token was revoked: %q %v", path, err)
	}
}
