package client_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byov/byov/host/api"
	"github.com/byov/byov/host/api/client"
	"github.com/byov/byov/host/api/internal/apitest"
	"github.com/byov/byov/host/sessions"
)

func newClient(t *testing.T, addr, token string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(addr, token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func apiError(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Status != status || e.Code != code {
		t.Fatalf("got %v (%#v), want a %d %s", err, err, status, code)
	}
	return e
}

func TestSessionsThroughTheClient(t *testing.T) {
	ctx := context.Background()
	h := apitest.New(t)
	alice := newClient(t, h.URL, h.Tokens["alice"])
	root := newClient(t, h.URL, h.Tokens["root"])

	s, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "domain-admin", Resource: "srv01", Reason: "ticket 1"})
	if err != nil || s.State != sessions.StateAvailable {
		t.Fatalf("start: %+v, %v", s, err)
	}
	list, err := root.ListSessions(ctx, client.SessionFilter{User: "alice", States: []string{"active"}})
	if err != nil || len(list) != 1 || list[0].ID != s.ID {
		t.Fatalf("list: %+v, %v", list, err)
	}
	got, err := root.Session(ctx, s.ID)
	if err != nil || got.ID != s.ID {
		t.Fatalf("get: %+v, %v", got, err)
	}
	cred, err := alice.Credential(ctx, s.ID)
	if err != nil || cred.Password != apitest.AlicePassword || cred.Account != `CORP\alice` {
		t.Fatalf("credential: %v, %v", cred, err)
	}
	if strings.Contains(cred.String(), apitest.AlicePassword) {
		t.Fatal("Credential.String shows the password")
	}
	_, err = root.Credential(ctx, s.ID)
	apiError(t, err, http.StatusForbidden, api.CodeForbidden)
	ended, err := alice.EndSession(ctx, s.ID, "done")
	if err != nil || ended.State != sessions.StateCompleted || ended.EndReason != "done" {
		t.Fatalf("end: %+v, %v", ended, err)
	}

	// A failed checkout: the error and the session that recorded it.
	failed, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "domain-admin", Resource: "ghost"})
	e := apiError(t, err, http.StatusNotFound, "NotFound")
	if failed.State != sessions.StateFailed || e.Session == nil || e.Session.ID != failed.ID {
		t.Fatalf("failed start: %+v, %+v", failed, e)
	}
	if msg := err.Error(); !strings.Contains(msg, "no entry for account NOWHERE\\alice") || !strings.HasSuffix(msg, "in the vault)") || !strings.Contains(msg, "(hint: create an AD User entry") {
		t.Fatalf("error text %q", msg)
	}

	_, err = alice.StartSession(ctx, api.StartSessionRequest{Activity: "domain-admin", Resource: "db01"})
	apiError(t, err, http.StatusForbidden, api.CodeDenied)
	if client.CodeOf(err) != api.CodeDenied {
		t.Fatalf("CodeOf: %q", client.CodeOf(err))
	}

	_, err = newClient(t, h.URL, "byov_wrong").ListSessions(ctx, client.SessionFilter{})
	if e := apiError(t, err, http.StatusUnauthorized, api.CodeUnauthorized); !strings.Contains(e.Error(), "BYOV_TOKEN") {
		t.Fatalf("401 text %q", e.Error())
	}
}

