package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	_ "modernc.org/sqlite"

	"github.com/byov/byov/host/api"
	"github.com/byov/byov/host/api/client"
	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/server"
	"github.com/byov/byov/host/sessions"
	"github.com/byov/byov/host/store"
	"github.com/byov/byov/internal/logbuffer"
	"github.com/byov/byov/plugins/passwordsecure/psemu"
)

// versions are the two builds of each connector the chaos swaps between.
var versions = []string{"1.0.0", "1.1.0"}

type soak struct {
	o   options
	out io.Writer
	dir string

	emu     *psemu.Server
	secrets []string

	// logs collects the host's log, plugin output included, for the
	// secret scan.
	logs logbuffer.Buffer

	addr    string
	hostMu  sync.Mutex
	host    *server.Server
	hostCtx context.CancelFunc
	hostErr chan error

	root  *client.Client
	users map[string]*client.Client

	// chaos windows explain failures: a call that fails while a fault is
	// in progress (or just after) is expected.
	chaosMu sync.Mutex
	windows []window

	calls, expected, unexpected atomic.Int64
	unexpectedSamples           []string
	samplesMu                   sync.Mutex
	faults                      map[string]int

	baseFDs, baseGoroutines int
	checks                  []check
}

type window struct {
	what       string
	start, end time.Time
}

type check struct {
	name   string
	ok     bool
	detail string
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the soak from inside the byov module (go run ./soak)")
	}
	return filepath.Dir(mod), nil
}

func newSoak(o options, out io.Writer) (*soak, error) {
	if o.users <= 0 {
		o.users = 1
	}
	s := &soak{o: o, out: out, users: map[string]*client.Client{}, faults: map[string]int{}}
	s.baseFDs, s.baseGoroutines = countFDs(), runtime.NumGoroutine()
	dir, err := os.MkdirTemp("", "byov-soak-")
	if err != nil {
		return nil, err
	}
	s.dir = dir
	if err := s.buildPlugins(); err != nil {
		return s, err
	}
	return s, s.setup()
}

// buildPlugins builds both connectors at both versions.
func (s *soak) buildPlugins() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	pluginDir := filepath.Join(s.dir, "plugins")
	for _, typ := range []string{"builtin", "passwordsecure"} {
		for _, v := range versions {
			out := filepath.Join(pluginDir, fmt.Sprintf("byov-connector-%s_%s", typ, v))
			cmd := exec.Command("go", "build", "-ldflags", "-X main.Version="+v, "-o", out, "./plugins/"+typ)
			cmd.Dir = root
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("building %s %s: %v\n%s", typ, v, err, b)
			}
		}
	}
	bins, _, err := plugins.Scan(pluginDir)
	if err != nil {
		return err
	}
	lock := &plugins.Lock{}
	if _, err := lock.Update(bins, nil, true); err != nil {
		return err
	}
	return lock.Write(filepath.Join(s.dir, plugins.LockFileName))
}

func (s *soak) userName(i int) string { return fmt.Sprintf("u%02d", i) }

func password() string {
	const letters = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return "Soak-" + string(b)
}

const soakConfig = `
server {
  listen     = %q
  data_dir   = "data"
  plugin_dir = "plugins"
  plugin_health_interval = "2s"
}

plugin "builtin" { version = ">= 1.0.0" }
plugin "passwordsecure" { version = ">= 1.0.0" }

service_account "ps" {
  username = "soak"
  secret   = file("ps-api-key")
}

connector "vault" {
  plugin = "builtin"
  config {
    path              = "vault.db"
    create            = true
    key_file          = "vault.key"
    rotate_on_checkin = true
  }
}

connector "ps" {
  plugin          = "passwordsecure"
  service_account = service_account.ps
  config {
    api_url = %q
    ca_file = "ps-ca.pem"
  }
}

connection_profile "short" {
  max_session_duration  = "4s"
  allow_password_access = true
}

resource "srv" {
  platform = "windows"
  address  = "srv.corp.example"
  domain   = "CORP"
}

%s

activity "builtin" {
  platform      = "windows"
  login_account = "vault"
  connector     = connector.vault
  account       = "${resource.domain}\\svc-${requester.name}"
}

activity "ps" {
  platform      = "windows"
  login_account = "vault"
  connector     = connector.ps
  account       = "${resource.domain}\\svc-${requester.name}"
}

access_policy "ops" {
  type               = "resource"
  connection_profile = connection_profile.short
  users              = ["group:ops"]
  activities         = [activity.builtin, activity.ps]
  resources          = [resource.srv]
}
`

