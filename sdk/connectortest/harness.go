package connectortest

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byov/byov/sdk"
)

// Harness is what a connector author gives the kit: a way to start the
// connector and a way to seed a vault with a few accounts.
type Harness struct {
	// Binary is the path of a built connector binary. When its file name is
	// byov-connector-<type>[_<version>], the kit also checks that the name
	// agrees with the metadata, as the host does.
	Binary string
	// Package is a package to build with `go build` instead, such as "."
	// or "example.com/me/byov-connector-x". It is built once per test
	// binary (with -race when the tests run with -race).
	Package string
	// Connector is the same connector as a Go value. The kit serves it in
	// process over go-plugin's gRPC test connection, and calls its instances
	// directly for the context case.
	Connector sdk.Connector
	// Seed creates a fresh vault holding the fixture's accounts and returns
	// how to configure an instance for it. It is called once per transport,
	// so that no run sees another's changes.
	Seed func(t testing.TB) (Fixture, error)
	// Skip names cases the connector cannot support, each with the reason,
	// e.g. {"checkout/ambiguous": "paths are unique, so no two entries can match"}.
	// The reason is reported. Cases lists the names.
	Skip map[string]string
	// CallTimeout bounds each call the kit makes; 10s when zero.
	CallTimeout time.Duration

	// args are passed to the binary; the kit's own tests use them to run
	// the test binary itself as a plugin.
	args []string
	// processOnly leaves out the in-process run, for a connector whose
	// data race would fail the kit's own test process.
	processOnly bool
}

// Fixture is a seeded vault: the config of an instance for it and the
// accounts the cases use.
type Fixture struct {
	// Config holds the instance's config {} values as the host sends them:
	// string, float64, bool, []string, durations as strings like "30s".
	Config map[string]any
	// ServiceAccount logs the instance in to its vault.
	ServiceAccount sdk.ServiceAccount
	// Found is an account in the vault, and FoundSecret its password.
	Found       sdk.Account
	FoundSecret sdk.Secret
	// Absent is an account that is not in the vault.
	Absent sdk.Account
	// Ambiguous is an account that matches several entries. Leave it zero,
	// and name "checkout/ambiguous" in Harness.Skip, when the vault cannot
	// hold such a thing.
	Ambiguous sdk.Account
	// Secrets are further values that must never appear in an error or a
	// log line. FoundSecret, the service account's secret and the values of
	// sensitive config attributes are always checked.
	Secrets []sdk.Secret
}

// The names of the cases, for Harness.Skip and in the report.
const (
	CaseMetadata           = "metadata"
	CaseConfigureRequired  = "configure/required"
	CaseCheckoutFound      = "checkout/found"
	CaseCheckoutNotFound   = "checkout/not-found"
	CaseCheckoutAmbiguous  = "checkout/ambiguous"
	CaseContext            = "context"
	CaseConcurrency        = "concurrency"
	CaseCheck              = "check"
	CaseCapabilityCheckin  = "capability/checkin"
	CaseCapabilityAccounts = "capability/accounts"
	CaseSecrets            = "secrets"
)

// Cases lists every case in the order the kit runs them. The secrets case
// comes last because it scans the errors and logs of all the others.
var Cases = []string{
	CaseMetadata, CaseConfigureRequired, CaseCheckoutFound, CaseCheckoutNotFound,
	CaseCheckoutAmbiguous, CaseContext, CaseConcurrency, CaseCheck,
	CaseCapabilityCheckin, CaseCapabilityAccounts, CaseSecrets,
}

// tester is what the kit needs of a *testing.T. The kit's own tests pass a
// recorder, so that they can assert on the failures the kit reports.
type tester interface {
	testing.TB
	Run(name string, f func(tester)) bool
}

// realT adapts *testing.T to tester.
type realT struct{ *testing.T }

func (r realT) Run(name string, f func(tester)) bool {
	return r.T.Run(name, func(t *testing.T) { f(realT{t}) })
}

// Run runs every case against the connector, through a plugin process and in
// process, each as a subtest named <transport>/<case>.
func Run(t *testing.T, h Harness) {
	t.Helper()
	run(realT{t}, h)
}

func run(t tester, h Harness) {
	t.Helper()
	if err := h.validate(); err != nil {
		t.Fatalf("connectortest: %v", err)
	}
	transports := []transport{processTransport{}}
	if !h.processOnly {
		transports = append(transports, inProcessTransport{})
	}
	var summaries []string
	for _, tr := range transports {
		rep := &report{}
		t.Run(tr.name(), func(t tester) {
			runTransport(t, h, tr, rep)
		})
		summaries = append(summaries, rep.summary(tr.name()))
	}
	t.Log("connectortest summary:\n" + strings.Join(summaries, "\n"))
}

func (h Harness) validate() error {
	if h.Binary == "" && h.Package == "" {
		return fmt.Errorf("set Harness.Binary to a built connector binary or Harness.Package to a package to build, such as \".\"")
	}
	if h.Binary != "" && h.Package != "" {
		return fmt.Errorf("set only one of Harness.Binary and Harness.Package")
	}
	if h.Connector == nil {
		return fmt.Errorf("set Harness.Connector to your connector value (the one main passes to sdk.Serve); the kit also runs it in process")
	}
	if h.Seed == nil {
		return fmt.Errorf("set Harness.Seed to a function that creates a vault with a few accounts and returns its Fixture")
	}
	known := map[string]bool{}
	for _, c := range Cases {
		known[c] = true
	}
	names := make([]string, 0, len(h.Skip))
	for name := range h.Skip {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !known[name] {
			return fmt.Errorf("Harness.Skip names %q, which is not a case; the cases are %s", name, strings.Join(Cases, ", "))
		}
		if strings.TrimSpace(h.Skip[name]) == "" {
			return fmt.Errorf("Harness.Skip[%q] has no reason; say why the connector cannot support it, for the report", name)
		}
	}
	return nil
}

func (h Harness) callTimeout() time.Duration {
	if h.CallTimeout > 0 {
		return h.CallTimeout
	}
	return 10 * time.Second
}

func (h Harness) command(path string) *exec.Cmd {
	return exec.Command(path, h.args...)
}

// report collects each case's outcome for the summary line.
type report struct {
	mu      sync.Mutex
	passed  []string
	failed  []string
	skipped []string
}

func (r *report) add(name string, t tester) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case t.Failed():
		r.failed = append(r.failed, name)
	case t.Skipped():
		r.skipped = append(r.skipped, name)
	default:
		r.passed = append(r.passed, name)
	}
}

func (r *report) skip(name, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skipped = append(r.skipped, name+" ("+reason+")")
}

func (r *report) summary(transport string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := func(s []string) string {
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("  %s: passed %d [%s]; skipped %d [%s]; failed %d [%s]",
		transport, len(r.passed), list(r.passed), len(r.skipped), list(r.skipped), len(r.failed), list(r.failed))
}
