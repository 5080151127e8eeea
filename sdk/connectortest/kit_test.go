package connectortest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/byov/byov/sdk"
	"github.com/byov/byov/sdk/connectortest/internal/broken/ambiguous"
	"github.com/byov/byov/sdk/connectortest/internal/broken/emptyrequired"
	"github.com/byov/byov/sdk/connectortest/internal/broken/leakerror"
	"github.com/byov/byov/sdk/connectortest/internal/broken/leakfail"
	"github.com/byov/byov/sdk/connectortest/internal/broken/leaklog"
	"github.com/byov/byov/sdk/connectortest/internal/broken/newline"
	"github.com/byov/byov/sdk/connectortest/internal/broken/nocheckin"
	"github.com/byov/byov/sdk/connectortest/internal/broken/nocontext"
	"github.com/byov/byov/sdk/connectortest/internal/broken/nodelete"
	"github.com/byov/byov/sdk/connectortest/internal/broken/nofindings"
	"github.com/byov/byov/sdk/connectortest/internal/broken/notfound"
	"github.com/byov/byov/sdk/connectortest/internal/broken/racy"
	"github.com/byov/byov/sdk/connectortest/internal/broken/undescribed"
	"github.com/byov/byov/sdk/connectortest/internal/memvault"
)

// connectors are the connectors the test binary can serve as a plugin.
var connectors = map[string]sdk.Connector{
	"memvault":      memvault.Connector{},
	"notfound":      notfound.Connector{},
	"ambiguous":     ambiguous.Connector{},
	"newline":       newline.Connector{},
	"nocontext":     nocontext.Connector{},
	"leakerror":     leakerror.Connector{},
	"leakfail":      leakfail.Connector{},
	"leaklog":       leaklog.Connector{},
	"racy":          racy.Connector{},
	"nocheckin":     nocheckin.Connector{},
	"nodelete":      nodelete.Connector{},
	"emptyrequired": emptyrequired.Connector{},
	"undescribed":   undescribed.Connector{},
	"nofindings":    nofindings.Connector{},
}

// TestMain doubles as the plugin: started by go-plugin (which sets the magic
// cookie even without the host's environment) with "serve <name>", the test
// binary serves that connector. That spares a build per broken connector,
// and the plugin has the race detector exactly when the tests do.
func TestMain(m *testing.M) {
	if os.Getenv(sdk.Handshake.MagicCookieKey) == sdk.Handshake.MagicCookieValue && len(os.Args) == 3 && os.Args[1] == "serve" {
		c, ok := connectors[os.Args[2]]
		if !ok {
			fmt.Fprintf(os.Stderr, "no connector %q\n", os.Args[2])
			os.Exit(1)
		}
		sdk.Serve(c)
		return
	}
	os.Exit(m.Run())
}

const (
	foundPW   = "Found-Secret-4711!x"
	serviceSK = "Service-Key-0815?q"
	tokenVal  = "Sensitive-Token-42#z"
)

// seed writes a memvault file with one account, an ambiguous pair and the
// service secret.
func seed(t testing.TB) (Fixture, error) {
	path := filepath.Join(t.TempDir(), "vault.json")
	b, err := json.Marshal(memvault.File{ServiceSecret: serviceSK, Entries: []memvault.Entry{
		{Domain: "CORP", Username: "alice", Password: foundPW},
		{Domain: "CORP", Username: "dup", Password: "Dup-One-Secret"},
		{Domain: "CORP", Username: "dup", Password: "Dup-Two-Secret"},
	}})
	if err != nil {
		return Fixture{}, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return Fixture{}, err
	}
	return Fixture{
		Config:         map[string]any{"file": path, "token": tokenVal},
		ServiceAccount: sdk.ServiceAccount{Username: "svc", Secret: serviceSK},
		Found:          sdk.Account{Domain: "CORP", Username: "alice"},
		FoundSecret:    foundPW,
		Absent:         sdk.Account{Domain: "CORP", Username: "nobody"},
		Ambiguous:      sdk.Account{Domain: "corp", Username: "DUP"},
		Secrets:        []sdk.Secret{"Dup-One-Secret", "Dup-Two-Secret"},
	}, nil
}

// harness serves the named connector from the test binary itself.
func harness(name string) Harness {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return Harness{Binary: exe, args: []string{"serve", name}, Connector: connectors[name], Seed: seed}
}

