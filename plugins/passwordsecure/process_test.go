package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/byov/byov/internal/logbuffer"
	"github.com/byov/byov/sdk"
	"github.com/byov/byov/sdk/connectortest"
)

// startPlugin runs the connector as the host does: go-plugin over gRPC with
// mutual TLS and none of the host's environment.
func startPlugin(tb testing.TB, logs *logbuffer.Buffer) *sdk.Client {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds and starts the plugin binary; skipped in -short")
	}
	c, err := connectortest.StartProcess(tb, exec.Command(connectortest.Build(tb, ".", "passwordsecure")), logs)
	if err != nil {
		tb.Fatalf("starting the plugin: %v", err)
	}
	return c
}

func TestThroughPluginProcess(t *testing.T) {
	emu := startEmulator(t)
	ctx := context.Background()
	logs := &logbuffer.Buffer{}
	c := startPlugin(t, logs)

	m, err := c.Metadata(ctx)
	if err != nil || m.Type != "passwordsecure" || m.Version != Version {
		t.Fatalf("Metadata = %+v, %v", m, err)
	}
	sa := sdk.ServiceAccount{Username: "NPS", Secret: sdk.Secret(emu.key)}
	if err := c.Configure(ctx, "ps-prod", emu.config(), sa); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	noAPI := emu.config()
	noAPI["api_url"] = strings.TrimSuffix(emu.srv.URL(), "api/")
	if err := c.Configure(ctx, "ps-noapi", noAPI, sa); err != nil {
		t.Fatalf("Configure: %v", err)
	}

	session := sdk.SessionContext{SessionID: "sess-proc-1", Requester: "alice", Resource: "srv01", Activity: "domain-admin"}
	for i := 0; i < 20; i++ {
		cred, err := c.Checkout(ctx, "ps-prod", sdk.CheckoutRequest{Account: sdk.Account{Domain: "corp", Username: "ADMINISTRATOR"}, Session: session})
		if err != nil || cred.Secret.Reveal() != adminPW {
			t.Fatalf("checkout %d: %v", i, err)
		}
	}
	if n := emu.srv.Calls("Auth/AuthenticateApiKey"); n != 1 {
		t.Errorf("20 checkouts through the plugin cost %d logins, want 1", n)
	}
	emu.srv.ExpireSessions()
	if _, err := c.Checkout(ctx, "ps-prod", sdk.CheckoutRequest{Account: sdk.Account{Domain: "CORP", Username: "administrator"}, Session: session}); err != nil {
		t.Fatalf("checkout after the session expired: %v", err)
	}
	if book := emu.srv.Logbook(); len(book) != 21 || !strings.Contains(book[20].Reason, "sess-proc-1") {
		t.Errorf("logbook has %d entries; last reason %q", len(book), book[len(book)-1].Reason)
	}

	var errTexts []string
	for _, tt := range []struct {
		instance string
		account  sdk.Account
		code     sdk.Code
		hint     string
	}{
		{"ps-prod", sdk.Account{Domain: "CORP", Username: "nobody"}, sdk.CodeNotFound, "spelling"},
		{"ps-prod", sdk.Account{Domain: "CORP", Username: "dup"}, sdk.CodeAmbiguous, "duplicates"},
		{"ps-prod", sdk.Account{Domain: "CORP", Username: "sealed"}, sdk.CodePermissionDenied, "never breaks a seal"},
		{"ps-noapi", sdk.Account{Domain: "CORP", Username: "administrator"}, sdk.CodeInvalidConfig, "/api missing"},
	} {
		_, err := c.Checkout(ctx, tt.instance, sdk.CheckoutRequest{Account: tt.account, Session: session})
		if sdk.CodeOf(err) != tt.code || !strings.Contains(sdk.HintOf(err), tt.hint) {
			t.Errorf("%s %s: %v (code %s), want %s with hint %q", tt.instance, tt.account, err, sdk.CodeOf(err), tt.code, tt.hint)
		}
		if err != nil {
			errTexts = append(errTexts, err.Error())
		}
	}

	findings, err := c.Check(ctx, "ps-noapi", sdk.CheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if last := findings[len(findings)-1]; last.OK || last.Step != "http path" || !strings.Contains(last.Hint, "/api") {
		t.Errorf("Check through the plugin ended with %+v", last)
	}

	noSecrets(t, "plugin logs", logs.String(), emu.key, adminPW, dupPW)
	noSecrets(t, "errors", strings.Join(errTexts, "\n"), emu.key, adminPW, dupPW)
}
