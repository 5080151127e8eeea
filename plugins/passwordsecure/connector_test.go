package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/internal/logbuffer"
	"github.com/byov/byov/plugins/passwordsecure/psemu"
	"github.com/byov/byov/sdk"
)

const (
	adminPW = "Adm1n-Secret!q4"
	dupPW   = "Dup-Secret!r5"
)

// emulator is a psemu server with an AD User entry, a duplicate, a sealed
// one, and an API key; caFile is its certificate written to disk.
type emulator struct {
	srv    *psemu.Server
	key    string
	caFile string
}

func startEmulator(t testing.TB) *emulator {
	t.Helper()
	srv, err := psemu.New(psemu.Options{BOM: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(srv.AddUser("NPS"))
	for _, e := range []psemu.Entry{
		{Domain: "CORP", Username: "administrator", Password: adminPW},
		{Domain: "CORP", Username: "dup", Password: dupPW},
		{Domain: "CORP", Username: "dup", Password: dupPW},
		{Domain: "CORP", Username: "sealed", Password: dupPW, Sealed: true},
	} {
		_, err := srv.AddEntry(e)
		must(err)
	}
	key, err := srv.CreateAPIKey("NPS", "Read", "Passwords", 0)
	must(err)
	caFile := filepath.Join(t.TempDir(), "ps-ca.pem")
	must(os.WriteFile(caFile, srv.CACertPEM(), 0o600))
	return &emulator{srv: srv, key: key, caFile: caFile}
}

func (e *emulator) config() map[string]any {
	return map[string]any{"api_url": e.srv.URL(), "ca_file": e.caFile, "timeout": "5s"}
}

// configure decodes raw against the schema, as the SDK does, and configures
// an instance in process.
func configure(t *testing.T, raw map[string]any, secret string, logs *logbuffer.Buffer) (sdk.Instance, error) {
	t.Helper()
	cfg, err := sdk.DecodeConfig(connector{}.Metadata().ConfigSchema, raw)
	if err != nil {
		return nil, err
	}
	in, err := connector{}.Configure(context.Background(), sdk.ConfigureRequest{
		InstanceID:     "ps-test",
		Config:         cfg,
		ServiceAccount: sdk.ServiceAccount{Username: "NPS", Secret: sdk.Secret(secret)},
		Logger:         hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace}),
	})
	if err == nil {
		t.Cleanup(func() { in.Close(context.Background()) })
	}
	return in, err
}

// noSecrets fails when any of the secrets, or the API key's parts, occur.
func noSecrets(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		parts := []string{s}
		if jwt, priv, ok := strings.Cut(s, ":"); ok {
			parts = append(parts, jwt, priv)
		}
		for _, p := range parts {
			if len(p) >= 6 && strings.Contains(text, p) {
				t.Errorf("%s holds a secret of %d characters", where, len(p))
			}
		}
	}
}

func TestMetadata(t *testing.T) {
	m := connector{}.Metadata()
	if err := sdk.ValidateSchema(m.ConfigSchema); err != nil {
		t.Fatal(err)
	}
	if m.Type != "passwordsecure" || m.Version != "1.0.0" || m.Has(sdk.CapabilityCheckin) {
		t.Errorf("metadata = %+v", m)
	}
	cfg, err := sdk.DecodeConfig(m.ConfigSchema, map[string]any{"api_url": "https://ps/api"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.String("form") != "AD User" || cfg.String("domain_field") != "Domain" || cfg.String("username_field") != "Username" ||
		cfg.String("password_field") != "Password" || cfg.Duration("timeout") != 30*time.Second || cfg.Duration("cache_ttl") != time.Minute {
		t.Errorf("defaults = %v", cfg)
	}
}

func TestConfigureErrors(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"no api_url", map[string]any{}, `"api_url" is missing`},
		{"bad scheme", map[string]any{"api_url": "ftp://ps/api"}, `scheme "ftp"`},
		{"missing ca_file", map[string]any{"api_url": "https://ps/api", "ca_file": "/nonexistent/ca.pem"}, "cannot read ca_file"},
		{"ca_file without PEM", map[string]any{"api_url": "https://ps/api", "ca_file": notPEM}, "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := configure(t, tt.raw, "k", &logbuffer.Buffer{})
			if sdk.CodeOf(err) != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), tt.want) || sdk.HintOf(err) == "" {
				t.Fatalf("error = %v (code %s), want InvalidConfig with %q and a hint", err, sdk.CodeOf(err), tt.want)
			}
		})
	}
}

