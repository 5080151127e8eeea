package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byov/byov/sdk"
	"github.com/hashicorp/hcl/v2"
)

// testSchema stands in for what the passwordsecure plugin declares, plus a
// sensitive attribute and a list to exercise every type.
var testSchema = []sdk.Attribute{
	{Name: "api_url", Type: sdk.TypeString, Required: true, Description: "the Password Secure web API"},
	{Name: "ca_file", Type: sdk.TypeString},
	{Name: "skip_cert_check", Type: sdk.TypeBool},
	{Name: "timeout", Type: sdk.TypeDuration},
	{Name: "cache_ttl", Type: sdk.TypeDuration},
	{Name: "retries", Type: sdk.TypeNumber},
	{Name: "client_key", Type: sdk.TypeString, Sensitive: true},
	{Name: "fields", Type: sdk.TypeList},
}

func testOptions(t *testing.T) LoadOptions {
	t.Helper()
	env := map[string]string{"PS_API_KEY": "key-from-env"}
	return LoadOptions{
		SchemaFunc: func(pluginType string) ([]sdk.Attribute, error) {
			if pluginType == "passwordsecure" {
				return testSchema, nil
			}
			return nil, nil
		},
		KnownPluginTypes: func() []string { return []string{"passwordsecure"} },
		LookupEnv:        func(name string) (string, bool) { v, ok := env[name]; return v, ok },
		BaseDir:          t.TempDir(),
	}
}

// prelude is a valid configuration the cases below add their mistake to.
const prelude = `plugin "passwordsecure" { version = ">= 1.0.0" }
service_account "ps-api" {
  username = "NPS"
  secret   = env("PS_API_KEY")
}
connector "ps-prod" {
  plugin          = "passwordsecure"
  service_account = service_account.ps-api
  config {
    api_url = "https://ps.example.com/api"
  }
}
connection_profile "default" {
  max_session_duration = "2h"
}
resource "srv01" {
  platform = "windows"
  domain   = "CORP"
}
resource "db01" {
  platform = "linux"
  domain   = "CORP"
  tags     = { env = "prod" }
}
user "alice" { groups = ["domain-admins"] }
user "bob" {}
activity "domain-admin" {
  platform  = "windows"
  connector = connector.ps-prod
  account   = "${resource.domain}\\adm-${requester.name}"
}
activity "db-login" {
  platform      = "linux"
  login_account = "requester"
}
access_policy "admins" {
  connection_profile = connection_profile.default
  users              = ["group:domain-admins", "bob"]
  activities         = [activity.domain-admin]
  resources          = [resource.srv01]
}
`

var preludeLines = strings.Count(prelude, "\n")

type wantDiag struct {
	severity hcl.DiagnosticSeverity
	summary  string
	line     int // in the case's own source, 1-based
	column   int
	detail   string // a part of the detail
}

func TestPreludeIsValid(t *testing.T) {
	cfg, diags := Load([]byte(prelude), "byov.hcl", testOptions(t))
	if len(diags) > 0 || cfg == nil {
		t.Fatalf("prelude: %s", diagString(diags))
	}
}

