package config

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/byov/byov/sdk"
	"github.com/hashicorp/hcl/v2"
)

// Run it with a short minimization budget: minimizing a prelude-sized input
// takes most of a short run otherwise, which looks like a hang.
//
//	go test -run XXX -fuzz FuzzLoad -fuzztime 30s -fuzzminimizetime 100x ./config/
//
// FuzzLoad checks that no input makes the loader, the account template or
// the diagnostics writer panic, and that errors always come with a position.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(prelude))
	if example, err := os.ReadFile("../examples/byov.hcl"); err == nil {
		f.Add(example)
	}
	f.Add([]byte(`activity "a" { account = "${resource.tags.x}\\${requester.groups[0]}" }`))
	f.Add([]byte(`connector "c" { config { x = [1, null, {}] } }`))
	f.Add([]byte(`service_account "s" { secret = file("/dev/zero") }`))
	f.Add([]byte(`access_policy "p" { users = [user.a, "group:", null] }`))
	dir := f.TempDir()
	opts := LoadOptions{
		SchemaFunc:       func(string) ([]sdk.Attribute, error) { return testSchema, nil },
		KnownPluginTypes: func() []string { return []string{"passwordsecure"} },
		LookupEnv:        func(name string) (string, bool) { return "v", name == "A" },
		BaseDir:          dir,
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		watchdog := time.AfterFunc(10*time.Second, func() {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			panic("slow input: " + string(buf[:n]))
		})
		defer watchdog.Stop()
		cfg, diags := Load(src, "byov.hcl", opts)
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Subject == nil {
				t.Errorf("error without a position: %s: %s", d.Summary, d.Detail)
			}
		}
		var sb strings.Builder
		if err := WriteDiagnostics(&sb, map[string][]byte{"byov.hcl": src}, diags, false); err != nil {
			t.Error(err)
		}
		if cfg == nil {
			return
		}
		for _, a := range cfg.Activities {
			for _, r := range cfg.Resources {
				a.Account(Requester{Name: "alice", Groups: []string{"g"}}, r)
			}
		}
	})
}
