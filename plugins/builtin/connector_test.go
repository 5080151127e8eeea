package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/internal/logbuffer"
	"github.com/byov/byov/sdk"
)

const (
	alicePW    = "Alice-Conn-Pw-5e1d0c7b"
	bobPW      = "Bob-Conn-Pw-8a2f6e19"
	passphrase = "Passphrase-3c9b7d21-never-logged"
)

var (
	alice = sdk.Account{Domain: "CORP", Username: "alice"}
	bob   = sdk.Account{Domain: "CORP", Username: "bob"}
)

func testLogger(out *logbuffer.Buffer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: out, JSONFormat: true})
}

// baseConfig is a key file vault in a fresh directory, created on first use.
func baseConfig(t *testing.T) map[string]any {
	t.Helper()
	dir := t.TempDir()
	return map[string]any{
		"path":     filepath.Join(dir, "vault.db"),
		"key_file": filepath.Join(dir, "master.key"),
		"create":   true,
	}
}

// configure decodes raw as the SDK does before Configure, then configures
// an instance logging into logs.
func configure(t *testing.T, raw map[string]any, logs *logbuffer.Buffer) (*instance, error) {
	t.Helper()
	cfg, err := sdk.DecodeConfig(schema, raw)
	if err != nil {
		return nil, err
	}
	inst, err := connector{}.Configure(context.Background(), sdk.ConfigureRequest{
		InstanceID: "vault-test", Config: cfg, Logger: testLogger(logs)})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { inst.Close(context.Background()) })
	return inst.(*instance), nil
}

func mustConfigure(t *testing.T, raw map[string]any, logs *logbuffer.Buffer) *instance {
	t.Helper()
	inst, err := configure(t, raw, logs)
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return inst
}

func mustPut(t *testing.T, in *instance, a sdk.Account, pw string) int64 {
	t.Helper()
	v, err := in.Put(context.Background(), sdk.PutRequest{Account: a, Secret: sdk.Secret(pw)})
	if err != nil {
		t.Fatalf("Put %s: %v", a, err)
	}
	return v
}

func mustCheckout(t *testing.T, in *instance, a sdk.Account) *sdk.Credential {
	t.Helper()
	c, err := in.Checkout(context.Background(), sdk.CheckoutRequest{Account: a})
	if err != nil {
		t.Fatalf("Checkout %s: %v", a, err)
	}
	return c
}

func wantCode(t *testing.T, err error, code sdk.Code, says ...string) {
	t.Helper()
	if got := sdk.CodeOf(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}

func noSecrets(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s holds a secret", where)
		}
	}
}