func TestDiagnostics(t *testing.T) {
	const E, W = hcl.DiagError, hcl.DiagWarning
	tests := []struct {
		name string
		src  string
		want []wantDiag
	}{
		{"unknown block", `
resourse "srv02" {}`, []wantDiag{{E, "Unsupported block type", 2, 1, `Did you mean "resource"?`}}},
		{"unknown attribute", `
resource "srv02" {
  platform = "windows"
  adress   = "srv02.corp"
}`, []wantDiag{{E, "Unsupported argument", 4, 3, `Did you mean "address"?`}}},
		{"wrong type", `
connection_profile "short" {
  allow_password_access = "perhaps"
}`, []wantDiag{{E, "Incorrect attribute value type", 3, 27, `"allow_password_access": a bool is required`}}},
		{"wrong type in list", `
user "carol" { groups = ["a", ["b"]] }`, []wantDiag{{E, "Incorrect attribute value type", 2, 31, "string required"}}},
		{"dangling reference", `
activity "restart" {
  platform  = "windows"
  connector = connector.ps-prd
  account   = "svc-restart"
}`, []wantDiag{{E, "Reference to undeclared connector", 4, 15, `Did you mean "ps-prod"?`}}},
		{"dangling reference in list", `
access_policy "more" {
  connection_profile = connection_profile.default
  users              = ["alice"]
  activities         = [activity.domain-admin]
  resources          = [resource.srv01, resource.srv02]
}`, []wantDiag{{E, "Reference to undeclared resource", 6, 41, `no resource block named "srv02"`}}},
		{"wrong kind of reference", `
access_policy "more" {
  connection_profile = resource.srv01
  users              = ["alice"]
  activities         = [activity.domain-admin]
  resources          = [resource.srv01]
}`, []wantDiag{{E, "Wrong kind of reference", 3, 24, "refers to a resource block"}}},
		{"quoted reference", `
activity "restart" {
  platform  = "windows"
  connector = "ps-prod"
  account   = "svc-restart"
}`, []wantDiag{{E, "Invalid reference", 4, 15, "Write connector.ps-prod, without quotes."}}},
		{"reference with extra steps", `
activity "restart" {
  platform  = "windows"
  connector = connector.ps-prod.config
  account   = "svc-restart"
}`, []wantDiag{{E, "Invalid reference", 4, 15, "with nothing after the name"}}},
		{"duplicate name", `
resource "srv01" {
  platform = "windows"
}`, []wantDiag{{E, "Duplicate resource name", 2, 10, "already declared at byov.hcl:16,1"}}},
		{"missing name", `
resource {
  platform = "windows"
}`, []wantDiag{{E, "Missing name for resource", 2, 10, "name"}}},
		{"extra label", `
resource "srv02" "srv03" {
  platform = "windows"
}`, []wantDiag{{E, "Extraneous label for resource", 2, 18, "Only 1 labels"}}},
		{"invalid name", `
resource "srv 02" {
  platform = "windows"
}`, []wantDiag{{E, "Invalid resource name", 2, 10, "cannot be referred to"}}},
		{"platform mismatch", `
access_policy "mixed" {
  connection_profile = connection_profile.default
  users              = ["alice"]
  activities         = [activity.domain-admin]
  resources          = [resource.srv01, resource.db01]
}`, []wantDiag{{E, "Platform mismatch", 6, 41, `activity "domain-admin" (platform "windows") with resource "db01" (platform "linux")`}}},
		{"vault login without connector", `
activity "restart" {
  platform      = "windows"
  login_account = "vault"
  account       = "svc-restart"
}`, []wantDiag{{E, "Missing connector", 4, 19, "add connector = connector.NAME"}}},
		{"vault login by default without connector", `
activity "restart" {
  platform = "windows"
  account  = "svc-restart"
}`, []wantDiag{{E, "Missing connector", 2, 1, `login_account = "vault"`}}},
		{"vault login without account", `
activity "restart" {
  platform  = "windows"
  connector = connector.ps-prod
}`, []wantDiag{{E, "Missing account", 2, 1, "account ="}}},
		{"requester login with connector", `
activity "rdp" {
  platform      = "windows"
  login_account = "requester"
  connector     = connector.ps-prod
}`, []wantDiag{{W, "Connector not used", 4, 19, "nothing is checked out"}}},
		{"invalid login_account", `
activity "rdp" {
  platform      = "windows"
  login_account = "vaults"
}`, []wantDiag{{E, "Invalid login_account", 4, 19, `not "vaults"`}}},
		{"unknown plugin type", `
connector "ps-test" {
  plugin = "passwordsecur"
}`, []wantDiag{{E, "Unknown plugin type", 3, 12, `Did you mean "passwordsecure"?`}}},
		{"bad duration", `
connection_profile "short" {
  max_session_duration = "2 hours"
}`, []wantDiag{{E, "Invalid duration", 3, 26, `"2 hours" is not a duration for max_session_duration`}}},
		{"zero duration", `
server {
  checkout_timeout = "0s"
}`, []wantDiag{{E, "Invalid duration", 3, 22, "longer than zero"}}},
		{"bad version constraint", `
plugin "builtin" { version = ">= one" }`, []wantDiag{{E, "Invalid version constraint", 2, 30, `">= one" is not a version constraint`}}},
		{"invalid plugin type name", `
plugin "Builtin_2" {}`, []wantDiag{{E, "Invalid plugin type", 2, 8, "lower-case"}}},
		{"inline secret", `
service_account "ps-test" {
  username = "NPS"
  secret   = "hunter2"
}`, []wantDiag{{W, "Secret written inline", 4, 14, `use env("NAME") or file("path")`}}},
		{"inline sensitive config attribute", `
connector "ps-test" {
  plugin = "passwordsecure"
  config {
    api_url    = "https://ps.example.com/api"
    client_key = "abc"
  }
}`, []wantDiag{{W, "Secret written inline", 6, 18, `"client_key"`}}},
		{"unknown config attribute", `
connector "ps-test" {
  plugin = "passwordsecure"
  config {
    api_urll = "https://ps.example.com/api"
  }
}`, []wantDiag{
			{E, "Missing required config attribute", 4, 3, `needs "api_url" (the Password Secure web API)`},
			{E, "Unsupported argument", 5, 5, `Did you mean "api_url"?`},
		}},
		{"config attribute of wrong type", `
connector "ps-test" {
  plugin = "passwordsecure"
  config {
    api_url         = "https://ps.example.com/api"
    skip_cert_check = "maybe"
    fields          = "Password"
    retries         = "three"
  }
}`, []wantDiag{
			{E, "Incorrect attribute value type", 6, 23, `"skip_cert_check": a bool is required`},
			{E, "Incorrect attribute value type", 7, 23, `"fields": list of string required`},
			{E, "Incorrect attribute value type", 8, 23, `"retries": a number is required`},
		}},
		{"config bad duration", `
connector "ps-test" {
  plugin = "passwordsecure"
  config {
    api_url = "https://ps.example.com/api"
    timeout = "30 s"
  }
}`, []wantDiag{{E, "Invalid duration", 6, 15, `"30 s" is not a duration for timeout`}}},
		{"config without required attribute and without block", `
connector "ps-test" {
  plugin = "passwordsecure"
}`, []wantDiag{{E, "Missing required config attribute", 2, 1, `"api_url"`}}},
		{"config block twice", `
connector "ps-test" {
  plugin = "passwordsecure"
  config { api_url = "a" }
  config { api_url = "b" }
}`, []wantDiag{{E, "Duplicate config block", 5, 3, "merge the two"}}},
		{"config block with a block inside", `
connector "ps-test" {
  plugin = "passwordsecure"
  config {
    api_url = "a"
    tls {}
  }
}`, []wantDiag{{E, "Unsupported block type", 6, 5, `"tls"`}}},
		{"env variable missing", `
service_account "ps-test" {
  secret = env("PS_API_KEY2")
}`, []wantDiag{{E, "Invalid function argument", 3, 17, `environment variable "PS_API_KEY2" is not set`}}},
		{"file missing", `
service_account "ps-test" {
  secret = file("secrets/ps.key")
}`, []wantDiag{{E, "Invalid function argument", 3, 18, `cannot read "secrets/ps.key": there is no file`}}},
		{"unknown function", `
service_account "ps-test" {
  secret = evn("PS_API_KEY")
}`, []wantDiag{{E, "Call to unknown function", 3, 12, `Did you mean "env"?`}}},
		{"variable outside a template", `
resource "srv02" {
  platform = "windows"
  domain   = resource.srv01.domain
}`, []wantDiag{{E, "Variables not allowed", 4, 14, ""}}},
		{"account template attribute typo", `
activity "restart" {
  platform  = "windows"
  connector = connector.ps-prod
  account   = "${resource.domain}\\svc-${requester.nmae}"
}`, []wantDiag{{E, "Unsupported attribute", 5, 42, `Did you mean "name"?`}}},
		{"account template unknown variable", `
activity "restart" {
  platform  = "windows"
  connector = connector.ps-prod
  account   = "${resorce.domain}\\svc"
}`, []wantDiag{{E, "Unknown variable", 5, 18, `Did you mean "resource"?`}}},
		{"account template env", `
activity "restart" {
  platform  = "windows"
  connector = connector.ps-prod
  account   = env("ACCOUNT")
}`, []wantDiag{{E, "Call to unknown function", 5, 15, `no function named "env"`}}},
		{"account template of the wrong type", `
activity "restart" {
  platform  = "windows"
  connector = connector.ps-prod
  account   = requester.groups
}`, []wantDiag{{E, "Incorrect attribute value type", 5, 15, "string required"}}},
		{"account template with empty user name", `
activity "restart" {
  platform  = "windows"
  connector = connector.ps-prod
  account   = "CORP\\"
}`, []wantDiag{{E, "Empty account name", 5, 15, "has no user name"}}},
		{"account template reads a tag a paired resource lacks", `
activity "linux-root" {
  platform  = "linux"
  connector = connector.ps-prod
  account   = "${resource.tags.env}\\root"
}
resource "db02" { platform = "linux" }
access_policy "dbs" {
  connection_profile = connection_profile.default
  users              = ["alice"]
  activities         = [activity.linux-root]
  resources          = [resource.db01, resource.db02]
}`, []wantDiag{{E, "Missing map element", 5, 31, `for resource "db02", which access policy "dbs"`}}},
		{"undeclared user", `
access_policy "more" {
  connection_profile = connection_profile.default
  users              = ["alcie", user.bob, user.carol]
  activities         = [activity.domain-admin]
  resources          = [resource.srv01]
}`, []wantDiag{
			{E, "Reference to undeclared user", 4, 25, `Did you mean "alice"?`},
			{E, "Reference to undeclared user", 4, 44, `no user block named "carol"`},
		}},
		{"duplicate entries", `
access_policy "more" {
  connection_profile = connection_profile.default
  users              = ["alice", user.alice]
  activities         = [activity.domain-admin]
  resources          = [resource.srv01, resource.srv01]
}`, []wantDiag{
			{W, "Duplicate entry", 4, 34, `users lists "alice" twice (first at byov.hcl:44,25)`},
			{W, "Duplicate entry", 6, 41, `resources lists "srv01" twice`},
		}},
		{"group with no members", `
access_policy "more" {
  connection_profile = connection_profile.default
  users              = ["group:domain-admin"]
  activities         = [activity.domain-admin]
  resources          = [resource.srv01]
}`, []wantDiag{{W, "Group with no members", 4, 25, `Did you mean "domain-admins"?`}}},
		{"policy missing attributes", `
access_policy "more" {
  users = ["alice"]
}`, []wantDiag{
			{E, "Missing required argument", 2, 22, `"connection_profile" is required`},
			{E, "Missing required argument", 2, 22, `"activities" is required`},
			{E, "Missing required argument", 2, 22, `"resources" is required`},
		}},
		{"policy that allows nothing", `
access_policy "more" {
  connection_profile = connection_profile.default
  users              = []
  activities         = [activity.domain-admin]
  resources          = [resource.srv01]
}`, []wantDiag{{W, "Access policy allows nothing", 2, 1, "at least one user"}}},
		{"unsupported policy type", `
access_policy "more" {
  type               = "group"
  connection_profile = connection_profile.default
  users              = ["alice"]
  activities         = [activity.domain-admin]
  resources          = [resource.srv01]
}`, []wantDiag{{E, "Unsupported access policy type", 3, 24, `not "group"`}}},
		{"duplicate server block", `
server {}
server {}`, []wantDiag{{E, "Duplicate server block", 3, 1, "byov.hcl:42,1"}}},
		{"tls certificate without key", `
server {
  tls_cert_file = "cert.pem"
}`, []wantDiag{{E, "Missing tls_key_file", 3, 3, "both files or neither"}}},
		{"bad listen address", `
server {
  listen = "8443"
}`, []wantDiag{{E, "Invalid listen address", 3, 12, "host:port"}}},
		{"syntax error", `
resource "srv02" {
  platform = "windows
}`, []wantDiag{{E, "Invalid multi-line string", 3, 22, ""}, {E, "Unterminated template string", 3, 22, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := prelude + strings.TrimPrefix(tt.src, "\n")
			cfg, diags := Load([]byte(src), "byov.hcl", testOptions(t))
			// The case's first line follows the prelude.
			offset := preludeLines - 1
			if len(diags) != len(tt.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(diags), len(tt.want), diagString(diags))
			}
			for i, w := range tt.want {
				d := diags[i]
				if d.Severity != w.severity || d.Summary != w.summary || !strings.Contains(d.Detail, w.detail) {
					t.Errorf("diagnostic %d:\n got %s\nwant %v %q containing %q", i, diagString(hcl.Diagnostics{d}), w.severity, w.summary, w.detail)
				}
				if d.Subject == nil {
					t.Errorf("diagnostic %d has no position", i)
					continue
				}
				if d.Subject.Filename != "byov.hcl" || d.Subject.Start.Line != w.line+offset || d.Subject.Start.Column != w.column {
					t.Errorf("diagnostic %d %q at %d:%d, want %d:%d (in the case)", i, d.Summary, d.Subject.Start.Line-offset, d.Subject.Start.Column, w.line, w.column)
				}
			}
			if diags.HasErrors() != (cfg == nil) {
				t.Errorf("config is %v with errors %v", cfg, diags.HasErrors())
			}
		})
	}
}

