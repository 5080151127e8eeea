package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/byov/byov/sdk"
	"github.com/byov/byov/sdk/connectortest"
)

// store is a passage store in a temporary directory, with its identities
// file, encrypted to one X25519 identity.
type store struct {
	dir, identities string
	id              *age.X25519Identity
}

func newStore(t testing.TB) *store {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	s := &store{dir: filepath.Join(root, "store"), identities: filepath.Join(root, "identities"), id: id}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.identities, []byte("# created by the test\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// insert writes an entry as `passage insert -m` does.
func (s *store) insert(t testing.TB, entry, content string, to age.Recipient) {
	t.Helper()
	if to == nil {
		to = s.id.Recipient()
	}
	file := filepath.Join(s.dir, filepath.FromSlash(entry)+".age")
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *store) config() map[string]any {
	return map[string]any{"store_dir": s.dir, "identities_file": s.identities}
}

const (
	alicePW  = "Passage-Alice-Pw-42!"
	aliceOTP = "otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP"
)

// TestConformance runs the byov conformance kit: the connector as a plugin
// process (built from this package) and in process.
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Package:   ".",
		Connector: Connector{},
		Seed: func(t testing.TB) (connectortest.Fixture, error) {
			s := newStore(t)
			s.insert(t, "corp/alice", alicePW+"\n"+aliceOTP+"\n", nil)
			return connectortest.Fixture{
				Config:      s.config(),
				Found:       sdk.Account{Domain: "CORP", Username: "Alice"},
				FoundSecret: alicePW,
				Absent:      sdk.Account{Domain: "CORP", Username: "bob"},
				// The identity and the entry's other lines are secret too.
				Secrets: []sdk.Secret{sdk.Secret(s.id.String()), aliceOTP},
			}, nil
		},
		Skip: map[string]string{
			connectortest.CaseCheckoutAmbiguous: "an account maps to exactly one file path, so it cannot match two entries",
		},
	})
}

func configure(t *testing.T, raw map[string]any) (*instance, error) {
	t.Helper()
	cfg, err := sdk.DecodeConfig(Connector{}.Metadata().ConfigSchema, raw)
	if err != nil {
		return nil, err
	}
	in, err := Connector{}.Configure(context.Background(), sdk.ConfigureRequest{InstanceID: "test", Config: cfg})
	if err != nil {
		return nil, err
	}
	return in.(*instance), nil
}

func TestPathTemplate(t *testing.T) {
	for _, tc := range []struct {
		template string
		account  sdk.Account
		want     string
		bad      bool
	}{
		{DefaultPathTemplate, sdk.Account{Domain: "CORP", Username: "Alice"}, "corp/alice", false},
		{DefaultPathTemplate, sdk.Account{Username: "root"}, "root", false},
		{"servers/{domain}-{user}", sdk.Account{Domain: "Corp", Username: "ADM"}, "servers/corp-adm", false},
		{DefaultPathTemplate, sdk.Account{Domain: "CORP", Username: ".."}, "", true},
		{DefaultPathTemplate, sdk.Account{Domain: "../..", Username: "x"}, "", true},
		{DefaultPathTemplate, sdk.Account{Domain: "CORP", Username: `a\b`}, "", true},
		{DefaultPathTemplate, sdk.Account{Domain: "CORP"}, "", true},
	} {
		tmpl, err := parseTemplate(tc.template)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tmpl.render(tc.account)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("%q with %s = %q, %v; want %q (error: %v)", tc.template, tc.account, got, err, tc.want, tc.bad)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	s := newStore(t)
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, []byte("AGE-SECRET-KEY-1NOTAKEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		says []string
	}{
		{"missing store", func(c map[string]any) { c["store_dir"] = s.dir + "-missing" }, []string{"store_dir", "does not exist"}},
		{"store is a file", func(c map[string]any) { c["store_dir"] = notDir }, []string{"store_dir", "not a directory"}},
		{"missing identities", func(c map[string]any) { c["identities_file"] = s.identities + "-missing" }, []string{"identities_file", "cannot open"}},
		{"not identities", func(c map[string]any) { c["identities_file"] = garbage }, []string{"identities_file", "no usable age identity"}},
		{"template without user", func(c map[string]any) { c["path_template"] = "{domain}" }, []string{"path_template", "has no {user}"}},
		{"template with unknown placeholder", func(c map[string]any) { c["path_template"] = "{host}/{user}" }, []string{"path_template", "other than {domain} and {user}"}},
		{"template leaving the store", func(c map[string]any) { c["path_template"] = "../{user}" }, []string{"path_template", "without .."}},
		{"every problem at once", func(c map[string]any) { c["store_dir"] = ""; c["identities_file"] = ""; c["path_template"] = "x" },
			[]string{"store_dir is empty", "identities_file is empty", "path_template"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.config()
			tc.edit(cfg)
			_, err := configure(t, cfg)
			if sdk.CodeOf(err) != sdk.CodeInvalidConfig {
				t.Fatalf("got %v (code %s), want InvalidConfig", err, sdk.CodeOf(err))
			}
			for _, want := range tc.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "NOTAKEY") {
				t.Errorf("the error quotes the identities file: %q", err)
			}
		})
	}
}

