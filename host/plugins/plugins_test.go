package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/byov/byov/sdk"
)

func TestCheckoutThroughPluginProcess(t *testing.T) {
	h := newHarness(t, []string{"v1.0.0"}, nil)
	inst := h.instance(t, "test", "corp")
	ctx := ctxTimeout(t, 20*time.Second)

	cred, err := checkout(ctx, inst, "CORP", "alice")
	if err != nil {
		t.Fatalf("checkout: %v", err)
	}
	if cred.Secret.Reveal() != "alice-secret@corp" || cred.Username != `CORP\alice` || cred.LeaseID != "lease-s-1" {
		t.Fatalf("unexpected credential %+v (secret %q)", cred, cred.Secret.Reveal())
	}
	if cred.Metadata["pid"] == fmt.Sprint(os.Getpid()) {
		t.Fatal("the connector ran inside the test process, not as a child process")
	}

	for _, tc := range []struct {
		domain, user string
		code         sdk.Code
	}{
		{"CORP", "dup", sdk.CodeAmbiguous},
		{"NOWHERE", "bob", sdk.CodeNotFound},
	} {
		_, err := checkout(ctx, inst, tc.domain, tc.user)
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf(`%s\%s: want an *sdk.Error with code %s, got %v`, tc.domain, tc.user, tc.code, err)
			continue
		}
		if e.Hint == "" {
			t.Errorf(`%s\%s: the connector's hint was lost: %+v`, tc.domain, tc.user, e)
		}
	}
	// A NotFound is a result: the process is still the same one.
	if st := inst.Plugin().Status(); st.Restarts != 0 || st.State != StateRunning {
		t.Fatalf("status after connector errors: %+v", st)
	}
}

func TestConfigureErrorsAndUnknownInstance(t *testing.T) {
	h := newHarness(t, []string{"v1.0.0"}, nil)
	ctx := ctxTimeout(t, 20*time.Second)
	_, err := h.mgr.Configure(ctx, "test", "bad", map[string]any{"must": false}, sdk.ServiceAccount{})
	if sdk.CodeOf(err) != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "must is false") {
		t.Fatalf("want InvalidConfig from the connector, got %v", err)
	}
	_, err = h.mgr.Configure(ctx, "test", "typo", map[string]any{"lable": "x"}, sdk.ServiceAccount{})
	if sdk.CodeOf(err) != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), `unknown attribute "lable"`) {
		t.Fatalf("want InvalidConfig naming the unknown attribute, got %v", err)
	}
	if _, err := h.mgr.Instance("test", "never").Checkout(ctx, sdk.CheckoutRequest{}); sdk.CodeOf(err) != sdk.CodeInvalidConfig {
		t.Fatal("an unconfigured instance was handed out")
	}
}

func TestPluginKilledDuringCallIsRestarted(t *testing.T) {
	h := newHarness(t, []string{"v1.0.0"}, nil)
	inst := h.instance(t, "test", "corp")
	ctx := ctxTimeout(t, 60*time.Second)
	before := inst.Plugin().Status()

	errc := make(chan error, 1)
	go func() {
		_, err := checkout(ctx, inst, "SLOW", "30s")
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond) // let the call reach the plugin
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var err error
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("the call in flight did not fail after its plugin was killed")
	}
	if waited := time.Since(killed); waited > 5*time.Second {
		t.Errorf("the call in flight took %s to fail after the kill", waited)
	}
	if sdk.CodeOf(err) != sdk.CodeUnavailable || !errors.Is(err, sdk.ErrPluginUnreachable) {
		t.Fatalf("want Unavailable caused by the plugin, got %v", err)
	}
	if want := fmt.Sprintf("test 1.0.0 (pid %d)", before.PID); !strings.Contains(err.Error(), want) {
		t.Fatalf("the error does not name the plugin %q: %v", want, err)
	}

	cred, err := checkout(ctx, inst, "CORP", "alice")
	if err != nil {
		t.Fatalf("the call after the restart failed: %v", err)
	}
	if cred.Metadata["pid"] == fmt.Sprint(before.PID) {
		t.Fatal("the call was served by the killed process")
	}
	after := inst.Plugin().Status()
	if after.Restarts != 1 || after.PID == before.PID || after.State != StateRunning {
		t.Fatalf("status after restart: %+v", after)
	}
	if rows := h.mgr.List(); len(rows) != 1 || rows[0].Restarts != 1 {
		t.Fatalf("plugin list does not show the restart: %+v", rows)
	}
}