// All problems come out of one pass, in file order.
func TestDiagnosticsAllAtOnce(t *testing.T) {
	src := `server { listen = "nowhere" }
plugin "x" { version = "?" }
resource "a" {
  platform = "windows"
  tagz     = {}
}
connection_profile "p" { max_session_duration = "forever" }
activity "b" {
  platform      = "linux"
  login_account = "vault"
}
access_policy "c" {
  connection_profile = connection_profile.q
  users              = ["nobody"]
  activities         = [activity.b]
  resources          = [resource.a]
}
`
	_, diags := Load([]byte(src), "byov.hcl", LoadOptions{})
	want := []string{
		"1: Invalid listen address",
		"2: Invalid version constraint",
		"5: Unsupported argument",
		"7: Invalid duration",
		"10: Missing connector",
		"10: Missing account",
		"13: Reference to undeclared connection profile",
		"14: Reference to undeclared user",
		"16: Platform mismatch",
	}
	var got []string
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%d: %s", d.Subject.Start.Line, d.Summary))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestExample(t *testing.T) {
	opts := testOptions(t)
	opts.BaseDir = ""
	cfg, diags := LoadFile("../examples/byov.hcl", opts)
	if len(diags) > 0 {
		t.Fatalf("examples/byov.hcl:\n%s", diagString(diags))
	}
	c := cfg.Connectors["ps-prod"]
	if c.Plugin != "passwordsecure" || c.ServiceAccount != "ps-api" || !c.ConfigChecked ||
		c.Config["api_url"] != "https://ps.example.com:5443/api" || c.Config["ca_file"] != "ps-ca.pem" {
		t.Errorf("connector: %+v", c)
	}
	if sa := cfg.ServiceAccounts["ps-api"]; sa.Username != "NPS" || sa.Secret.Reveal() != "key-from-env" {
		t.Errorf("service account: %+v", sa)
	}
	if p := cfg.Plugins["passwordsecure"]; p.Version != ">= 1.0.0" || p.Constraints == nil {
		t.Errorf("plugin: %+v", p)
	}
	if p := cfg.ConnectionProfiles["default"]; p.MaxSessionDuration != 2*time.Hour || !p.AllowPasswordAccess {
		t.Errorf("profile: %+v", p)
	}
	if r := cfg.Resources["srv01"]; r.Platform != "windows" || r.Address != "srv01.corp.example.com" || r.Domain != "CORP" {
		t.Errorf("resource: %+v", r)
	}
	if a := cfg.Activities["domain-admin"]; a.Connector != "ps-prod" || a.LoginAccount != LoginVault || a.Type != "interactive" {
		t.Errorf("activity: %+v", a)
	}
	if len(cfg.AccessPolicies) != 1 {
		t.Fatalf("policies: %+v", cfg.AccessPolicies)
	}
	p := cfg.AccessPolicies[0]
	if p.Name != "admins" || p.ConnectionProfile != "default" || strings.Join(p.Users, ",") != "group:domain-admins" ||
		strings.Join(p.Activities, ",") != "domain-admin" || strings.Join(p.Resources, ",") != "srv01" {
		t.Errorf("policy: %+v", p)
	}
	dir, _ := filepath.Abs("..")
	if cfg.Server.Listen != "127.0.0.1:8443" || cfg.Server.DataDir != filepath.Join(dir, "data") ||
		cfg.Server.PluginDir != filepath.Join(dir, "bin", "plugins") || cfg.Server.PluginStartTimeout != DefaultPluginStartTimeout {
		t.Errorf("server: %+v", cfg.Server)
	}

	// Without plugins at hand (byov config validate), the config block is
	// taken as written, with one warning.
	opts.SchemaFunc, opts.KnownPluginTypes = nil, nil
	cfg, diags = LoadFile("../examples/byov.hcl", opts)
	if cfg == nil || len(diags) != 1 || diags[0].Summary != "Connector config not checked" || diags[0].Severity != hcl.DiagWarning {
		t.Fatalf("without schemas: %s", diagString(diags))
	}
	if c := cfg.Connectors["ps-prod"]; c.ConfigChecked || c.Config["ca_file"] != "ps-ca.pem" {
		t.Errorf("unchecked connector: %+v", c)
	}
}

