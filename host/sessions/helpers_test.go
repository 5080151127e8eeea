package sessions

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/byov/byov/config"
	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/store"
	"github.com/byov/byov/sdk"
)

// Passwords the fake vault hands out; tests look for them where they must
// never be.
const (
	alicePassword = "Tr0ub4dor&3-alice-secret"
	bobPassword   = "correct-horse-battery-bob"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeVault is a vault connector at the edge: plugin processes are tested in
// host/plugins.
type fakeVault struct {
	mu        sync.Mutex
	passwords map[string]string // DOMAIN\user -> password
	checkouts []sdk.CheckoutRequest
	checkins  []sdk.CheckinRequest
	leases    int
	// block, when set, makes Checkout wait for it or for ctx.
	block      chan struct{}
	checkinErr error
}

func newFakeVault() *fakeVault {
	return &fakeVault{passwords: map[string]string{`CORP\alice`: alicePassword, `CORP\bob`: bobPassword, `CORP\carol`: "carol-pw"}}
}

func (v *fakeVault) Checkout(ctx context.Context, req sdk.CheckoutRequest) (*sdk.Credential, error) {
	v.mu.Lock()
	block := v.block
	v.checkouts = append(v.checkouts, req)
	v.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, sdk.Wrap(ctx.Err(), sdk.CodeUnavailable, "", "the checkout was cancelled")
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	pw, ok := v.passwords[req.Account.String()]
	if !ok {
		return nil, sdk.Errorf(sdk.CodeNotFound, "create an AD User entry for "+req.Account.String()+" in the vault",
			"no entry for account %s", req.Account)
	}
	v.leases++
	return &sdk.Credential{Username: req.Account.Username, Secret: sdk.Secret(pw), LeaseID: fmt.Sprint("lease-", v.leases)}, nil
}

func (v *fakeVault) Checkin(ctx context.Context, req sdk.CheckinRequest) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.checkins = append(v.checkins, req)
	return v.checkinErr
}

func (v *fakeVault) counts() (checkouts, checkins int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.checkouts), len(v.checkins)
}

func (v *fakeVault) lastCheckin() sdk.CheckinRequest {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.checkins[len(v.checkins)-1]
}

// testConfig: alice and bob are domain admins with password access on srv01
// (2h sessions); carol may use a profile without password access; "ghost"
// resource has an account the vault does not know.
func testConfig() *config.Config {
	return &config.Config{
		Server: config.Server{CheckoutTimeout: 5 * time.Second},
		ConnectionProfiles: map[string]*config.ConnectionProfile{
			"default":   {Name: "default", MaxSessionDuration: 2 * time.Hour, AllowPasswordAccess: true},
			"no-pw":     {Name: "no-pw", MaxSessionDuration: time.Hour},
			"justified": {Name: "justified", MaxSessionDuration: time.Hour, AllowPasswordAccess: true, RequireReason: true},
		},
		Resources: map[string]*config.Resource{
			"srv01": {Name: "srv01", Platform: "windows", Domain: "CORP"},
			"ghost": {Name: "ghost", Platform: "windows", Domain: "NOWHERE"},
			"db01":  {Name: "db01", Platform: "windows", Domain: "CORP"},
		},
		Users: map[string]*config.User{
			"alice": {Name: "alice", Groups: []string{"domain-admins"}},
			"bob":   {Name: "bob", Groups: []string{"domain-admins"}},
			"carol": {Name: "carol"},
			"dave":  {Name: "dave"},
		},
		Connectors: map[string]*config.Connector{"ps-prod": {Name: "ps-prod", Plugin: "fake"}},
		Activities: map[string]*config.Activity{
			"domain-admin": {Name: "domain-admin", Platform: "windows", LoginAccount: config.LoginVault, Connector: "ps-prod"},
			"own-login":    {Name: "own-login", Platform: "windows", LoginAccount: config.LoginRequester},
		},
		AccessPolicies: []*config.AccessPolicy{
			{Name: "admins", Type: "resource", ConnectionProfile: "default", Users: []string{"group:domain-admins"},
				Activities: []string{"domain-admin", "own-login"}, Resources: []string{"srv01", "ghost"}},
			{Name: "carol", Type: "resource", ConnectionProfile: "no-pw", Users: []string{"carol"},
				Activities: []string{"domain-admin"}, Resources: []string{"srv01"}},
			{Name: "dave", Type: "resource", ConnectionProfile: "justified", Users: []string{"dave"},
				Activities: []string{"domain-admin"}, Resources: []string{"srv01"}},
		},
	}
}

type harness struct {
	path  string
	st    *store.Store
	log   *audit.Log
	vault *fakeVault
	clock *fakeClock
	m     *Manager
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{path: filepath.Join(t.TempDir(), "byov.db"), vault: newFakeVault(),
		clock: &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}}
	h.open(t)
	return h
}

// open (re)opens the state file and makes a new Manager on it, as a host
// start does.
func (h *harness) open(t testing.TB) {
	t.Helper()
	st, err := store.Open(context.Background(), h.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.st = st
	h.log = audit.New(st, audit.Options{Now: h.clock.Now})
	cfg := testConfig()
	h.m, err = New(Options{Store: st, Audit: h.log, Config: func() *config.Config { return cfg },
		Vaults: func(name string) (Vault, error) {
			if name != "ps-prod" {
				return nil, fmt.Errorf("no connector %s", name)
			}
			return h.vault, nil
		},
		Clock: h.clock, ExpiryInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
}

// restart closes the state file and opens it again with a new Manager and a
// new vault process (that knows nothing of earlier leases).
func (h *harness) restart(t testing.TB) {
	t.Helper()
	h.st.Close()
	h.vault = newFakeVault()
	h.open(t)
}

func (h *harness) records(t testing.TB, f audit.Filter) []audit.Record {
	t.Helper()
	f.Limit = 1000
	recs, err := h.log.Query(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func (h *harness) types(t testing.TB, f audit.Filter) []audit.Type {
	t.Helper()
	var out []audit.Type
	for _, r := range h.records(t, f) {
		out = append(out, r.Type)
	}
	return out
}

func (h *harness) verify(t testing.TB) audit.Report {
	t.Helper()
	rep, err := h.log.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("audit chain broken: %s", rep)
	}
	return rep
}

var (
	alice = Actor{Name: "alice"}
	bob   = Actor{Name: "bob"}
	admin = Actor{Name: "root", Admin: true}
)

func (h *harness) start(t testing.TB, user, activity, resource string) Session {
	t.Helper()
	s, err := h.m.Start(context.Background(), StartRequest{Requester: user, Activity: activity, Resource: resource, Reason: "ticket 42"})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != StateAvailable {
		t.Fatalf("session is %s, want available", s.State)
	}
	return s
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