func (s *soak) setup() error {
	// The Password Secure emulator with one entry per user.
	emu, err := psemu.New(psemu.Options{})
	if err != nil {
		return err
	}
	s.emu = emu
	if err := emu.AddUser("soak"); err != nil {
		return err
	}
	var users strings.Builder
	for i := 0; i < s.o.users; i++ {
		pw := password()
		s.secrets = append(s.secrets, pw)
		if _, err := emu.AddEntry(psemu.Entry{Domain: "CORP", Username: "svc-" + s.userName(i), Password: pw}); err != nil {
			return err
		}
		fmt.Fprintf(&users, "user %q { groups = [\"ops\"] }\n", s.userName(i))
	}
	key, err := emu.CreateAPIKey("soak", "Read", "Passwords", 24*time.Hour)
	if err != nil {
		return err
	}
	s.secrets = append(s.secrets, key)
	if err := emu.Start(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "ps-ca.pem"), emu.CACertPEM(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "ps-api-key"), []byte(key), 0o600); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.addr = ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf(soakConfig, s.addr, emu.URL(), users.String())
	if err := os.WriteFile(filepath.Join(s.dir, "byov.hcl"), []byte(cfg), 0o600); err != nil {
		return err
	}
	if err := s.startHost(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tokenPath, err := s.host.BootstrapRootToken(ctx)
	if err != nil {
		return err
	}
	tok, err := os.ReadFile(tokenPath)
	if err != nil {
		return err
	}
	s.secrets = append(s.secrets, strings.TrimSpace(string(tok)))
	if s.root, err = client.New("http://"+s.addr, strings.TrimSpace(string(tok))); err != nil {
		return err
	}
	for i := 0; i < s.o.users; i++ {
		name := s.userName(i)
		pw := password()
		s.secrets = append(s.secrets, pw)
		if _, err := s.root.PutAccount(ctx, "vault", api.PutAccountRequest{Account: `CORP\svc-` + name, Password: pw}); err != nil {
			return fmt.Errorf("seeding the builtin vault: %w", err)
		}
		created, err := s.root.CreateToken(ctx, api.CreateTokenRequest{Name: name, User: name})
		if err != nil {
			return err
		}
		s.secrets = append(s.secrets, created.Token)
		if s.users[name], err = client.New("http://"+s.addr, created.Token, client.WithTimeout(30*time.Second)); err != nil {
			return err
		}
	}
	return nil
}

// startHost runs a host on s.addr until stopHost.
func (s *soak) startHost() error {
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	ln, err := listenRetry(s.addr)
	if err != nil {
		return err
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "byov", Output: &s.logs, Level: hclog.Info})
	h, err := server.New(context.Background(), server.Options{ConfigPath: filepath.Join(s.dir, "byov.hcl"), Logger: logger, Listener: ln})
	if err != nil {
		ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.host, s.hostCtx, s.hostErr = h, cancel, make(chan error, 1)
	go func() { s.hostErr <- h.Serve(ctx) }()
	return nil
}

func listenRetry(addr string) (net.Listener, error) {
	var err error
	for i := 0; i < 50; i++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("listening on %s again: %w", addr, err)
}

func (s *soak) stopHost() {
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	if s.host == nil {
		return
	}
	s.hostCtx()
	<-s.hostErr
	s.host.Close()
	s.host = nil
}

func (s *soak) cleanup() {
	s.stopHost()
	if s.emu != nil {
		s.emu.Close()
	}
	if !s.o.keep && s.dir != "" {
		os.RemoveAll(s.dir)
	} else if s.dir != "" {
		fmt.Fprintf(s.out, "soak: kept %s\n", s.dir)
	}
}