func TestSchemaError(t *testing.T) {
	opts := testOptions(t)
	opts.SchemaFunc = func(string) ([]sdk.Attribute, error) { return nil, fmt.Errorf("plugin did not start") }
	cfg, diags := Load([]byte(prelude), "byov.hcl", opts)
	if cfg == nil || len(diags) != 1 || !strings.Contains(diags[0].Detail, "plugin did not start") || diags[0].Subject.Start.Line != 7 {
		t.Fatalf("diagnostics: %s", diagString(diags))
	}
}

func TestConnectorConfigValues(t *testing.T) {
	src := prelude + `connector "ps-test" {
  plugin = "passwordsecure"
  config {
    api_url         = "https://ps.example.com/api"
    skip_cert_check = true
    timeout         = "45s"
    cache_ttl       = "0s"
    retries         = 3
    fields          = ["Password", "Notes"]
    client_key      = file("client.key")
    ca_file         = null
  }
}
`
	opts := testOptions(t)
	if err := os.WriteFile(filepath.Join(opts.BaseDir, "client.key"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load([]byte(src), "byov.hcl", opts)
	if len(diags) > 0 {
		t.Fatal(diagString(diags))
	}
	got := fmt.Sprintf("%#v", cfg.Connectors["ps-test"].Config)
	want := fmt.Sprintf("%#v", map[string]any{
		"api_url": "https://ps.example.com/api", "skip_cert_check": true, "timeout": "45s", "cache_ttl": "0s",
		"retries": float64(3), "fields": []any{"Password", "Notes"}, "client_key": "s3cret",
	})
	if got != want {
		t.Errorf("config\n got %s\nwant %s", got, want)
	}
	if r := cfg.Connectors["ps-test"].ConfigRanges["timeout"]; r.Start.Line != preludeLines+6 {
		t.Errorf("range of timeout: %v", r)
	}
}

func TestEnvAndFile(t *testing.T) {
	opts := testOptions(t)
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(opts.BaseDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("keys/ps.key", "from-file\r\n")
	write("big", strings.Repeat("x", maxFileSize+1))
	write("binary", "\xff\xfe")
	abs := filepath.Join(opts.BaseDir, "keys", "ps.key")
	tests := []struct {
		expr    string
		want    string
		summary string
		detail  string
	}{
		{expr: `env("PS_API_KEY")`, want: "key-from-env"},
		{expr: `file("keys/ps.key")`, want: "from-file"},
		{expr: fmt.Sprintf("file(%q)", abs), want: "from-file"},
		{expr: `"${env("PS_API_KEY")}-x"`, want: "key-from-env-x"},
		{expr: `env("NOPE")`, summary: "Invalid function argument", detail: `the environment variable "NOPE" is not set`},
		{expr: `env("")`, summary: "Invalid function argument", detail: "empty"},
		{expr: `env()`, summary: "Not enough function arguments", detail: `"name"`},
		{expr: `file("keys/nope.key")`, summary: "Invalid function argument", detail: `cannot read "keys/nope.key": there is no file ` + filepath.Join(opts.BaseDir, "keys", "nope.key")},
		{expr: `file("keys")`, summary: "Invalid function argument", detail: "is not a regular file"},
		{expr: `file("big")`, summary: "Invalid function argument", detail: "larger than"},
		{expr: `file("binary")`, summary: "Invalid function argument", detail: "not UTF-8"},
		{expr: `file(null)`, summary: "Invalid function argument", detail: "null"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			src := fmt.Sprintf("service_account \"x\" {\n  secret = %s\n}\n", tt.expr)
			cfg, diags := Load([]byte(src), "byov.hcl", opts)
			if tt.summary == "" {
				if len(diags) > 0 {
					t.Fatal(diagString(diags))
				}
				if got := cfg.ServiceAccounts["x"].Secret.Reveal(); got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary != tt.summary || !strings.Contains(diags[0].Detail, tt.detail) || diags[0].Subject.Start.Line != 2 {
				t.Errorf("got %s\nwant %q containing %q at line 2", diagString(diags), tt.summary, tt.detail)
			}
		})
	}
}

func TestAccount(t *testing.T) {
	src := prelude + `activity "per-tag" {
  platform  = "linux"
  connector = connector.ps-prod
  account   = "${upper(resource.tags.env)}\\${lower(requester.name)}-${resource.name}"
}
activity "local" {
  platform  = "linux"
  connector = connector.ps-prod
  account   = "root"
}
activity "by-group" {
  platform  = "linux"
  connector = connector.ps-prod
  account   = "${requester.groups[0]}\\${trimprefix(requester.name, "x-")}"
}
`
	cfg, diags := Load([]byte(src), "byov.hcl", testOptions(t))
	if diags.HasErrors() {
		t.Fatal(diagString(diags))
	}
	alice := Requester{Name: "Alice", Groups: []string{"domain-admins"}}
	tests := []struct {
		activity, resource string
		requester          Requester
		domain, user       string
		err                string
	}{
		{"domain-admin", "srv01", alice, "CORP", "adm-Alice", ""},
		{"domain-admin", "db01", Requester{Name: "bob"}, "CORP", "adm-bob", ""},
		{"per-tag", "db01", alice, "PROD", "alice-db01", ""},
		{"per-tag", "srv01", alice, "", "", "Missing map element"},
		{"by-group", "db01", Requester{Name: "x-carol", Groups: []string{"dba", "ops"}}, "dba", "carol", ""},
		{"by-group", "db01", Requester{Name: "x-carol"}, "", "", "Invalid index"},
		{"local", "db01", alice, "", "root", ""},
		{"db-login", "db01", alice, "CORP", "Alice", ""},
		{"db-login", "db01", Requester{}, "", "", "Empty account name"},
		{"domain-admin", "", alice, "", "", "No resource"},
	}
	for _, tt := range tests {
		t.Run(tt.activity+"/"+tt.resource, func(t *testing.T) {
			domain, user, diags := cfg.Activities[tt.activity].Account(tt.requester, cfg.Resources[tt.resource])
			if tt.err != "" {
				if !diags.HasErrors() || diags[0].Summary != tt.err {
					t.Fatalf("got %q %q %s, want error %q", domain, user, diagString(diags), tt.err)
				}
				return
			}
			if diags.HasErrors() || domain != tt.domain || user != tt.user {
				t.Errorf("got %q %q %s, want %q %q", domain, user, diagString(diags), tt.domain, tt.user)
			}
		})
	}
}

// Sessions evaluate one template from many goroutines at once.
func TestAccountConcurrently(t *testing.T) {
	cfg, diags := Load([]byte(prelude), "byov.hcl", testOptions(t))
	if diags.HasErrors() {
		t.Fatal(diagString(diags))
	}
	act, res := cfg.Activities["domain-admin"], cfg.Resources["srv01"]
	errs := make(chan string, 8)
	for i := range 8 {
		go func() {
			name := fmt.Sprintf("user%d", i)
			for range 200 {
				domain, user, diags := act.Account(Requester{Name: name}, res)
				if diags.HasErrors() || domain != "CORP" || user != "adm-"+name {
					errs <- fmt.Sprintf("%s: got %q %q %s", name, domain, user, diagString(diags))
					return
				}
			}
			errs <- ""
		}()
	}
	for range 8 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}

func TestWriteDiagnostics(t *testing.T) {
	src := prelude + `resource "srv02" {
  platform = "windows"
  adress   = "srv02"
}
`
	_, diags := Load([]byte(src), "byov.hcl", testOptions(t))
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, map[string][]byte{"byov.hcl": []byte(src)}, diags, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Error: Unsupported argument",
		fmt.Sprintf("on byov.hcl line %d, in resource \"srv02\":", preludeLines+3),
		`adress   = "srv02"`,
		`Did you mean "address"?`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// From a file on disk, the source comes from the file.
	path := filepath.Join(t.TempDir(), "byov.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, diags = LoadFile(path, testOptions(t))
	buf.Reset()
	if err := WriteDiagnostics(&buf, nil, diags, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `adress   = "srv02"`) {
		t.Errorf("no source line:\n%s", buf.String())
	}

	_, diags = LoadFile(filepath.Join(t.TempDir(), "missing.hcl"), LoadOptions{})
	if len(diags) != 1 || diags[0].Summary != "Cannot read the configuration file" {
		t.Errorf("missing file: %s", diagString(diags))
	}
}

func diagString(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		pos := "?"
		if d.Subject != nil {
			pos = fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)
		}
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		fmt.Fprintf(&b, "  %s %s %s: %s\n", pos, sev, d.Summary, d.Detail)
	}
	return b.String()
}
