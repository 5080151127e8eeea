package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/byov/byov/internal/logbuffer"
)

// These tests run the real byov binary, as an operator would: `byov dev`
// (what `make dev` runs) and `byov serve` with a SIGHUP reload.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds byov and both shipped connectors once.
func binaries(t *testing.T) (byov, pluginDir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the byov binary")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "byov-cli-test-")
		if buildErr != nil {
			return
		}
		for _, b := range [][2]string{
			{"byov", "."},
			{"plugins/byov-connector-builtin", "../../plugins/builtin"},
			{"plugins/byov-connector-passwordsecure", "../../plugins/passwordsecure"},
		} {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, b[0]), b[1]).CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building %s: %v\n%s", b[1], err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "byov"), filepath.Join(binDir, "plugins")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// cli runs a byov client command and returns its stdout.
func cli(t *testing.T, byov, addr, token string, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(byov, args...)
	cmd.Env = append(os.Environ(), "BYOV_ADDR=http://"+addr, "BYOV_TOKEN="+token)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("byov %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), err
}

var tokenLine = regexp.MustCompile(`(?m)^\s*(?:export BYOV_TOKEN|ALICE_TOKEN)=(byov_\S+)`)

func TestDevRunsSessionsThroughBothConnectors(t *testing.T) {
	byov, pluginDir := binaries(t)
	addr := freeAddr(t)
	dev := exec.Command(byov, "dev", "-listen", addr, "-plugin-dir", pluginDir)
	stdout, err := dev.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs logbuffer.Buffer
	dev.Stderr = &logs
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	defer dev.Process.Kill()

	var banner strings.Builder
	lines := bufio.NewScanner(stdout)
	timer := time.AfterFunc(60*time.Second, func() { dev.Process.Kill() })
	for lines.Scan() {
		banner.WriteString(lines.Text() + "\n")
		if strings.HasPrefix(lines.Text(), "As root:") {
			break
		}
	}
	timer.Stop()
	go io.Copy(io.Discard, stdout)
	tokens := tokenLine.FindAllStringSubmatch(banner.String(), -1)
	if len(tokens) < 2 {
		t.Fatalf("byov dev printed no tokens:\n%s\n%s", banner.String(), logs.String())
	}
	root, alice := tokens[0][1], tokens[1][1]
	dirMatch := regexp.MustCompile(`lives in (\S+) and`).FindStringSubmatch(banner.String())

	for _, activity := range []string{"builtin-admin", "ps-admin"} {
		out, err := cli(t, byov, addr, alice, "", "session", "start", "-format", "json", "-activity", activity, "-resource", "demo-srv")
		if err != nil {
			t.Fatal(err)
		}
		var s struct{ ID, State string }
		if err := json.Unmarshal([]byte(out), &s); err != nil || s.State != "available" {
			t.Fatalf("%s: %v %s", activity, err, out)
		}
		out, err = cli(t, byov, addr, alice, "", "session", "credential", s.ID)
		if err != nil || !strings.Contains(out, "Password") {
			t.Fatalf("%s credential: %v %s", activity, err, out)
		}
		if _, err := cli(t, byov, addr, alice, "", "session", "end", s.ID); err != nil {
			t.Fatal(err)
		}
	}
	out, err := cli(t, byov, addr, root, "", "plugin", "list")
	if err != nil || !strings.Contains(out, "builtin") || !strings.Contains(out, "passwordsecure") || !strings.Contains(out, "running") {
		t.Fatalf("plugin list: %v\n%s", err, out)
	}
	if out, err := cli(t, byov, addr, root, "", "audit", "verify"); err != nil || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	// The password for `vault put` comes from stdin, never from argv.
	if _, err := cli(t, byov, addr, root, "from-stdin-pw\n", "vault", "put", `CORP\bob`); err != nil {
		t.Fatal(err)
	}
	if out, _ := cli(t, byov, addr, root, "", "vault", "list"); !strings.Contains(out, `CORP\bob`) || strings.Contains(out, "from-stdin-pw") {
		t.Fatalf("vault list: %s", out)
	}

	if err := dev.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := dev.Wait(); err != nil {
		t.Fatalf("byov dev did not stop cleanly on Ctrl-C: %v\n%s", err, logs.String())
	}
	if len(dirMatch) != 2 {
		t.Fatalf("byov dev did not say where its directory is:\n%s", banner.String())
	}
	if _, err := os.Stat(dirMatch[1]); !os.IsNotExist(err) {
		t.Fatalf("byov dev left its directory %s behind", dirMatch[1])
	}
	if strings.Contains(logs.String(), "from-stdin-pw") {
		t.Fatal("a password reached the host log")
	}
}

const serveConfig = `
server {
  listen     = %q
  data_dir   = "data"
  plugin_dir = %q
}

connector "vault" {
  plugin = "builtin"
  config {
    path     = "vault.db"
    create   = true
    key_file = "vault.key"
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
  connector     = connector.vault
  account       = "${resource.domain}\\administrator"
}

access_policy "p" {
  type               = "resource"
  connection_profile = connection_profile.default
  users              = [%s]
  activities         = [activity.admin]
  resources          = [resource.srv01]
}
%s`

func TestServeReloadsConfigOnSIGHUP(t *testing.T) {
	byov, pluginDir := binaries(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	configPath := filepath.Join(dir, "byov.hcl")
	write := func(users, extra string) {
		if err := os.WriteFile(configPath, []byte(fmt.Sprintf(serveConfig, addr, pluginDir, users, extra)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`"group:ops"`, "")
	if out, err := exec.Command(byov, "config", "validate", "-config", configPath).CombinedOutput(); err != nil {
		t.Fatalf("config validate: %v\n%s", err, out)
	}
	if out, err := exec.Command(byov, "plugin", "lock", "-config", configPath).CombinedOutput(); err != nil {
		t.Fatalf("plugin lock: %v\n%s", err, out)
	}
	serve := exec.Command(byov, "serve", "-config", configPath)
	var logs logbuffer.Buffer
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer serve.Process.Kill()
	waitFor(t, &logs, "byov is serving")
	rootToken, err := os.ReadFile(filepath.Join(dir, "data", "root-token"))
	if err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSpace(string(rootToken))
	out, err := cli(t, byov, addr, root, "", "token", "create", "-format", "json", "-name", "alice", "-user", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatal(err)
	}
	if _, err := cli(t, byov, addr, root, "pw-1\n", "vault", "put", `CORP\administrator`); err != nil {
		t.Fatal(err)
	}
	if _, err := cli(t, byov, addr, tok.Token, "", "session", "start", "-activity", "admin", "-resource", "srv01"); err == nil {
		t.Fatal("alice started a session before any policy allowed it")
	}

	// An invalid file is refused with its diagnostics; the old one stays.
	write(`"alice"`, "resource \"bad\" {\n  platfrom = \"windows\"\n}\n")
	serve.Process.Signal(syscall.SIGHUP)
	waitFor(t, &logs, "configuration reload refused")
	if !strings.Contains(logs.String(), "platfrom") {
		t.Fatalf("the refusal does not name the bad attribute:\n%s", logs.String())
	}
	if _, err := cli(t, byov, addr, tok.Token, "", "session", "start", "-activity", "admin", "-resource", "srv01"); err == nil {
		t.Fatal("the refused configuration took effect")
	}
	// A valid one is applied.
	write(`"alice"`, "")
	serve.Process.Signal(syscall.SIGHUP)
	waitFor(t, &logs, "configuration reloaded")
	if _, err := cli(t, byov, addr, tok.Token, "", "session", "start", "-activity", "admin", "-resource", "srv01"); err != nil {
		t.Fatalf("the reloaded policy is not in force: %v", err)
	}
	serve.Process.Signal(syscall.SIGTERM)
	if err := serve.Wait(); err != nil {
		t.Fatalf("byov serve did not stop cleanly on SIGTERM: %v", err)
	}
}

func waitFor(t *testing.T, logs *logbuffer.Buffer, text string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(logs.String(), text) {
			return
		}
	}
	t.Fatalf("waited for %q in the host's output:\n%s", text, logs.String())
}