func (s *soak) inWindow(t time.Time) bool {
	s.chaosMu.Lock()
	defer s.chaosMu.Unlock()
	for _, w := range s.windows {
		// A fault is felt from its start until shortly after it ends: calls
		// in flight, and restarts finishing. A fault still in progress has
		// no end yet.
		ongoing := w.end.IsZero()
		if !t.Before(w.start.Add(-100*time.Millisecond)) && (ongoing || !t.After(w.end.Add(2*time.Second))) {
			return true
		}
	}
	return false
}

// fault runs one chaos action, recording its window.
func (s *soak) fault(what string, fn func() error) {
	w := window{what: what, start: time.Now()}
	s.chaosMu.Lock()
	s.windows = append(s.windows, w)
	idx := len(s.windows) - 1
	s.chaosMu.Unlock()
	err := fn()
	s.chaosMu.Lock()
	s.windows[idx].end = time.Now()
	s.chaosMu.Unlock()
	s.samplesMu.Lock()
	s.faults[what]++
	s.samplesMu.Unlock()
	if err != nil {
		s.noteUnexpected(fmt.Sprintf("fault %s itself failed: %v", what, err))
	}
}

func (s *soak) noteUnexpected(msg string) {
	s.unexpected.Add(1)
	s.samplesMu.Lock()
	if len(s.unexpectedSamples) < 10 {
		s.unexpectedSamples = append(s.unexpectedSamples, msg)
	}
	s.samplesMu.Unlock()
}

// record classifies the outcome of one call.
func (s *soak) record(start time.Time, what string, err error) {
	s.calls.Add(1)
	if err == nil {
		return
	}
	if s.inWindow(start) || s.inWindow(time.Now()) {
		s.expected.Add(1)
		return
	}
	s.noteUnexpected(fmt.Sprintf("%s at %s: %v", what, start.Format("15:04:05.000"), err))
}

func (s *soak) run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.o.duration)
	defer cancel()
	var wg sync.WaitGroup
	for name, c := range s.users {
		wg.Add(1)
		go func() { defer wg.Done(); s.user(ctx, name, c) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.chaos(ctx) }()
	wg.Wait()
	return s.finish()
}