func TestGoodConnectorPasses(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Harness
	}{
		{"binary", harness("memvault")},
		// The package path as an author gives it: the kit builds it.
		{"package", Harness{Package: "github.com/byov/byov/sdk/connectortest/internal/memvault/plugin", Connector: memvault.Connector{}, Seed: seed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := record(t, tc.h)
			if f := rec.failures(); len(f) > 0 {
				t.Fatalf("the kit failed a correct connector:\n%s", strings.Join(f, "\n"))
			}
			for _, tr := range []string{"process", "in-process"} {
				for _, c := range Cases {
					if !rec.ran(tr+"/"+c) && !(c == CaseContext && tr == "process") {
						t.Errorf("case %s/%s did not run", tr, c)
					}
				}
			}
			if !rec.skippedWith("process/"+CaseContext, "in-process run") {
				t.Errorf("the process run did not say where the context case runs")
			}
			if !rec.logged("passed 10 [") || !rec.logged("in-process: passed 11 [") {
				t.Errorf("the summary does not count the passed cases:\n%s", strings.Join(rec.logs(), "\n"))
			}
		})
	}
}

// TestBrokenConnectorsFail runs the kit against connectors that each break
// one case, and checks that exactly that case fails, with a message that
// says what to fix.
func TestBrokenConnectorsFail(t *testing.T) {
	for _, tc := range []struct {
		connector string
		// fails maps each case that must fail (in either run) to a piece of
		// its message.
		fails       map[string]string
		processOnly bool
		needsRace   bool
	}{
		{connector: "undescribed", fails: map[string]string{
			CaseMetadata: `config attribute "token" has no Description`}},
		{connector: "emptyrequired", fails: map[string]string{
			CaseConfigureRequired: `Configure with the required attribute "file" set to "" succeeded; refuse an empty value`}},
		{connector: "newline", fails: map[string]string{
			CaseCheckoutFound: "it differs only in white space",
			// The other cases that compare secrets notice it too.
			CaseConcurrency:        "returned a wrong secret",
			CaseCapabilityAccounts: "after Put, Checkout of CORP\\connectortest-"}},
		{connector: "notfound", fails: map[string]string{
			CaseCheckoutNotFound: "returned code Internal (lookup failed); return sdk.Errorf(sdk.CodeNotFound",
			// So do the others that expect NotFound.
			CaseConcurrency:        "returned code Internal",
			CaseCapabilityAccounts: "after Delete, Checkout of CORP\\connectortest-"}},
		{connector: "ambiguous", fails: map[string]string{
			CaseCheckoutAmbiguous: "which matches several entries, returned a credential"}},
		{connector: "nocontext", fails: map[string]string{
			CaseContext: "Checkout with a context that was already cancelled returned the credential"}},
		{connector: "racy", processOnly: true, needsRace: true, fails: map[string]string{
			CaseConcurrency: "the plugin process reported a data race"}},
		{connector: "nofindings", fails: map[string]string{
			CaseCheck: "Check returned no findings"}},
		{connector: "nocheckin", fails: map[string]string{
			CaseCapabilityCheckin: "implement sdk.Checkiner"}},
		{connector: "nodelete", fails: map[string]string{
			CaseCapabilityAccounts: "after Delete, Checkout of CORP\\connectortest-"}},
		{connector: "leakerror", fails: map[string]string{
			CaseSecrets: "the service account's secret appears in an error message"}},
		{connector: "leaklog", fails: map[string]string{
			CaseSecrets: "Fixture.FoundSecret appears in the connector's log"}},
		// The cases before secrets print the leaking error, redacted.
		{connector: "leakfail", fails: map[string]string{
			CaseCheckoutNotFound:   `returned code Internal (lookup of CORP\nobody as svc with key [redacted] failed)`,
			CaseConcurrency:        "with key [redacted] failed",
			CaseCapabilityAccounts: "with key [redacted] failed",
			CaseSecrets:            "the service account's secret appears in an error message"}},
	} {
		t.Run(tc.connector, func(t *testing.T) {
			if tc.needsRace && !raceEnabled {
				t.Skip("a data race is only seen with -race")
			}
			h := harness(tc.connector)
			h.processOnly = tc.processOnly
			rec := record(t, h)
			failed := map[string]bool{}
			for _, f := range rec.failedCases() {
				_, c, _ := strings.Cut(f, "/")
				failed[c] = true
				if _, want := tc.fails[c]; !want {
					t.Errorf("case %s failed too, but the connector only breaks %v:\n%s", f, keys(tc.fails), rec.messages(f))
				}
			}
			for c, msg := range tc.fails {
				if !failed[c] {
					t.Errorf("the kit did not fail case %s", c)
					continue
				}
				if !rec.said(c, msg) {
					t.Errorf("case %s failed without saying %q; it said:\n%s", c, msg, rec.messages("process/"+c)+rec.messages("in-process/"+c))
				}
			}
			if !rec.logged("failed ") {
				t.Errorf("no summary line")
			}
			for _, secret := range []string{foundPW, serviceSK, tokenVal, "Dup-One-Secret", "Dup-Two-Secret"} {
				for _, m := range rec.all() {
					if _, leaked := findSecret(m, secret); leaked {
						t.Errorf("the kit printed a secret: %s", m)
					}
				}
			}
		})
	}
}