func TestLockRefusesUnpinnedBinaryAndOtherTypesKeepServing(t *testing.T) {
	h := newHarness(t, []string{"v1.0.0", "other"}, nil)
	bins, _, err := Scan(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	lock := &Lock{}
	if _, err := lock.Update(bins, nil, true); err != nil {
		t.Fatal(err)
	}
	const fake = "0000000000000000000000000000000000000000000000000000000000000000"
	var real string
	for i, e := range lock.Entries {
		if e.Type == "test" {
			real = e.SHA256
			lock.Entries[i].SHA256 = fake
		}
	}
	if err := lock.Write(h.mgr.opts.LockFile); err != nil {
		t.Fatal(err)
	}

	ctx := ctxTimeout(t, 30*time.Second)
	_, err = h.mgr.Configure(ctx, "test", "corp", nil, sdk.ServiceAccount{})
	if err == nil {
		t.Fatal("a binary whose hash is not pinned was run")
	}
	for _, want := range []string{real, fake, "byov plugin lock -update test"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not mention %q: %v", want, err)
		}
	}
	other := h.instance(t, "other", "o1")
	if _, err := checkout(ctx, other, "CORP", "alice"); err != nil {
		t.Fatalf("the other type stopped serving: %v", err)
	}

	// The operator trusts the binary after all: lock -update, then reload.
	// The instance configured while the type could not start comes up.
	if _, err := lock.Update(bins, map[string]bool{"test": true}, false); err != nil {
		t.Fatal(err)
	}
	if err := lock.Write(h.mgr.opts.LockFile); err != nil {
		t.Fatal(err)
	}
	if _, err := h.mgr.Reload(ctx, "test", ""); err != nil {
		t.Fatalf("reload after lock -update: %v", err)
	}
	if _, err := checkout(ctx, h.mgr.Instance("test", "corp"), "CORP", "alice"); err != nil {
		t.Fatalf("the instance configured before the fix does not serve: %v", err)
	}
}

func TestLockedBinaryRuns(t *testing.T) {
	h := newHarness(t, []string{"v1.0.0"}, nil)
	bins, _, _ := Scan(h.dir)
	lock := &Lock{}
	if _, err := lock.Update(bins, nil, true); err != nil {
		t.Fatal(err)
	}
	if err := lock.Write(h.mgr.opts.LockFile); err != nil {
		t.Fatal(err)
	}
	inst := h.instance(t, "test", "corp")
	if _, err := checkout(ctxTimeout(t, 20*time.Second), inst, "CORP", "alice"); err != nil {
		t.Fatal(err)
	}
	if st := inst.Plugin().Status(); st.SHA256 != lock.Entries[0].SHA256 {
		t.Fatalf("status sha256 %s, lock %s", st.SHA256, lock.Entries[0].SHA256)
	}
}

func TestUnsupportedProtocolIsRefused(t *testing.T) {
	h := newHarness(t, []string{"protocol2"}, nil)
	_, err := h.mgr.Configure(ctxTimeout(t, 30*time.Second), "test", "corp", nil, sdk.ServiceAccount{})
	if err == nil {
		t.Fatal("a plugin speaking protocol 2 was accepted")
	}
	for _, want := range []string{"protocol version 2", "protocol version 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not name %q: %v", want, err)
		}
	}
}

func TestVersionInNameMustMatchMetadata(t *testing.T) {
	h := newHarness(t, []string{"liar"}, nil)
	_, err := h.mgr.Configure(ctxTimeout(t, 30*time.Second), "test", "corp", nil, sdk.ServiceAccount{})
	if err == nil || !strings.Contains(err.Error(), "version 1.3.0") || !strings.Contains(err.Error(), "9.9.9") {
		t.Fatalf("want a refusal naming both versions, got %v", err)
	}
}

