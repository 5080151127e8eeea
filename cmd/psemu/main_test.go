package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byov/byov/internal/logbuffer"
	"github.com/byov/byov/plugins/passwordsecure/psemu"
)

const testSeed = `{
  "users": [{"name": "NPS"}],
  "api_keys": [{"name": "nps", "user": "NPS"}],
  "entries": [{"domain": "CORP", "username": "adm-alice", "password": "S3cret!"}]
}`

func TestServeAndKeyCreate(t *testing.T) {
	dir := t.TempDir()
	seedPath := filepath.Join(dir, "seed.json")
	if err := os.WriteFile(seedPath, []byte(testSeed), 0o600); err != nil {
		t.Fatal(err)
	}
	caPath, keysPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "keys")

	started := make(chan *psemu.Server, 1)
	ready = func(s *psemu.Server) { started <- s }
	defer func() { ready = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr logbuffer.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-seed", seedPath, "-addr", "127.0.0.1:0", "-base", "/API/",
			"-ca-out", caPath, "-keys-out", keysPath}, &stdout, &stderr)
	}()
	var srv *psemu.Server
	select {
	case srv = <-started:
	case err := <-done:
		t.Fatalf("serve ended early: %v\n%s", err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	out := stdout.String()
	if !strings.Contains(out, "url: "+srv.URL()) || !strings.Contains(out, "ca_cert: "+caPath) {
		t.Fatalf("serve printed %q", out)
	}
	info, err := os.Stat(keysPath)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("keys file: %v %v", err, info)
	}

	var keyOut, keyErr bytes.Buffer
	if err := run(context.Background(), []string{"key", "create", "-seed", seedPath, "-user", "NPS"}, &keyOut, &keyErr); err != nil {
		t.Fatalf("key create: %v: %s", err, keyErr.String())
	}
	key := strings.TrimSpace(keyOut.String())
	jwt, priv, ok := strings.Cut(key, ":")
	if !ok || strings.Count(jwt, ".") != 2 || !strings.HasPrefix(priv, "k8R") {
		t.Fatalf("key create printed something that is not <JWT>:<base64 ECC key>")
	}

	// The served URL, trusted through the printed CA file, accepts the key
	// minted by the separate command.
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("the CA file holds no certificate")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body, _ := json.Marshal(map[string]any{"credential": map[string]any{"JsonWebToken": jwt}})
	resp, err := hc.Post(srv.URL()+"Auth/AuthenticateApiKey", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || !strings.Contains(r["$type"].(string), "AuthenticationUserKeySignatureRequirement") {
		t.Fatalf("login step 1 with the minted key: %v %v", err, r)
	}

	// The seed's key, which serve itself created and wrote to the keys
	// file, is used against serve too; neither it nor the minted key may
	// appear in what serve printed (its request log included).
	keysFile, err := os.ReadFile(keysPath)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{jwt, priv}
	for _, line := range strings.Split(strings.TrimSpace(string(keysFile)), "\n") {
		name, seedKey, ok := strings.Cut(line, "=")
		seedJWT, seedPriv, ok2 := strings.Cut(seedKey, ":")
		if !ok || !ok2 || name != "nps" || strings.Count(seedJWT, ".") != 2 || seedPriv == "" {
			t.Fatalf("the keys file holds a line that is not nps=<JWT>:<key>")
		}
		secrets = append(secrets, seedJWT, seedPriv)
		body, _ := json.Marshal(map[string]any{"credential": map[string]any{"JsonWebToken": seedJWT}})
		resp, err := hc.Post(srv.URL()+"Auth/AuthenticateApiKey", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var r map[string]any
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if typ, _ := r["$type"].(string); err != nil || !strings.Contains(typ, "AuthenticationUserKeySignatureRequirement") {
			t.Fatalf("login step 1 with the seed key: %v %v", err, r)
		}
	}
	if len(secrets) != 4 {
		t.Fatalf("the keys file holds %d keys, want 1", (len(secrets)-2)/2)
	}
	// serve logs a request once its handler returns, which may be after
	// the client has the answer: wait for both lines.
	var printed string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		printed = stdout.String() + stderr.String()
		if strings.Count(printed, "Auth/AuthenticateApiKey") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log both logins, so the scan below would prove nothing: %q", printed)
		}
	}
	for _, secret := range secrets {
		if strings.Contains(printed, secret) {
			t.Fatal("serve printed key material")
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{},
		{"bogus"},
		{"key", "create", "-user", "NPS"},
		{"key", "create", "-seed", "/nonexistent/seed.json", "-user", "NPS"},
		{"serve"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(context.Background(), args, &out, &errOut); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