// TestNameMismatch: a binary whose file name says another type is refused
// by the host, and so by the kit.
func TestNameMismatch(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "byov-connector-other_1.0.0")
	if err := os.Symlink(exe, link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	h := harness("memvault")
	h.Binary = link
	h.processOnly = true
	rec := record(t, h)
	if !rec.said(CaseMetadata, `the binary is named byov-connector-other_1.0.0 but Metadata().Type is "memvault"`) {
		t.Errorf("the kit accepted a misnamed binary:\n%s", rec.messages("process/"+CaseMetadata))
	}
}

func TestHarnessMistakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Harness)
		want string
	}{
		{"unknown skip", func(h *Harness) { h.Skip = map[string]string{"checkout/ambigous": "x"} }, `Harness.Skip names "checkout/ambigous", which is not a case`},
		{"skip without reason", func(h *Harness) { h.Skip = map[string]string{CaseCheck: " "} }, "has no reason"},
		{"no binary", func(h *Harness) { h.Binary = "" }, "set Harness.Binary"},
		{"no seed", func(h *Harness) { h.Seed = nil }, "set Harness.Seed"},
		{"no ambiguous account", func(h *Harness) {
			h.Seed = func(t testing.TB) (Fixture, error) {
				f, err := seed(t)
				f.Ambiguous = sdk.Account{}
				return f, err
			}
		}, `Fixture.Ambiguous is empty: seed two entries that both match one account and name it there, or, if the vault cannot hold such entries, set Harness.Skip["checkout/ambiguous"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := harness("memvault")
			h.processOnly = true
			tc.edit(&h)
			rec := record(t, h)
			if !rec.saidAnywhere(tc.want) {
				t.Errorf("the kit did not say %q; it said:\n%s", tc.want, strings.Join(rec.all(), "\n"))
			}
		})
	}
}

func TestSkipIsReported(t *testing.T) {
	h := harness("memvault")
	h.processOnly = true
	h.Skip = map[string]string{CaseCheckoutAmbiguous: "paths are unique"}
	rec := record(t, h)
	if f := rec.failures(); len(f) > 0 {
		t.Fatalf("failures: %v", f)
	}
	if !rec.skippedWith("process/"+CaseCheckoutAmbiguous, "skipped by Harness.Skip: paths are unique") {
		t.Error("the skipped case does not give the reason")
	}
	if !rec.logged("checkout/ambiguous (paths are unique)") {
		t.Errorf("the summary does not list the skip with its reason:\n%s", strings.Join(rec.logs(), "\n"))
	}
}

func TestCasesMatchTable(t *testing.T) {
	if len(table) != len(Cases) {
		t.Fatalf("%d cases in the table, %d in Cases", len(table), len(Cases))
	}
	for i, c := range table {
		if c.name != Cases[i] {
			t.Errorf("table[%d] is %s, Cases[%d] is %s", i, c.name, i, Cases[i])
		}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// recorder is a testing.TB that records instead of failing, so that the
// kit's own tests can assert on what it reports. Fatal and Skip end the
// calling goroutine as they do in package testing; Run starts one per
// subtest for that reason.
type recorder struct {
	testing.TB // the real test, for TempDir, Cleanup and Context
	name       string
	root       *recording
	mu         sync.Mutex
	failed     bool
	skipped    bool
}

type recording struct {
	mu      sync.Mutex
	entries []entry
	// subtests records every subtest Run started, by full name, and
	// whether it ended skipped.
	subtests map[string]bool
}

type entry struct {
	test, kind, msg string
}

func record(t *testing.T, h Harness) *recording {
	r := &recorder{TB: t, root: &recording{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(r, h)
	}()
	<-done
	return r.root
}

func (r *recorder) add(kind, msg string) {
	r.root.mu.Lock()
	defer r.root.mu.Unlock()
	r.root.entries = append(r.root.entries, entry{r.name, kind, msg})
}

func (r *recorder) Helper()                    {}
func (r *recorder) Name() string               { return r.name }
func (r *recorder) Log(args ...any)            { r.add("log", fmt.Sprintln(args...)) }
func (r *recorder) Logf(f string, args ...any) { r.add("log", fmt.Sprintf(f, args...)) }
func (r *recorder) Error(args ...any)          { r.Fail(); r.add("error", fmt.Sprintln(args...)) }
func (r *recorder) Errorf(f string, args ...any) {
	r.Fail()
	r.add("error", fmt.Sprintf(f, args...))
}
func (r *recorder) Fatal(args ...any)            { r.Error(args...); runtime.Goexit() }
func (r *recorder) Fatalf(f string, args ...any) { r.Errorf(f, args...); runtime.Goexit() }
func (r *recorder) FailNow()                     { r.Fail(); runtime.Goexit() }
func (r *recorder) Fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}
func (r *recorder) Skip(args ...any)            { r.add("skip", fmt.Sprintln(args...)); r.SkipNow() }
func (r *recorder) Skipf(f string, args ...any) { r.add("skip", fmt.Sprintf(f, args...)); r.SkipNow() }
func (r *recorder) SkipNow() {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

func (r *recorder) Run(name string, f func(tester)) bool {
	child := &recorder{TB: r.TB, name: strings.TrimPrefix(r.name+"/"+name, "/"), root: r.root}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(child)
	}()
	<-done
	r.root.mu.Lock()
	if r.root.subtests == nil {
		r.root.subtests = map[string]bool{}
	}
	r.root.subtests[child.name] = child.Skipped()
	r.root.mu.Unlock()
	if child.Failed() {
		r.Fail()
	}
	return !child.Failed()
}

func (rec *recording) snapshot() []entry {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]entry(nil), rec.entries...)
}

func (rec *recording) failures() []string {
	var out []string
	for _, e := range rec.snapshot() {
		if e.kind == "error" {
			out = append(out, e.test+": "+e.msg)
		}
	}
	return out
}

func (rec *recording) failedCases() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range rec.snapshot() {
		if e.kind == "error" && !seen[e.test] {
			seen[e.test] = true
			out = append(out, e.test)
		}
	}
	return out
}

// ran reports whether the subtest named test (in full, such as
// "process/check") was run and not skipped.
func (rec *recording) ran(test string) bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	skipped, ok := rec.subtests[test]
	return ok && !skipped
}

func (rec *recording) said(c, msg string) bool {
	for _, e := range rec.snapshot() {
		if e.kind == "error" && strings.HasSuffix(e.test, "/"+c) && strings.Contains(e.msg, msg) {
			return true
		}
	}
	return false
}

func (rec *recording) saidAnywhere(msg string) bool {
	for _, e := range rec.snapshot() {
		if strings.Contains(e.msg, msg) {
			return true
		}
	}
	return false
}

func (rec *recording) skippedWith(test, reason string) bool {
	for _, e := range rec.snapshot() {
		if e.kind == "skip" && e.test == test && strings.Contains(e.msg, reason) {
			return true
		}
	}
	return false
}

func (rec *recording) logs() []string {
	var out []string
	for _, e := range rec.snapshot() {
		if e.kind == "log" {
			out = append(out, e.msg)
		}
	}
	return out
}

func (rec *recording) logged(s string) bool {
	for _, l := range rec.logs() {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func (rec *recording) messages(test string) string {
	var b strings.Builder
	for _, e := range rec.snapshot() {
		if e.test == test {
			fmt.Fprintf(&b, "  %s %s: %s\n", e.kind, e.test, strings.TrimSpace(e.msg))
		}
	}
	return b.String()
}

func (rec *recording) all() []string {
	var out []string
	for _, e := range rec.snapshot() {
		out = append(out, e.kind+" "+e.test+": "+e.msg)
	}
	return out
}