func TestHotSwapUnderLoad(t *testing.T) {
	h := newHarness(t, []string{"v1.0.0"}, nil)
	inst := h.instance(t, "test", "corp")
	ctx := ctxTimeout(t, 90*time.Second)
	if st := inst.Plugin().Status(); st.Version != "1.0.0" {
		t.Fatalf("started %s, want 1.0.0", st.Version)
	}

	var (
		stop     atomic.Bool
		calls    atomic.Int64
		failures atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
		swapped  atomic.Bool
		stale    atomic.Int64 // calls issued after the swap answered by 1.0.0
	)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				after := swapped.Load()
				cred, err := checkout(ctx, inst, "CORP", "alice")
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				if after && cred.Metadata["version"] != "1.1.0" {
					stale.Add(1)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	install(t, h.dir, "v1.1.0")
	st, err := h.mgr.Reload(ctx, "test", "")
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	swapped.Store(true)
	if st.Version != "1.1.0" {
		t.Fatalf("after reload the status says %s", st.Version)
	}
	time.Sleep(300 * time.Millisecond)

	// A swap to a binary that dies at start leaves 1.1.0 serving.
	install(t, h.dir, "crash")
	if _, err := h.mgr.Reload(ctx, "test", ""); err == nil || !strings.Contains(err.Error(), "1.1.0") {
		t.Fatalf("reload to a crashing binary: want an error saying 1.1.0 keeps serving, got %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d calls failed during the swaps; first: %v", n, calls.Load(), firstErr.Load())
	}
	if n := stale.Load(); n != 0 {
		t.Fatalf("%d calls issued after the swap were answered by 1.0.0", n)
	}
	cred, err := checkout(ctx, inst, "CORP", "alice")
	if err != nil || cred.Metadata["version"] != "1.1.0" {
		t.Fatalf("after the failed swap: %v, version %s", err, cred.Metadata["version"])
	}
	t.Logf("%d calls across two swaps, none failed", calls.Load())
}

func TestHostEnvironmentIsNotPassedToPlugins(t *testing.T) {
	t.Setenv("BYOV_TEST_HOST_ONLY", "host-only-value")
	h := newHarness(t, []string{"v1.0.0"}, nil)
	inst := h.instance(t, "test", "corp")
	ctx := ctxTimeout(t, 20*time.Second)
	for _, name := range []string{"BYOV_TEST_HOST_ONLY", "HOME", "PATH"} {
		cred, err := checkout(ctx, inst, "ENV", name)
		if err != nil {
			t.Fatal(err)
		}
		if v := cred.Secret.Reveal(); v != "" {
			t.Errorf("the plugin sees the host's %s=%q", name, v)
		}
	}
}

func TestHangingCallEndsAtCallersDeadline(t *testing.T) {
	h := newHarness(t, []string{"v1.0.0"}, nil)
	inst := h.instance(t, "test", "corp")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := checkout(ctx, inst, "HANG", "forever")
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || sdk.CodeOf(err) != sdk.CodeUnavailable {
		t.Fatalf("want Unavailable caused by the deadline, got %v", err)
	}
	if !strings.Contains(err.Error(), "test 1.0.0") {
		t.Errorf("the error does not name the plugin: %v", err)
	}
	if took > 3*time.Second {
		t.Fatalf("the hanging call took %s to end, its deadline was 500ms", took)
	}
	// The plugin itself is fine and answers other calls.
	if _, err := checkout(ctxTimeout(t, 10*time.Second), inst, "CORP", "alice"); err != nil {
		t.Fatal(err)
	}
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	h := newHarness(t, []string{"v1.0.0"}, nil)
	ctx := ctxTimeout(t, 20*time.Second)
	inst, err := h.mgr.Configure(ctx, "test", "corp", map[string]any{"token": "sensitive-token-value"},
		sdk.ServiceAccount{Username: "svc", Secret: "sa-secret-value"})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := checkout(ctx, inst, "CORP", "alice")
	if err != nil {
		t.Fatal(err)
	}
	h.mgr.opts.Logger.Info("a careless log line", "credential", cred, "secret", cred.Secret)
	if s := fmt.Sprintf("%v %+v %s %q %#v", cred.Secret, cred, cred.Secret, cred.Secret, cred.Secret); strings.Contains(s, "alice-secret") {
		t.Fatalf("fmt printed the secret: %s", s)
	}
	h.mgr.Close()
	logs := h.logs.String()
	for _, secret := range []string{"sensitive-token-value", "sa-secret-value", "alice-secret@corp"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret (%d bytes of log)", len(logs))
		}
	}
	if !strings.Contains(logs, "connector plugin started") {
		t.Fatalf("the log capture saw nothing; the test would pass vacuously:\n%s", logs)
	}
}

// runningFrom lists live processes whose executable lies under dir.
func runningFrom(dir string) []int {
	procs, _ := os.ReadDir("/proc")
	var pids []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", p.Name(), "exe")); err == nil && strings.HasPrefix(exe, dir) && !processGone(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestFailedRestartsReportWhyAndReloadRecovers(t *testing.T) {
	h := newHarness(t, []string{"v1.0.0"}, func(o *Options) {
		o.RestartBackoff, o.MaxRestartBackoff = 50*time.Millisecond, 100*time.Millisecond
	})
	inst := h.instance(t, "test", "corp")
	ctx := ctxTimeout(t, 60*time.Second)
	path := filepath.Join(h.dir, variants["v1.0.0"].file)
	swapFile := func(variant string) {
		t.Helper()
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(built(t, variant), path); err != nil {
			t.Fatal(err)
		}
	}

	// The binary on disk now dies at start, then the running one is killed.
	swapFile("crash")
	if err := syscall.Kill(inst.Plugin().Status().PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); inst.Plugin().Status().State != StateFailed; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the plugin never reported its failed restarts: %+v", inst.Plugin().Status())
		}
	}
	start := time.Now()
	_, err := checkout(ctx, inst, "CORP", "alice")
	if sdk.CodeOf(err) != sdk.CodeUnavailable || !strings.Contains(err.Error(), "restarting it failed") {
		t.Fatalf("want Unavailable saying the restart failed, got %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("a call to a failed plugin waited %s instead of failing fast", took)
	}

	// The operator puts a good binary back and reloads.
	swapFile("v1.0.0")
	if _, err := h.mgr.Reload(ctx, "test", ""); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if _, err := checkout(ctx, inst, "CORP", "alice"); err != nil {
		t.Fatalf("after the reload: %v", err)
	}
	// The restart loop must stand down, not start a second process.
	time.Sleep(500 * time.Millisecond)
	if pids := runningFrom(h.mgr.opts.ExecDir); len(pids) != 1 {
		t.Fatalf("want exactly one plugin process after the recovery, found %v", pids)
	}
}