func TestCheckoutInProcess(t *testing.T) {
	emu := startEmulator(t)
	logs := &logbuffer.Buffer{}
	in, err := configure(t, emu.config(), emu.key, logs)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	session := sdk.SessionContext{SessionID: "sess-42", Requester: "alice", Resource: "srv01", Activity: "domain-admin"}
	var errTexts []string
	tests := []struct {
		account sdk.Account
		code    sdk.Code
	}{
		{sdk.Account{Domain: "CORP", Username: "administrator"}, ""},
		{sdk.Account{Domain: "corp", Username: "Administrator"}, ""},
		{sdk.Account{Domain: "CORP", Username: "nobody"}, sdk.CodeNotFound},
		{sdk.Account{Domain: "CORP", Username: "dup"}, sdk.CodeAmbiguous},
		{sdk.Account{Domain: "CORP", Username: "sealed"}, sdk.CodePermissionDenied},
		{sdk.Account{Username: "administrator"}, sdk.CodeInvalidConfig},
	}
	for _, tt := range tests {
		cred, err := in.Checkout(ctx, sdk.CheckoutRequest{Account: tt.account, Session: session})
		if tt.code == "" {
			if err != nil || cred.Secret.Reveal() != adminPW || cred.Metadata["entry_id"] == "" {
				t.Fatalf("%s: %v", tt.account, err)
			}
			continue
		}
		if sdk.CodeOf(err) != tt.code || sdk.HintOf(err) == "" {
			t.Errorf("%s: error %v has code %s, want %s with a hint", tt.account, err, sdk.CodeOf(err), tt.code)
		}
		if err != nil {
			errTexts = append(errTexts, err.Error())
		}
	}
	book := emu.srv.Logbook()
	if len(book) == 0 {
		t.Fatal("the logbook is empty")
	}
	for _, want := range []string{"sess-42", "alice", "srv01", "domain-admin"} {
		if !strings.Contains(book[0].Reason, want) {
			t.Errorf("the logbook reason %q does not name %q", book[0].Reason, want)
		}
	}
	noSecrets(t, "logs", logs.String(), emu.key, adminPW, dupPW)
	noSecrets(t, "errors", strings.Join(errTexts, "\n"), emu.key, adminPW, dupPW)
}

func TestCheckInProcess(t *testing.T) {
	emu := startEmulator(t)
	ctx := context.Background()
	in, err := configure(t, emu.config(), emu.key, &logbuffer.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	findings, err := in.Check(ctx, sdk.CheckRequest{TestAccount: sdk.Account{Domain: "CORP", Username: "administrator"}})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, f := range findings {
		steps = append(steps, f.Step)
		if !f.OK {
			t.Errorf("step %s failed: %s (%s)", f.Step, f.Message, f.Hint)
		}
	}
	if got := strings.Join(steps, ","); got != "url,dns,tcp,tls,http path,api key,login,rights and scope,test lookup" {
		t.Errorf("steps = %s", got)
	}

	// A config that passes Configure but points past the API: Check names
	// the step and the fix.
	raw := emu.config()
	raw["api_url"] = strings.TrimSuffix(emu.srv.URL(), "api/")
	in2, err := configure(t, raw, emu.key, &logbuffer.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	findings, err = in2.Check(ctx, sdk.CheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	last := findings[len(findings)-1]
	if last.OK || last.Step != "http path" || !strings.Contains(last.Hint, "/api") {
		t.Errorf("last finding = %+v", last)
	}
}

func TestSkipCertCheckWarnsAndBadKeyIsReported(t *testing.T) {
	emu := startEmulator(t)
	logs := &logbuffer.Buffer{}
	raw := map[string]any{"api_url": emu.srv.URL(), "skip_cert_check": true}
	in, err := configure(t, raw, "garbage-key", logs)
	if err != nil {
		t.Fatalf("a bad API key must not fail Configure, so Check can report it: %v", err)
	}
	if !strings.Contains(logs.String(), "skip_cert_check is on") || !strings.Contains(logs.String(), "[WARN]") {
		t.Errorf("no warning about skip_cert_check in %q", logs.String())
	}
	_, err = in.Checkout(context.Background(), sdk.CheckoutRequest{Account: sdk.Account{Domain: "CORP", Username: "administrator"}})
	if sdk.CodeOf(err) != sdk.CodeUnauthenticated || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("checkout with a garbage key: %v", err)
	}
	if strings.Contains(logs.String(), "garbage-key") {
		t.Errorf("the key reached the log")
	}
}
