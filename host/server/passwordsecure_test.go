package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byov/byov/host/api"
	"github.com/byov/byov/host/api/client"
	"github.com/byov/byov/host/sessions"
	"github.com/byov/byov/plugins/passwordsecure/psemu"
)

const psConfig = `
server {
  listen     = "127.0.0.1:0"
  data_dir   = "data"
  plugin_dir = "plugins"
}

service_account "ps" {
  username = "byov"
  secret   = file("ps-api-key")
}

connector "ps" {
  plugin          = "passwordsecure"
  service_account = service_account.ps
  config {
    api_url = %q
    ca_file = "ps-ca.pem"
    timeout = "5s"
  }
}

connection_profile "default" { allow_password_access = true }

resource "srv01" {
  platform = "windows"
  address  = "srv01.corp.example"
  domain   = "CORP"
}

user "alice" {}

activity "admin" {
  platform      = "windows"
  login_account = "vault"
  connector     = connector.ps
  account       = "${resource.domain}\\administrator"
}

access_policy "p" {
  type               = "resource"
  connection_profile = connection_profile.default
  users              = ["alice"]
  activities         = [activity.admin]
  resources          = [resource.srv01]
}
`

// An operator's view of Password Secure through the whole host: a session
// whose reason reaches the vault's logbook, and an unreachable vault named
// with its host, port and likely cause, from a check and from a session.
func TestPasswordSecureThroughTheHost(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "plugins", "byov-connector-passwordsecure"), "../../plugins/passwordsecure").CombinedOutput()
	if err != nil {
		t.Fatalf("building the passwordsecure connector: %v\n%s", err, out)
	}
	emu, err := psemu.New(psemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const password = "PS-e2e-Passw0rd"
	if err := emu.AddUser("byov"); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.AddEntry(psemu.Entry{Domain: "CORP", Username: "administrator", Password: password}); err != nil {
		t.Fatal(err)
	}
	key, err := emu.CreateAPIKey("byov", "Read", "Passwords", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	for name, content := range map[string][]byte{"ps-api-key": []byte(key), "ps-ca.pem": emu.CACertPEM()} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writePS := func(apiURL string) {
		if err := os.WriteFile(filepath.Join(dir, "byov.hcl"), []byte(fmt.Sprintf(psConfig, apiURL)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writePS(emu.URL())
	h := startHost(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	root, alice := h.clients(ctx)

	s, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "admin", Resource: "srv01", Reason: "INC-42"})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if cred, err := alice.Credential(ctx, s.ID); err != nil || cred.Password != password {
		t.Fatalf("credential: %v (password matches: %v)", err, cred.Password == password)
	}
	book := emu.Logbook()
	if len(book) != 1 || !strings.Contains(book[0].Reason, s.ID) || !strings.Contains(book[0].Reason, "alice") || !strings.Contains(book[0].Reason, "srv01") {
		t.Fatalf("Password Secure's logbook does not say who took the password and why: %+v", book)
	}

	// The vault moves to a port where nothing listens; the operator reloads.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	writePS("https://" + closed + "/api/")
	if err := h.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := root.CheckConnector(ctx, "ps", "")
	if err != nil || res.OK {
		t.Fatalf("check of an unreachable vault: %v %+v", err, res)
	}
	var tcp *api.Finding
	for i := range res.Findings {
		if res.Findings[i].Step == "tcp" {
			tcp = &res.Findings[i]
		}
	}
	if tcp == nil || tcp.OK || !strings.Contains(tcp.Message, closed) || !strings.Contains(strings.ToLower(tcp.Message+tcp.Hint), "refused") {
		t.Fatalf("the tcp step does not name %s and the refusal: %+v", closed, res.Findings)
	}
	failed, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "admin", Resource: "srv01"})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Code != "Unavailable" || !strings.Contains(apiErr.Message, closed) || apiErr.Hint == "" {
		t.Fatalf("want Unavailable naming %s with a hint, got %v", closed, err)
	}
	if failed.State != sessions.StateFailed {
		t.Fatalf("the session is %s, want failed", failed.State)
	}
	if strings.Contains(h.log(), key) || strings.Contains(h.log(), password) {
		t.Fatal("the API key or the password reached the host log")
	}
}
