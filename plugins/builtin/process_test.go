package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	c, err := connectortest.StartProcess(tb, exec.Command(connectortest.Build(tb, ".", "builtin")), logs)
	if err != nil {
		tb.Fatalf("starting the plugin: %v", err)
	}
	return c
}

func TestThroughPluginProcess(t *testing.T) {
	ctx := context.Background()
	logs := &logbuffer.Buffer{}
	c := startPlugin(t, logs)

	m, err := c.Metadata(ctx)
	if err != nil || m.Type != "builtin" || !m.Has(sdk.CapabilityAccounts) || !m.Has(sdk.CapabilityCheckin) {
		t.Fatalf("Metadata = %+v, %v", m, err)
	}

	keyed := baseConfig(t)
	keyed["rotate_on_checkin"] = true
	phrased := baseConfig(t)
	delete(phrased, "key_file")
	phrased["passphrase"] = passphrase
	if err := c.Configure(ctx, "keyed", keyed, sdk.ServiceAccount{}); err != nil {
		t.Fatalf("Configure keyed: %v", err)
	}
	if err := c.Configure(ctx, "phrased", phrased, sdk.ServiceAccount{}); err != nil {
		t.Fatalf("Configure phrased: %v", err)
	}

	var seen []string // every password that passed through, for the scans
	for _, id := range []string{"keyed", "phrased"} {
		pw := alicePW + "-" + id
		seen = append(seen, pw)
		if v, err := c.Put(ctx, id, sdk.PutRequest{Account: alice, Secret: sdk.Secret(pw), Description: "admin"}); err != nil || v != 1 {
			t.Fatalf("%s: Put = %d, %v", id, v, err)
		}
		cred, err := c.Checkout(ctx, id, sdk.CheckoutRequest{Account: sdk.Account{Domain: "corp", Username: "ALICE"}})
		if err != nil || cred.Secret.Reveal() != pw {
			t.Fatalf("%s: Checkout = %v (right password: %v)", id, err, err == nil && cred.Secret.Reveal() == pw)
		}
		list, err := c.List(ctx, id, sdk.ListRequest{})
		if err != nil || len(list) != 1 || list[0].Account != alice || list[0].Description != "admin" {
			t.Fatalf("%s: List = %+v, %v", id, list, err)
		}
	}

	// Rotation on checkin, across the wire.
	cred, _ := c.Checkout(ctx, "keyed", sdk.CheckoutRequest{Account: alice})
	if err := c.Checkin(ctx, "keyed", sdk.CheckinRequest{Account: alice, LeaseID: cred.LeaseID}); err != nil {
		t.Fatalf("Checkin: %v", err)
	}
	rotated, err := c.Checkout(ctx, "keyed", sdk.CheckoutRequest{Account: alice})
	if err != nil || rotated.Metadata["version"] != "2" || len(rotated.Secret.Reveal()) != 24 {
		t.Fatalf("after Checkin: %+v, %v; want version 2 with a 24-character password", rotated, err)
	}
	seen = append(seen, rotated.Secret.Reveal())

	findings, err := c.Check(ctx, "keyed", sdk.CheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		if !f.OK {
			t.Errorf("Check: %s: %s", f.Step, f.Message)
		}
	}

	if err := c.Delete(ctx, "phrased", alice); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = c.Checkout(ctx, "phrased", sdk.CheckoutRequest{Account: alice})
	wantCode(t, err, sdk.CodeNotFound, `CORP\alice`)
	if !strings.Contains(sdk.HintOf(err), `byov vault put CORP\alice`) {
		t.Errorf("the NotFound hint did not cross the wire: %q", sdk.HintOf(err))
	}

	// A wrong passphrase is refused over the wire as well, and the file is
	// left as it was.
	if err := c.Unconfigure(ctx, "phrased"); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, phrased["path"].(string))
	before := fileSum(t, phrased["path"].(string))
	phrased["passphrase"] = passphrase + "-wrong"
	wantCode(t, c.Configure(ctx, "phrased", phrased, sdk.ServiceAccount{}), sdk.CodeUnauthenticated, "wrong key")
	if fileSum(t, phrased["path"].(string)) != before {
		t.Error("the vault file changed after a refused passphrase")
	}
	seen = append(seen, passphrase)

	for _, cfg := range []map[string]any{keyed, phrased} {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(cfg["path"].(string) + suffix)
			if err != nil {
				continue
			}
			for _, s := range seen {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s%s holds a secret in plaintext", filepath.Base(cfg["path"].(string)), suffix)
				}
			}
		}
	}
	if !strings.Contains(logs.String(), "rotated the password") {
		t.Errorf("the plugin's log did not reach the host; got:\n%s", logs.String())
	}
	noSecrets(t, "the plugin's log", logs.String(), seen...)
}

// waitClosed waits for the plugin to close a vault after Unconfigure (the
// SDK closes it once calls in flight are done): the last connection's close
// folds the -wal file into the vault and removes it.
func waitClosed(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path + "-wal"); os.IsNotExist(err) {
			return
		}
	}
	t.Fatalf("the plugin did not close %s within 10s of Unconfigure", filepath.Base(path))
}

// BenchmarkPlugin compares a checkout through the plugin process with the
// bare RPC floor (go-plugin's health check) in the same run.
func BenchmarkPlugin(b *testing.B) {
	ctx := context.Background()
	c := startPlugin(b, &logbuffer.Buffer{})
	dir := b.TempDir()
	cfg := map[string]any{"path": dir + "/vault.db", "key_file": dir + "/master.key", "create": true}
	if err := c.Configure(ctx, "bench", cfg, sdk.ServiceAccount{}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Put(ctx, "bench", sdk.PutRequest{Account: alice, Secret: alicePW}); err != nil {
		b.Fatal(err)
	}
	b.Run("ping", func(b *testing.B) {
		for b.Loop() {
			if err := c.Ping(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checkout", func(b *testing.B) {
		req := sdk.CheckoutRequest{Account: alice}
		for b.Loop() {
			if _, err := c.Checkout(ctx, "bench", req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