func TestCheckout(t *testing.T) {
	s := newStore(t)
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	s.insert(t, "corp/alice", alicePW+"\r\nnotes\n", nil)
	s.insert(t, "corp/nonl", "no-newline-pw", nil)
	s.insert(t, "corp/empty", "\nnotes only\n", nil)
	s.insert(t, "corp/foreign", "Foreign-Pw-1", other.Recipient())
	s.insert(t, "root", "Root-Pw-1\n", nil)
	in, err := configure(t, s.config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		account sdk.Account
		secret  string
		code    sdk.Code
		says    string
	}{
		{sdk.Account{Domain: "CORP", Username: "ALICE"}, alicePW, "", ""},
		{sdk.Account{Domain: "corp", Username: "nonl"}, "no-newline-pw", "", ""},
		{sdk.Account{Username: "root"}, "Root-Pw-1", "", ""},
		{sdk.Account{Domain: "CORP", Username: "bob"}, "", sdk.CodeNotFound, "passage insert corp/bob"},
		{sdk.Account{Domain: "CORP", Username: "empty"}, "", sdk.CodeNotFound, "first line is empty"},
		{sdk.Account{Domain: "CORP", Username: "foreign"}, "", sdk.CodePermissionDenied, "not encrypted to any identity"},
		{sdk.Account{Domain: "CORP", Username: ".."}, "", sdk.CodeNotFound, "cannot be part of an entry path"},
	} {
		cred, err := in.Checkout(ctx, sdk.CheckoutRequest{Account: tc.account})
		if tc.code == "" {
			if err != nil || cred.Secret.Reveal() != tc.secret {
				t.Errorf("%s: %v (right secret: %v)", tc.account, err, err == nil && cred.Secret.Reveal() == tc.secret)
			}
			continue
		}
		if sdk.CodeOf(err) != tc.code || !strings.Contains(err.Error()+sdk.HintOf(err), tc.says) {
			t.Errorf("%s: %v (code %s, hint %q), want %s saying %q", tc.account, err, sdk.CodeOf(err), sdk.HintOf(err), tc.code, tc.says)
		}
	}

	// Relative paths start at the working directory, which the host sets to
	// its config file's directory.
	t.Chdir(filepath.Dir(s.dir))
	rel, err := configure(t, map[string]any{"store_dir": "store", "identities_file": "identities"})
	if err != nil {
		t.Fatalf("relative paths: %v", err)
	}
	if _, err := rel.Checkout(ctx, sdk.CheckoutRequest{Account: sdk.Account{Username: "root"}}); err != nil {
		t.Errorf("relative paths: %v", err)
	}

	// A template other than the default, and the Check of a test account.
	cfg := s.config()
	cfg["path_template"] = "{user}"
	flat, err := configure(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cred, err := flat.Checkout(ctx, sdk.CheckoutRequest{Account: sdk.Account{Domain: "ANY", Username: "Root"}}); err != nil || cred.Secret.Reveal() != "Root-Pw-1" {
		t.Errorf("path_template {user}: %v", err)
	}
	findings, err := in.Check(ctx, sdk.CheckRequest{TestAccount: sdk.Account{Domain: "CORP", Username: "foreign"}})
	if err != nil {
		t.Fatal(err)
	}
	if last := findings[len(findings)-1]; last.OK || last.Step != "test account" || !strings.Contains(last.Hint, "reencrypt") {
		t.Errorf("Check of an entry for another identity ended with %+v", last)
	}
}