func TestAdministrationThroughTheClient(t *testing.T) {
	ctx := context.Background()
	h := apitest.New(t)
	root := newClient(t, h.URL, h.Tokens["root"])

	conns, err := root.Connectors(ctx)
	if err != nil || len(conns) != 3 {
		t.Fatalf("connectors: %+v, %v", conns, err)
	}
	res, err := root.CheckConnector(ctx, "ps-prod", `CORP\svc`)
	if err != nil || res.OK || len(res.Findings) != 3 {
		t.Fatalf("check: %+v, %v", res, err)
	}
	put, err := root.PutAccount(ctx, "builtin", api.PutAccountRequest{Account: `CORP\svc/odd name`, Password: "pw-1"})
	if err != nil || put.Version != 1 {
		t.Fatalf("put: %+v, %v", put, err)
	}
	accts, err := root.Accounts(ctx, "builtin", "CORP")
	if err != nil || len(accts) != 1 || accts[0].Username != "svc/odd name" {
		t.Fatalf("accounts: %+v, %v", accts, err)
	}
	// The account travels URL-escaped, slash and all.
	if err := root.DeleteAccount(ctx, "builtin", `CORP\svc/odd name`); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = root.Accounts(ctx, "ps-prod", "")
	apiError(t, err, http.StatusNotImplemented, "Unsupported")

	pl, err := root.Plugins(ctx)
	if err != nil || len(pl) != 2 {
		t.Fatalf("plugins: %+v, %v", pl, err)
	}
	st, err := root.ReloadPlugin(ctx, "builtin", "9.9.9")
	if e := apiError(t, err, http.StatusBadGateway, api.CodeReloadFailed); e.Plugin == nil || st.Version != "1.0.0" || !strings.Contains(err.Error(), "keeps serving") {
		t.Fatalf("failed reload: %+v, %v", st, err)
	}
	if st, err = root.ReloadPlugin(ctx, "builtin", "1.1.0"); err != nil || st.Version != "1.1.0" {
		t.Fatalf("reload: %+v, %v", st, err)
	}

	page, err := root.Audit(ctx, client.AuditQuery{Type: "plugin.", SinceAgo: time.Hour, Limit: 1})
	if err != nil || len(page.Records) != 1 || page.NextAfter == 0 {
		t.Fatalf("audit: %+v, %v", page, err)
	}
	page, err = root.Audit(ctx, client.AuditQuery{Type: "plugin.", After: page.NextAfter})
	if err != nil || len(page.Records) != 1 || page.Records[0].Detail["version"] != "1.1.0" {
		t.Fatalf("audit page 2: %+v, %v", page, err)
	}
	rep, err := root.VerifyAudit(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("verify: %+v, %v", rep, err)
	}

	tok, err := root.CreateToken(ctx, api.CreateTokenRequest{Name: "ci", User: "bob", TTL: "1h"})
	if err != nil || tok.Role != "user" || tok.Token == "" {
		t.Fatalf("create token: %v, %v", tok, err)
	}
	if strings.Contains(tok.String(), tok.Token) {
		t.Fatal("CreatedToken.String shows the token")
	}
	toks, err := root.Tokens(ctx)
	if err != nil || len(toks) != 5 {
		t.Fatalf("tokens: %+v, %v", toks, err)
	}
	if info, err := root.RevokeToken(ctx, tok.ID); err != nil || info.RevokedAt.IsZero() {
		t.Fatalf("revoke: %+v, %v", info, err)
	}

	anon := newClient(t, h.URL, "")
	health, err := anon.Health(ctx)
	if err != nil || health.Status != api.StatusOK {
		t.Fatalf("health: %+v, %v", health, err)
	}
	text, err := anon.Metrics(ctx)
	if err != nil || !strings.Contains(text, "byov_http_requests_total{") {
		t.Fatalf("metrics: %v\n%s", err, text)
	}
}

func TestUnixSocket(t *testing.T) {
	ctx := context.Background()
	h := apitest.New(t)
	// Unix socket paths are short; t.TempDir can be too long for them.
	dir, err := os.MkdirTemp("", "byov")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Server.Serve(ln) }()

	c := newClient(t, "unix://"+sock, h.Tokens["alice"])
	s, err := c.StartSession(ctx, api.StartSessionRequest{Activity: "domain-admin", Resource: "srv01"})
	if err != nil {
		t.Fatal(err)
	}
	// A Unix socket counts as local: the credential is served.
	if cred, err := c.Credential(ctx, s.ID); err != nil || cred.Password != apitest.AlicePassword {
		t.Fatalf("credential over the socket: %v, %v", cred, err)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.Server.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}

	_, err = newClient(t, "unix://"+filepath.Join(dir, "missing.sock"), "").Health(ctx)
	if err == nil || !strings.Contains(err.Error(), "is `byov serve` running at unix://") {
		t.Fatalf("missing socket: %v", err)
	}
}

