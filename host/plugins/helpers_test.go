package plugins

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/internal/logbuffer"
	"github.com/byov/byov/sdk"
)

// variant is one build of the test connector.
type variant struct {
	file  string // name in the plugin directory
	flags map[string]string
}

var variants = map[string]variant{
	"v1.0.0":    {"byov-connector-test_1.0.0", map[string]string{"version": "1.0.0"}},
	"v1.1.0":    {"byov-connector-test_1.1.0", map[string]string{"version": "1.1.0"}},
	"crash":     {"byov-connector-test_1.2.0", map[string]string{"version": "1.2.0", "crashAtStart": "yes"}},
	"protocol2": {"byov-connector-test_2.0.0", map[string]string{"version": "2.0.0", "protocol": "2"}},
	"other":     {"byov-connector-other_1.0.0", map[string]string{"version": "1.0.0", "typeName": "other"}},
	"liar":      {"byov-connector-test_1.3.0", map[string]string{"version": "9.9.9"}},
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// built returns the path of a built variant, building them all once.
func built(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "byov-testconnector-")
		if buildErr != nil {
			return
		}
		for key, v := range variants {
			var ld []string
			for k, val := range v.flags {
				ld = append(ld, fmt.Sprintf("-X main.%s=%s", k, val))
			}
			out := filepath.Join(buildDir, key)
			cmd := exec.Command("go", "build", "-ldflags", strings.Join(ld, " "), "-o", out, "./internal/testconnector")
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building test connector %s: %v\n%s", key, err, b)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, name)
}

// install puts a variant into dir under its connector file name.
func install(t testing.TB, dir, name string) string {
	t.Helper()
	dst := filepath.Join(dir, variants[name].file)
	if err := os.Link(built(t, name), dst); err != nil {
		t.Fatalf("installing %s: %v", name, err)
	}
	return dst
}

type harness struct {
	dir  string
	mgr  *Manager
	logs *logbuffer.Buffer
}

// newHarness makes a plugin directory with the given variants and a manager
// over it; opt may adjust the options.
func newHarness(t testing.TB, names []string, opt func(*Options)) *harness {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		install(t, dir, n)
	}
	logs := &logbuffer.Buffer{}
	opts := Options{
		Dir:            dir,
		LockFile:       filepath.Join(dir, LockFileName),
		ExecDir:        filepath.Join(t.TempDir(), "exec"),
		StartTimeout:   20 * time.Second,
		DrainTimeout:   5 * time.Second,
		HealthInterval: time.Second,
		Logger:         hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}),
	}
	if opt != nil {
		opt(&opts)
	}
	mgr, err := NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Close)
	return &harness{dir: dir, mgr: mgr, logs: logs}
}

func (h *harness) instance(t testing.TB, typ, id string) *Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := h.mgr.Configure(ctx, typ, id, map[string]any{"label": id}, sdk.ServiceAccount{Username: "svc", Secret: "sa-secret-value"})
	if err != nil {
		t.Fatalf("configuring %s/%s: %v", typ, id, err)
	}
	return inst
}

func checkout(ctx context.Context, inst *Instance, domain, user string) (*sdk.Credential, error) {
	return inst.Checkout(ctx, sdk.CheckoutRequest{
		Account: sdk.Account{Domain: domain, Username: user},
		Session: sdk.SessionContext{SessionID: "s-1", Requester: "alice"},
	})
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// processGone reports whether pid no longer runs (a zombie counts as gone:
// nobody may reap it inside a container).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}
