package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/server"
	"github.com/byov/byov/host/store"
	"github.com/byov/byov/plugins/passwordsecure/psemu"
	"github.com/byov/byov/sdk"
)

func init() {
	register("dev", "Run a demo host: builtin vault, Password Secure emulator, demo data, printed tokens", cmdDev)
}

// devConfig wires both shipped connectors to one demo resource.
const devConfig = `# Written by byov dev. Every path is absolute; the directory is removed at exit.
server {
  listen     = %q
  data_dir   = %q
  plugin_dir = %q
}

plugin "builtin" { version = ">= 1.0.0" }
plugin "passwordsecure" { version = ">= 1.0.0" }

service_account "ps-api" {
  username = "byov-dev"
  secret   = file("ps-api-key")
}

connector "vault" {
  plugin      = "builtin"
  description = "byov's builtin vault (demo data)"
  config {
    path     = %q
    create   = true
    key_file = %q
  }
}

connector "ps" {
  plugin          = "passwordsecure"
  description     = "Password Secure emulator (demo data)"
  service_account = service_account.ps-api
  config {
    api_url = %q
    ca_file = %q
  }
}

connection_profile "default" {
  max_session_duration  = "1h"
  allow_password_access = true
}

resource "demo-srv" {
  platform = "windows"
  address  = "demo-srv.corp.example"
  domain   = "CORP"
}

user "alice" { groups = ["admins"] }

activity "builtin-admin" {
  platform      = "windows"
  login_account = "vault"
  connector     = connector.vault
  account       = "${resource.domain}\\administrator"
}

activity "ps-admin" {
  platform      = "windows"
  login_account = "vault"
  connector     = connector.ps
  account       = "${resource.domain}\\administrator"
}

access_policy "demo" {
  type               = "resource"
  connection_profile = connection_profile.default
  users              = ["group:admins"]
  activities         = [activity.builtin-admin, activity.ps-admin]
  resources          = [resource.demo-srv]
}
`

func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func cmdDev(args []string) error {
	fs := newFlags("dev", "dev [-listen 127.0.0.1:8200] [-plugin-dir bin/plugins] [-data-dir DIR]")
	listen := fs.String("listen", "127.0.0.1:8200", "the API's loopback address")
	pluginDir := fs.String("plugin-dir", "bin/plugins", "where the connector binaries are (`make build` puts them there)")
	dataDir := fs.String("data-dir", "", "keep state here instead of a temporary directory removed at exit")
	level := fs.String("log-level", "info", "trace, debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if host, _, err := net.SplitHostPort(*listen); err != nil || !isLoopbackHost(host) {
		return fmt.Errorf("byov dev listens on loopback only; %q is not a loopback address", *listen)
	}
	plugDir, err := filepath.Abs(*pluginDir)
	if err != nil {
		return err
	}
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "byov-dev-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The Password Secure emulator, with one AD User entry and an API key.
	emu, err := psemu.New(psemu.Options{})
	if err != nil {
		return err
	}
	if err := emu.AddUser("byov-dev"); err != nil {
		return err
	}
	if _, err := emu.AddEntry(psemu.Entry{Domain: "CORP", Username: "administrator", Password: randomPassword()}); err != nil {
		return err
	}
	apiKey, err := emu.CreateAPIKey("byov-dev", "Read", "Passwords", 30*24*time.Hour)
	if err != nil {
		return err
	}
	if err := emu.Start(); err != nil {
		return fmt.Errorf("starting the Password Secure emulator: %w", err)
	}
	defer emu.Close()
	caPath := filepath.Join(dir, "psemu-ca.pem")
	if err := os.WriteFile(caPath, emu.CACertPEM(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ps-api-key"), []byte(apiKey), 0o600); err != nil {
		return err
	}

	configPath := filepath.Join(dir, "byov.hcl")
	cfgText := fmt.Sprintf(devConfig, *listen, filepath.Join(dir, "data"), plugDir,
		filepath.Join(dir, "vault.db"), filepath.Join(dir, "vault.key"), emu.URL(), caPath)
	if err := os.WriteFile(configPath, []byte(cfgText), 0o600); err != nil {
		return err
	}
	// Pin what `make build` just produced, so the demo runs verified too.
	bins, _, err := plugins.Scan(plugDir)
	if err != nil {
		return fmt.Errorf("%w (run `make build` first, or pass -plugin-dir)", err)
	}
	lock := &plugins.Lock{}
	if _, err := lock.Update(bins, nil, true); err != nil {
		return err
	}
	if err := lock.Write(server.LockFilePath(configPath)); err != nil {
		return err
	}

	s, err := server.New(ctx, server.Options{ConfigPath: configPath, Logger: hostLogger(*level)})
	if err != nil {
		return err
	}
	defer s.Close()
	root, _, err := s.Store().CreateToken(ctx, store.TokenSpec{Name: "dev-root", Role: store.RoleAdmin, User: "root"})
	if err != nil {
		return err
	}
	alice, _, err := s.Store().CreateToken(ctx, store.TokenSpec{Name: "dev-alice", Role: store.RoleUser, User: "alice"})
	if err != nil {
		return err
	}
	vault := s.Plugins().Instance("builtin", "vault")
	if _, err := vault.Put(ctx, sdk.PutRequest{
		Account:     sdk.Account{Domain: "CORP", Username: "administrator"},
		Secret:      sdk.Secret(randomPassword()),
		Description: "demo account seeded by byov dev",
	}); err != nil {
		return fmt.Errorf("seeding the builtin vault: %w", err)
	}
	addr := "http://" + *listen
	fmt.Fprintf(stdout, devBanner, dir, addr, root, alice, addr, alice)
	return s.Serve(ctx)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

const devBanner = `
byov dev is running. Everything lives in %s and is gone when you stop it (Ctrl-C).

Connectors: "vault" (builtin, CORP\administrator seeded) and "ps" (Password Secure
emulator, CORP\administrator as an AD User entry). Tokens:

    export BYOV_ADDR=%s
    export BYOV_TOKEN=%s        # root (admin)
    ALICE_TOKEN=%s              # alice (user, may start the demo sessions)

Try, in another terminal:

    export BYOV_ADDR=%s BYOV_TOKEN=%s
    byov session start -activity builtin-admin -resource demo-srv -reason "demo"
    byov session start -activity ps-admin -resource demo-srv -reason "demo"
    byov session list
    byov session credential <session-id>
    byov session end <session-id>

As root: byov plugin list, byov connector check ps, byov audit list, byov audit verify.

`
