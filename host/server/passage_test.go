package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byov/byov/host/api"
)

// The example third-party connector (its own module, written only against
// the public SDK) serves a whole session through byov.
func TestThirdPartyConnectorServesASession(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	example, err := filepath.Abs("../../examples/connector-passage")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]string{
		{filepath.Join(plugins, "byov-connector-passage_0.1.0"), "."},
		{filepath.Join(dir, "passage-insert"), "./cmd/passage-insert"},
	} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Dir = example
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s of the example: %v\n%s", b[1], err, out)
		}
	}
	const password = "passage-e2e-Secret-1"
	insert := exec.Command(filepath.Join(dir, "passage-insert"), "-store", filepath.Join(dir, "store"),
		"-identities", filepath.Join(dir, "identities"), "-new-identity", "corp/administrator")
	insert.Stdin = strings.NewReader(password + "\n")
	if out, err := insert.CombinedOutput(); err != nil {
		t.Fatalf("seeding the passage store: %v\n%s", err, out)
	}
	config := `
server {
  listen     = "127.0.0.1:0"
  data_dir   = "data"
  plugin_dir = "plugins"
}

connector "pass" {
  plugin = "passage"
  config {
    store_dir       = "store"
    identities_file = "identities"
  }
}

connection_profile "default" { allow_password_access = true }

resource "srv01" {
  platform = "linux"
  address  = "srv01.corp.example"
  domain   = "CORP"
}

user "alice" { groups = ["admins"] }

activity "admin" {
  platform      = "linux"
  login_account = "vault"
  connector     = connector.pass
  account       = "${resource.domain}\\administrator"
}

access_policy "admins" {
  type               = "resource"
  connection_profile = connection_profile.default
  users              = ["group:admins"]
  activities         = [activity.admin]
  resources          = [resource.srv01]
}
`
	if err := os.WriteFile(filepath.Join(dir, "byov.hcl"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root, alice := h.clients(ctx)

	res, err := root.CheckConnector(ctx, "pass", `CORP\administrator`)
	if err != nil || !res.OK {
		t.Fatalf("connector check: %v %+v", err, res)
	}
	s, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "admin", Resource: "srv01"})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	cred, err := alice.Credential(ctx, s.ID)
	if err != nil || cred.Password != password {
		t.Fatalf("credential through the passage connector: %v (password matches: %v)", err, cred.Password == password)
	}
	if _, err := alice.EndSession(ctx, s.ID, ""); err != nil {
		t.Fatal(err)
	}
	if plugins, err := root.Plugins(ctx); err != nil || len(plugins) != 1 || plugins[0].Version != "0.1.0" {
		t.Fatalf("plugin list: %v %+v", err, plugins)
	}
}