func TestMetadata(t *testing.T) {
	m := connector{}.Metadata()
	if m.Type != "builtin" || m.Version != "1.0.0" {
		t.Errorf("metadata names %s %s", m.Type, m.Version)
	}
	if !m.Has(sdk.CapabilityCheckin) || !m.Has(sdk.CapabilityAccounts) {
		t.Errorf("capabilities %v, want checkin and accounts", m.Capabilities)
	}
	if err := sdk.ValidateSchema(m.ConfigSchema); err != nil {
		t.Fatal(err)
	}
	for _, a := range m.ConfigSchema {
		if a.Name == "passphrase" && !a.Sensitive {
			t.Error("passphrase is not marked sensitive")
		}
	}
	cfg, err := sdk.DecodeConfig(m.ConfigSchema, map[string]any{"path": "v.db", "key_file": "k"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := parseSettings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if set.store.Create || set.store.KeepVersions != 5 || set.policy.Length != 24 || len(set.policy.Classes) != 4 || set.rotateOnCheckin {
		t.Errorf("defaults = %+v, want create false, keep 5, length 24, 4 classes, no rotation", set)
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(raw map[string]any)
		says   []string
	}{
		{"both key_file and passphrase", func(r map[string]any) { r["passphrase"] = passphrase }, []string{"key_file", "passphrase", "exactly one"}},
		{"neither key_file nor passphrase", func(r map[string]any) { delete(r, "key_file") }, []string{"key_file", "passphrase", "exactly one"}},
		{"no path", func(r map[string]any) { delete(r, "path") }, []string{`"path"`}},
		{"keep_versions 0", func(r map[string]any) { r["keep_versions"] = 0.0 }, []string{"keep_versions"}},
		{"keep_versions 2.5", func(r map[string]any) { r["keep_versions"] = 2.5 }, []string{"keep_versions"}},
		{"password_length 4", func(r map[string]any) { r["password_length"] = 4.0 }, []string{"password_length", "between 8 and 256"}},
		{"unknown class", func(r map[string]any) { r["password_classes"] = []any{"lower", "emoji"} }, []string{"password_classes", `"emoji"`}},
		{"unknown attribute", func(r map[string]any) { r["keyfile"] = "x" }, []string{`"keyfile"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := baseConfig(t)
			tc.change(raw)
			_, err := configure(t, raw, &logbuffer.Buffer{})
			wantCode(t, err, sdk.CodeInvalidConfig, tc.says...)
			noSecrets(t, "the error", err.Error(), passphrase)
			if p, ok := raw["path"].(string); ok {
				if _, serr := os.Stat(p); serr == nil {
					t.Error("a vault file was created for an invalid config")
				}
			}
		})
	}
}

func TestMissingFileNotCreated(t *testing.T) {
	raw := baseConfig(t)
	raw["create"] = false
	_, err := configure(t, raw, &logbuffer.Buffer{})
	wantCode(t, err, sdk.CodeInvalidConfig, raw["path"].(string), "create = true")
	if _, serr := os.Stat(raw["path"].(string)); !os.IsNotExist(serr) {
		t.Error("the vault file was created although create is false")
	}
	raw["create"] = true
	mustConfigure(t, raw, &logbuffer.Buffer{})
	if _, serr := os.Stat(raw["path"].(string)); serr != nil {
		t.Errorf("with create = true the vault file was not made: %v", serr)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
		code   sdk.Code
		says   []string
	}{
		{"newer schema", func(t *testing.T, path string) { rawExec(t, path, "PRAGMA user_version = 9") },
			sdk.CodeUnsupported, []string{"schema version 9", "schema version 1 at most"}},
		{"not a vault", func(t *testing.T, path string) { os.WriteFile(path, bytes.Repeat([]byte("x"), 4096), 0o600) },
			sdk.CodeInvalidConfig, []string{"not an SQLite database"}},
		{"damaged data key", func(t *testing.T, path string) {
			rawExec(t, path, "UPDATE meta SET value = zeroblob(72) WHERE name = 'data_key'")
		}, sdk.CodeInternal, []string{"damaged", "backup"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := baseConfig(t)
			in := mustConfigure(t, raw, &logbuffer.Buffer{})
			mustPut(t, in, alice, alicePW)
			in.Close(context.Background())
			tc.damage(t, raw["path"].(string))
			_, err := configure(t, raw, &logbuffer.Buffer{})
			wantCode(t, err, tc.code, tc.says...)
		})
	}
}

func rawExec(t *testing.T, path, query string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=rw")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestAccounts(t *testing.T) {
	ctx := context.Background()
	logs := &logbuffer.Buffer{}
	in := mustConfigure(t, baseConfig(t), logs)
	if v, err := in.Put(ctx, sdk.PutRequest{Account: alice, Secret: alicePW, Description: "domain admin", Tags: map[string]string{"tier": "0"}}); err != nil || v != 1 {
		t.Fatalf("Put = %d, %v", v, err)
	}
	mustPut(t, in, sdk.Account{Username: `CORP\bob`}, bobPW) // whole name in Username
	if v := mustPut(t, in, alice, alicePW+"2"); v != 2 {
		t.Errorf("second Put = version %d, want 2", v)
	}

	for _, a := range []sdk.Account{alice, {Domain: "corp", Username: "ALICE"}, {Username: `Corp\Alice`}} {
		c := mustCheckout(t, in, a)
		if c.Secret.Reveal() != alicePW+"2" || c.Username != "alice" || c.Metadata["version"] != "2" || c.Metadata["account"] != `CORP\alice` || c.LeaseID == "" {
			t.Errorf("Checkout %q = %+v", a.String(), c)
		}
	}
	if c := mustCheckout(t, in, bob); c.Secret.Reveal() != bobPW {
		t.Error("Checkout bob returned the wrong secret")
	}

	list, err := in.List(ctx, sdk.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(list)
	noSecrets(t, "List", string(j)+fmt.Sprintf("%+v", list), alicePW, bobPW)
	if len(list) != 2 || list[0].Account != alice || list[0].Version != 2 || list[0].Description != "domain admin" || list[0].Tags["tier"] != "0" || list[1].Account != bob {
		t.Errorf("List = %+v", list)
	}
	if l, _ := in.List(ctx, sdk.ListRequest{Domain: "other"}); len(l) != 0 {
		t.Errorf("List(other) = %+v, want none", l)
	}

	if err := in.Delete(ctx, sdk.Account{Domain: "corp", Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	_, err = in.Checkout(ctx, sdk.CheckoutRequest{Account: alice})
	wantCode(t, err, sdk.CodeNotFound, `CORP\alice`)
	if hint := sdk.HintOf(err); !strings.Contains(hint, `byov vault put CORP\alice`) {
		t.Errorf("NotFound hint %q should tell how to store the account", hint)
	}
	wantCode(t, in.Delete(ctx, alice), sdk.CodeNotFound)
	_, err = in.Put(ctx, sdk.PutRequest{Account: sdk.Account{Domain: "CORP"}, Secret: "x"})
	wantCode(t, err, sdk.CodeInvalidConfig, "no username")
	noSecrets(t, "the log", logs.String(), alicePW, bobPW)
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestWrongKey(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first func(raw map[string]any)
		wrong func(t *testing.T, raw map[string]any)
		hint  string
	}{
		{"passphrase", func(raw map[string]any) {
			delete(raw, "key_file")
			raw["passphrase"] = passphrase
		}, func(t *testing.T, raw map[string]any) { raw["passphrase"] = passphrase + "x" }, "check passphrase"},
		{"key file", func(map[string]any) {}, func(t *testing.T, raw map[string]any) {
			other := baseConfig(t)
			mustConfigure(t, other, &logbuffer.Buffer{}) // makes another key
			raw["key_file"] = other["key_file"]
		}, "check key_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := baseConfig(t)
			tc.first(raw)
			logs := &logbuffer.Buffer{}
			in := mustConfigure(t, raw, logs)
			mustPut(t, in, alice, alicePW)
			in.Close(context.Background())
			before := fileSum(t, raw["path"].(string))

			tc.wrong(t, raw)
			_, err := configure(t, raw, logs)
			wantCode(t, err, sdk.CodeUnauthenticated, "wrong key")
			if !strings.Contains(sdk.HintOf(err), tc.hint) {
				t.Errorf("hint %q should say %q", sdk.HintOf(err), tc.hint)
			}
			if fileSum(t, raw["path"].(string)) != before {
				t.Error("the vault file changed after the wrong key was refused")
			}
			noSecrets(t, "the error", err.Error(), passphrase, alicePW)
			noSecrets(t, "the log", logs.String(), passphrase, alicePW)
		})
	}
}

func TestRotateOnCheckin(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		rotate  bool
		length  float64
		classes []any
	}{
		{"off", false, 24, nil},
		{"all classes", true, 24, nil},
		{"lower and digits, 40", true, 40, []any{"lower", "digit"}},
		{"symbols and upper, 8", true, 8, []any{"upper", "symbol"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := baseConfig(t)
			raw["rotate_on_checkin"] = tc.rotate
			raw["password_length"] = tc.length
			if tc.classes != nil {
				raw["password_classes"] = tc.classes
			}
			logs := &logbuffer.Buffer{}
			in := mustConfigure(t, raw, logs)
			mustPut(t, in, alice, alicePW)
			c := mustCheckout(t, in, alice)
			if err := in.Checkin(ctx, sdk.CheckinRequest{Account: alice, LeaseID: c.LeaseID}); err != nil {
				t.Fatalf("Checkin: %v", err)
			}
			after := mustCheckout(t, in, alice)
			if !tc.rotate {
				if after.Metadata["version"] != "1" || after.Secret.Reveal() != alicePW {
					t.Error("Checkin changed the password although rotate_on_checkin is off")
				}
				return
			}
			pw := after.Secret.Reveal()
			if after.Metadata["version"] != "2" || pw == alicePW {
				t.Fatalf("after Checkin: version %s, changed %v; want a new version 2", after.Metadata["version"], pw != alicePW)
			}
			if len(pw) != int(tc.length) {
				t.Errorf("rotated password has %d characters, want %v", len(pw), tc.length)
			}
			var allowed string
			for _, c := range in.set.policy.Classes {
				allowed += c.Chars()
				if !strings.ContainsAny(pw, c.Chars()) {
					t.Errorf("rotated password lacks a %s character", c)
				}
			}
			if strings.Trim(pw, allowed) != "" {
				t.Error("rotated password holds characters outside its classes")
			}
			noSecrets(t, "the log", logs.String(), alicePW, pw)
			wantCode(t, in.Checkin(ctx, sdk.CheckinRequest{Account: bob}), sdk.CodeNotFound)
		})
	}
}

// tamperRow flips a byte of an account's stored ciphertext behind the
// connector's back.
func tamperRow(t *testing.T, path, username string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=rw&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	row := "(SELECT id FROM accounts WHERE username = ?)"
	var ct []byte
	if err := db.QueryRow("SELECT ciphertext FROM secrets WHERE account_id = "+row, username).Scan(&ct); err != nil {
		t.Fatal(err)
	}
	ct[0] ^= 0x80
	if _, err := db.Exec("UPDATE secrets SET ciphertext = ? WHERE account_id = "+row, ct, username); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	raw := baseConfig(t)
	raw["rotate_on_checkin"] = true
	logs := &logbuffer.Buffer{}
	in := mustConfigure(t, raw, logs)
	mustPut(t, in, alice, alicePW)
	mustPut(t, in, bob, bobPW)

	findings := func(req sdk.CheckRequest) map[string]sdk.Finding {
		t.Helper()
		fs, err := in.Check(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]sdk.Finding{}
		for _, f := range fs {
			out[f.Step] = f
			noSecrets(t, "finding "+f.Step, f.Message+f.Hint, alicePW, bobPW)
		}
		return out
	}
	got := findings(sdk.CheckRequest{TestAccount: alice})
	for _, step := range []string{"vault file", "key file", "master key", "accounts", "integrity", "rotation", "test account"} {
		if f, ok := got[step]; !ok || !f.OK {
			t.Errorf("healthy vault: finding %q = %+v, want OK", step, f)
		}
	}
	if m := got["accounts"].Message; !strings.Contains(m, "2 accounts") {
		t.Errorf("accounts finding %q should count 2 accounts", m)
	}

	os.Chmod(raw["key_file"].(string), 0o644)
	tamperRow(t, raw["path"].(string), "alice")
	got = findings(sdk.CheckRequest{TestAccount: alice})
	if f := got["key file"]; f.OK || !strings.Contains(f.Hint, "chmod 600") {
		t.Errorf("key file finding = %+v, want not OK with a chmod hint", f)
	}
	if f := got["integrity"]; f.OK || !strings.Contains(f.Message, `CORP\alice`) || strings.Contains(f.Message, "bob") {
		t.Errorf("integrity finding = %+v, want not OK naming alice only", f)
	}
	if f := got["test account"]; f.OK || !strings.Contains(f.Message, "integrity") {
		t.Errorf("test account finding = %+v, want an integrity failure", f)
	}
	_, err := in.Checkout(ctx, sdk.CheckoutRequest{Account: alice})
	wantCode(t, err, sdk.CodeInternal, "integrity check failed", `CORP\alice`)
	if c := mustCheckout(t, in, bob); c.Secret.Reveal() != bobPW {
		t.Error("bob no longer opens after alice's row was damaged")
	}
	noSecrets(t, "the log", logs.String(), alicePW, bobPW)
}

// TestConcurrentInstances runs checkouts on two instances (two files) of one
// connector at once, as one plugin process serving two connector blocks.
func TestConcurrentInstances(t *testing.T) {
	ctx := context.Background()
	var insts []*instance
	for i := range 2 {
		raw := baseConfig(t)
		if i == 1 {
			delete(raw, "key_file")
			raw["passphrase"] = passphrase
		}
		in := mustConfigure(t, raw, &logbuffer.Buffer{})
		for u := range 5 {
			mustPut(t, in, sdk.Account{Domain: "CORP", Username: fmt.Sprint("u", u)}, fmt.Sprintf("pw-%d-%d", i, u))
		}
		insts = append(insts, in)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 50 {
				i, u := (g+n)%2, n%5
				c, err := insts[i].Checkout(ctx, sdk.CheckoutRequest{Account: sdk.Account{Domain: "corp", Username: fmt.Sprint("U", u)}})
				if err != nil {
					t.Errorf("Checkout: %v", err)
					return
				}
				if c.Secret.Reveal() != fmt.Sprintf("pw-%d-%d", i, u) {
					t.Errorf("instance %d account %d returned another password", i, u)
					return
				}
			}
		})
	}
	wg.Wait()
}