func (s *soak) user(ctx context.Context, name string, c *client.Client) {
	for ctx.Err() == nil {
		activity := []string{"builtin", "ps"}[rand.IntN(2)]
		callCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		start := time.Now()
		sess, err := c.StartSession(callCtx, api.StartSessionRequest{Activity: activity, Resource: "srv", Reason: "soak"})
		s.record(start, "start "+activity+" as "+name, err)
		if err == nil {
			start = time.Now()
			cred, err := c.Credential(callCtx, sess.ID)
			if err == nil && cred.Password == "" {
				err = errors.New("an empty password")
			}
			s.record(start, "credential of "+sess.ID, err)
			sleep(ctx, time.Duration(rand.IntN(300))*time.Millisecond)
			// Most sessions end by request; the rest expire.
			if rand.IntN(10) < 7 {
				start = time.Now()
				_, err := c.EndSession(callCtx, sess.ID, "soak")
				s.record(start, "end "+sess.ID, err)
			}
		}
		cancel()
		sleep(ctx, time.Duration(rand.IntN(100))*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (s *soak) chaos(ctx context.Context) {
	for {
		sleep(ctx, s.o.chaosEvery/2+time.Duration(rand.Int64N(int64(s.o.chaosEvery))))
		if ctx.Err() != nil {
			return
		}
		typ := []string{"builtin", "passwordsecure"}[rand.IntN(2)]
		switch rand.IntN(4) {
		case 0, 1:
			s.fault("kill "+typ, func() error { return s.killPlugin(typ) })
		case 2:
			s.fault("swap "+typ, func() error { return s.swap(typ) })
		case 3:
			s.fault("restart host", func() error {
				s.stopHost()
				return s.startHost()
			})
		}
	}
}

func (s *soak) killPlugin(typ string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := s.root.Plugins(ctx)
	if err != nil {
		return err
	}
	for _, p := range list {
		if p.Type == typ && p.PID != 0 {
			return syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	return nil // not running right now (restarting): nothing to kill
}

// swap reloads a connector to the version it is not running.
func (s *soak) swap(typ string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	list, err := s.root.Plugins(ctx)
	if err != nil {
		return err
	}
	next := versions[0]
	for _, p := range list {
		if p.Type == typ && p.Version == versions[0] {
			next = versions[1]
		}
	}
	_, err = s.root.ReloadPlugin(ctx, typ, next)
	return err
}

// finish waits for every session to end, then stops the host.
func (s *soak) finish() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if s.o.inject == "stuck-session" {
		// A session nothing will ever end: available, with no deadline.
		now := time.Now()
		if err := s.host.Store().Update(ctx, func(tx *store.Tx) error {
			return tx.PutSession(&store.Session{ID: "ses_injected_stuck", Requester: s.userName(0), Activity: "builtin",
				Resource: "srv", Connector: "vault", State: string(sessions.StateAvailable), CreatedAt: now, UpdatedAt: now})
		}); err != nil {
			return fmt.Errorf("injecting the fault: %w", err)
		}
	}
	stuck := -1 // stays so when the sessions cannot be listed at all
	for deadline := time.Now().Add(s.o.settle); time.Now().Before(deadline); {
		open, err := s.root.ListSessions(ctx, client.SessionFilter{States: []string{"active"}, Limit: 1000})
		if err == nil {
			stuck = len(open)
			if stuck == 0 {
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.checks = append(s.checks, check{"no session stuck in a non-final state", stuck == 0, fmt.Sprintf("%d open after the load stopped", stuck)})
	s.stopHost()
	if s.o.inject == "drop-audit" {
		if err := dropAuditRecord(filepath.Join(s.dir, "data", "byov.db")); err != nil {
			return err
		}
	}
	// Check the audit on a fresh host, as an operator would after the fact.
	if err := s.startHost(); err != nil {
		return err
	}
	s.checkAudit(ctx)
	s.stopHost()
	return nil
}

func dropAuditRecord(path string) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{"DROP TRIGGER audit_no_delete", "DELETE FROM audit WHERE seq = (SELECT seq FROM audit ORDER BY seq LIMIT 1 OFFSET 10)"} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("injecting the fault (%s): %w", q, err)
		}
	}
	return nil
}

// checkAudit verifies the chain and that every session has exactly one
// record for each state it went through, ending with its final state.
func (s *soak) checkAudit(ctx context.Context) {
	rep, err := s.root.VerifyAudit(ctx)
	if err != nil {
		s.checks = append(s.checks, check{"audit chain valid", false, err.Error()})
		return
	}
	s.checks = append(s.checks, check{"audit chain valid", rep.OK, rep.String()})

	perSession := map[string]map[string]int{}
	var after int64
	for {
		page, err := s.root.Audit(ctx, client.AuditQuery{After: after, Limit: 1000})
		if err != nil {
			s.checks = append(s.checks, check{"one audit record per session event", false, err.Error()})
			return
		}
		for _, r := range page.Records {
			if r.SessionID == "" {
				continue
			}
			if perSession[r.SessionID] == nil {
				perSession[r.SessionID] = map[string]int{}
			}
			perSession[r.SessionID][string(r.Type)]++
		}
		if page.NextAfter == 0 || len(page.Records) == 0 {
			break
		}
		after = page.NextAfter
	}
	// Every session, not a page of them: read the host's store directly.
	list, err := s.host.Store().Sessions(ctx, store.SessionFilter{Limit: -1})
	if err != nil {
		s.checks = append(s.checks, check{"one audit record per session event", false, err.Error()})
		return
	}
	var problems []string
	for _, sess := range list {
		counts := perSession[sess.ID]
		for typ, n := range counts {
			if strings.HasPrefix(typ, audit.TypeSessionPrefix) && n != 1 {
				problems = append(problems, fmt.Sprintf("%s has %d %s records", sess.ID, n, typ))
			}
		}
		for _, need := range []string{"request.allowed", "session.pending", "session." + sess.State} {
			if counts[need] != 1 {
				problems = append(problems, fmt.Sprintf("%s (%s) has %d %s records", sess.ID, sess.State, counts[need], need))
			}
		}
		if sessions.State(sess.State) == sessions.StateCompleted && counts["session.available"] == 1 && counts[string(audit.TypeCheckin)] < 1 {
			problems = append(problems, fmt.Sprintf("%s completed without a checkin record", sess.ID))
		}
	}
	sort.Strings(problems)
	detail := fmt.Sprintf("%d sessions, %d records checked", len(list), rep.Records)
	if len(problems) > 0 {
		detail = fmt.Sprintf("%d problems, first: %s", len(problems), strings.Join(problems[:min(3, len(problems))], "; "))
	}
	s.checks = append(s.checks, check{"one audit record per session event", len(problems) == 0, detail})
}

func countFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// pluginProcesses lists processes running a binary from this soak's
// directory (the exec copies live under its data directory).
func (s *soak) pluginProcesses() []string {
	procs, _ := os.ReadDir("/proc")
	var found []string
	for _, p := range procs {
		exe, err := os.Readlink(filepath.Join("/proc", p.Name(), "exe"))
		if err != nil {
			continue
		}
		if strings.HasPrefix(exe, s.dir) {
			stat, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "stat"))
			if fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(fields) > 0 && fields[0] == "Z" {
				continue
			}
			found = append(found, p.Name()+" "+filepath.Base(exe))
		}
	}
	return found
}

// report runs the end-of-run checks and prints the summary.
func (s *soak) report() bool {
	if s.emu != nil {
		s.emu.Close()
		s.emu = nil
	}
	// Give exiting goroutines and processes a moment.
	var procs []string
	for i := 0; i < 50; i++ {
		if procs = s.pluginProcesses(); len(procs) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	fds, goroutines := countFDs(), runtime.NumGoroutine()
	for i := 0; i < 50 && (fds > s.baseFDs+4 || goroutines > s.baseGoroutines+10); i++ {
		time.Sleep(100 * time.Millisecond)
		fds, goroutines = countFDs(), runtime.NumGoroutine()
	}
	unexpected := s.unexpected.Load()
	s.checks = append([]check{{"no failed call beyond those a fault explains", unexpected == 0,
		fmt.Sprintf("%d calls, %d failed during faults, %d failed otherwise", s.calls.Load(), s.expected.Load(), unexpected)}}, s.checks...)
	s.checks = append(s.checks,
		check{"plugin processes gone", len(procs) == 0, fmt.Sprintf("%d left %v", len(procs), procs)},
		// The netpoller and the sqlite driver keep a few descriptors and
		// goroutines for the process's life once used; allow for those.
		check{"file descriptors back to baseline", fds <= s.baseFDs+4, fmt.Sprintf("%d at start, %d at end", s.baseFDs, fds)},
		check{"goroutines back to baseline", goroutines <= s.baseGoroutines+10, fmt.Sprintf("%d at start, %d at end", s.baseGoroutines, goroutines)},
	)
	logs := s.logs.String()
	leaked := 0
	for _, secret := range s.secrets {
		if strings.Contains(logs, secret) {
			leaked++
		}
	}
	s.checks = append(s.checks, check{"no test secret in any log", leaked == 0 && len(logs) > 0,
		fmt.Sprintf("%d secrets scanned in %d bytes of log; %d found", len(s.secrets), len(logs), leaked)})

	fmt.Fprintf(s.out, "\nbyov soak: %s, %d users, a fault every ~%s\n", s.o.duration, s.o.users, s.o.chaosEvery)
	var kinds []string
	for k, n := range s.faults {
		kinds = append(kinds, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(kinds)
	fmt.Fprintf(s.out, "faults: %s\n\n", strings.Join(kinds, ", "))
	ok := true
	for _, c := range s.checks {
		mark := "ok  "
		if !c.ok {
			mark, ok = "FAIL", false
		}
		fmt.Fprintf(s.out, "  %s  %-46s %s\n", mark, c.name, c.detail)
	}
	for _, u := range s.unexpectedSamples {
		fmt.Fprintf(s.out, "  unexpected: %s\n", u)
	}
	if ok {
		fmt.Fprintln(s.out, "\nsoak passed")
	} else {
		fmt.Fprintln(s.out, "\nsoak FAILED")
	}
	return ok
}