func TestListenAndServeUnix(t *testing.T) {
	h := apitest.New(t)
	dir, err := os.MkdirTemp("", "byov")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "api.sock")
	done := make(chan error, 1)
	go func() { done <- h.Server.ListenAndServe("unix://"+sock, "", "") }()
	c := newClient(t, "unix://"+sock, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.Health(context.Background()); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the socket never answered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.Server.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTLS(t *testing.T) {
	ctx := context.Background()
	h := apitest.New(t)
	srv := httptest.NewTLSServer(h.Server.Handler())
	t.Cleanup(srv.Close)

	_, err := newClient(t, srv.URL, "").Health(ctx)
	if err == nil || !strings.Contains(err.Error(), "BYOV_CACERT") {
		t.Fatalf("unknown CA: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv.URL, h.Tokens["bob"], client.WithCACert(ca))
	s, err := c.StartSession(ctx, api.StartSessionRequest{Activity: "domain-admin", Resource: "srv01"})
	if err != nil {
		t.Fatal(err)
	}
	if cred, err := c.Credential(ctx, s.ID); err != nil || cred.Password != apitest.BobPassword {
		t.Fatalf("credential over TLS: %v, %v", cred, err)
	}
	if _, err := newClient(t, srv.URL, "", client.WithSkipVerify(true)).Health(ctx); err != nil {
		t.Fatalf("skip verify: %v", err)
	}

	// The wrong scheme either way round is named.
	_, err = newClient(t, strings.Replace(srv.URL, "https://", "http://", 1), "").Health(ctx)
	if e := apiError(t, err, http.StatusBadRequest, "UnexpectedResponse"); !strings.Contains(e.Error(), "use https://") {
		t.Fatalf("http to https: %v", err)
	}
	_, err = newClient(t, strings.Replace(h.URL, "http://", "https://", 1), "").Health(ctx)
	if err == nil || !strings.Contains(err.Error(), "does not speak TLS") {
		t.Fatalf("https to http: %v", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = newClient(t, addr, "").Health(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is `byov serve` running at "+addr+"?") {
		t.Fatalf("refused: %v", err)
	}
}

func TestAddressesAndEnvironment(t *testing.T) {
	for _, tt := range []struct {
		addr string
		opts []client.Option
		want string
	}{
		{"ftp://host:21", nil, "scheme ftp"},
		{"unix://", nil, "names no socket"},
		{"http://", nil, "not a byov address"},
		{"http://127.0.0.1:8443", []client.Option{client.WithCACert("/nonexistent")}, "not an https address"},
		{"https://127.0.0.1:8443", []client.Option{client.WithCACert("/nonexistent")}, "cannot read the CA file"},
		{"127.0.0.1:8443", []client.Option{client.WithTimeout(-1)}, "not positive"},
	} {
		if _, err := client.New(tt.addr, "", tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q): %v, want %q", tt.addr, err, tt.want)
		}
	}

	h := apitest.New(t)
	t.Setenv(client.EnvAddr, h.URL)
	t.Setenv(client.EnvToken, h.Tokens["alice"])
	t.Setenv(client.EnvSkipVerify, "false")
	c, err := client.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListSessions(context.Background(), client.SessionFilter{}); err != nil {
		t.Fatalf("client from the environment: %v", err)
	}
	t.Setenv(client.EnvSkipVerify, "perhaps")
	if _, err := client.FromEnv(); err == nil || !strings.Contains(err.Error(), "BYOV_SKIP_VERIFY") {
		t.Fatalf("bad BYOV_SKIP_VERIFY: %v", err)
	}
}
