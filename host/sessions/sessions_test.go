package sessions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/sdk"
)

func TestAllowedSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	s := h.start(t, "alice", "domain-admin", "srv01")
	if s.Account != `CORP\alice` || s.Connector != "ps-prod" || s.Policy != "admins" || !s.ExpiresAt.Equal(h.clock.Now().Add(2*time.Hour)) {
		t.Fatalf("session %+v", s)
	}
	cred, err := h.m.Credential(ctx, s.ID, alice)
	if err != nil || cred.Secret.Reveal() != alicePassword || cred.Username != "alice" {
		t.Fatalf("credential %v, %v", cred, err)
	}
	ended, err := h.m.End(ctx, s.ID, alice, "done")
	if err != nil || ended.State != StateCompleted || ended.EndedBy != "alice" || ended.CheckinError != "" {
		t.Fatalf("end: %+v, %v", ended, err)
	}
	if in := h.vault.lastCheckin(); in.LeaseID != "lease-1" || in.Account.String() != `CORP\alice` || in.Session.SessionID != s.ID {
		t.Fatalf("checkin %+v", in)
	}
	// Ending again changes nothing.
	again, err := h.m.End(ctx, s.ID, admin, "again")
	if err != nil || again.State != StateCompleted || again.EndedBy != "alice" {
		t.Fatalf("second end: %+v, %v", again, err)
	}
	if _, n := h.vault.counts(); n != 1 {
		t.Fatalf("%d checkins, want 1", n)
	}
	if _, err := h.m.Credential(ctx, s.ID, alice); !errors.Is(err, ErrNotAvailable) {
		t.Fatalf("credential after end: %v", err)
	}
	want := []audit.Type{audit.TypeRequestAllowed, "session.pending", "session.provisioning", "session.available",
		audit.TypeCredentialView, "session.ending", audit.TypeCheckin, "session.completed"}
	if got := h.types(t, audit.Filter{SessionID: s.ID}); !slices.Equal(got, want) {
		t.Fatalf("audit records\n got %v\nwant %v", got, want)
	}
	if rep := h.verify(t); rep.Records != int64(len(want)) {
		t.Fatalf("%d records in the log, want %d", rep.Records, len(want))
	}
}

func TestDeniedRequests(t *testing.T) {
	tests := []struct {
		name     string
		req      StartRequest
		inReason string
	}{
		{"user in no policy", StartRequest{Requester: "mallory", Activity: "domain-admin", Resource: "srv01"}, "no policy names you"},
		{"resource not allowed", StartRequest{Requester: "alice", Activity: "domain-admin", Resource: "db01"}, "do not include db01"},
		{"unknown activity", StartRequest{Requester: "alice", Activity: "nope", Resource: "srv01"}, `no activity named "nope"`},
		{"reason required", StartRequest{Requester: "dave", Activity: "domain-admin", Resource: "srv01"}, "requires a reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			s, err := h.m.Start(context.Background(), tt.req)
			var de *DeniedError
			if !errors.Is(err, ErrDenied) || !errors.As(err, &de) || !strings.Contains(de.Reason, tt.inReason) || s.ID != "" {
				t.Fatalf("start: %+v, %v; want a denial saying %q", s, err, tt.inReason)
			}
			if n, _ := h.vault.counts(); n != 0 {
				t.Fatalf("%d checkouts after a denial", n)
			}
			recs := h.records(t, audit.Filter{})
			if len(recs) != 1 || recs[0].Type != audit.TypeRequestDenied || recs[0].Outcome != audit.OutcomeDenied ||
				recs[0].Actor != tt.req.Requester || recs[0].Detail["reason"] != de.Reason {
				t.Fatalf("audit %+v", recs)
			}
			if list, _ := h.m.List(context.Background(), ListFilter{}, admin); len(list) != 0 {
				t.Fatalf("a denied request left sessions: %+v", list)
			}
			h.verify(t)
		})
	}
}

func TestConnectorFailureFailsTheSession(t *testing.T) {
	h := newHarness(t)
	s, err := h.m.Start(context.Background(), StartRequest{Requester: "alice", Activity: "domain-admin", Resource: "ghost"})
	if !errors.Is(err, ErrFailed) || sdk.CodeOf(err) != sdk.CodeNotFound || !strings.Contains(sdk.HintOf(err), "create an AD User entry") {
		t.Fatalf("err = %v (code %s)", err, sdk.CodeOf(err))
	}
	if s.State != StateFailed || s.Error == nil || s.Error.Code != "NotFound" || s.Error.Message != `no entry for account NOWHERE\alice` ||
		!strings.Contains(s.Error.Hint, "create an AD User entry") {
		t.Fatalf("session %+v error %+v", s, s.Error)
	}
	got, err := h.m.Get(context.Background(), s.ID, alice)
	if err != nil || got.State != StateFailed || got.Error.Code != "NotFound" {
		t.Fatalf("stored session %+v, %v", got, err)
	}
	recs := h.records(t, audit.Filter{Type: "session.failed"})
	if len(recs) != 1 || recs[0].Outcome != audit.OutcomeError || recs[0].Detail["code"] != "NotFound" || recs[0].Detail["hint"] == "" {
		t.Fatalf("audit %+v", recs)
	}
	if _, err := h.m.End(context.Background(), s.ID, alice, ""); err != nil {
		t.Fatalf("ending a failed session: %v", err)
	}
	if _, n := h.vault.counts(); n != 0 {
		t.Fatal("a failed session was checked in")
	}
	h.verify(t)
}

func TestCredentialAccess(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	s := h.start(t, "alice", "domain-admin", "srv01")
	carol := h.start(t, "carol", "domain-admin", "srv01")
	own := h.start(t, "alice", "own-login", "srv01")
	tests := []struct {
		name   string
		id     string
		viewer Actor
		want   error
	}{
		{"requester", s.ID, alice, nil},
		{"other user", s.ID, bob, ErrNotFound},
		{"administrator", s.ID, admin, ErrForbidden},
		{"profile without password access", carol.ID, Actor{Name: "carol"}, ErrNoPasswordAccess},
		{"requester's own account", own.ID, alice, ErrNoCredential},
		{"unknown session", "ses_nope", alice, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.m.Credential(ctx, tt.id, tt.viewer)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if views := h.records(t, audit.Filter{Type: audit.TypeCredentialView}); len(views) != 1 || views[0].Actor != "alice" {
		t.Fatalf("credential views audited: %+v", views)
	}
	if list, _ := h.m.List(ctx, ListFilter{}, bob); len(list) != 0 {
		t.Fatalf("bob sees %d sessions of others", len(list))
	}
	if list, _ := h.m.List(ctx, ListFilter{}, admin); len(list) != 3 {
		t.Fatalf("admin sees %d sessions, want 3", len(list))
	}
	if _, err := h.m.End(ctx, s.ID, bob, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob ended alice's session: %v", err)
	}
	if e, err := h.m.End(ctx, s.ID, admin, "incident 7"); err != nil || e.EndedBy != "root" || e.EndReason != "incident 7" {
		t.Fatalf("admin end: %+v, %v", e, err)
	}
}

func TestExpiry(t *testing.T) {
	h := newHarness(t)
	s := h.start(t, "alice", "domain-admin", "srv01")
	h.clock.Advance(2*time.Hour - time.Second)
	if n, err := h.m.ExpireDue(context.Background()); n != 0 || err != nil {
		t.Fatalf("expired %d early (%v)", n, err)
	}
	h.clock.Advance(time.Second)
	if _, err := h.m.Credential(context.Background(), s.ID, alice); !errors.Is(err, ErrNotAvailable) {
		t.Fatalf("credential at the deadline: %v", err)
	}
	if n, err := h.m.ExpireDue(context.Background()); n != 1 || err != nil {
		t.Fatalf("expired %d (%v), want 1", n, err)
	}
	got, _ := h.m.Get(context.Background(), s.ID, alice)
	if got.State != StateCompleted || got.EndedBy != SystemActor || !strings.Contains(got.EndReason, "maximum session duration") {
		t.Fatalf("session %+v", got)
	}
	if _, n := h.vault.counts(); n != 1 {
		t.Fatalf("%d checkins, want 1", n)
	}
	h.verify(t)
}

func TestExpiryAcrossRestart(t *testing.T) {
	h := newHarness(t)
	s := h.start(t, "alice", "domain-admin", "srv01")
	h.restart(t)
	h.clock.Advance(3 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.m.RunExpiry(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the expiry worker to end the session", func() bool {
		got, err := h.m.Get(context.Background(), s.ID, alice)
		return err == nil && got.State == StateCompleted
	})
	if in := h.vault.lastCheckin(); in.LeaseID != "lease-1" || in.Session.SessionID != s.ID {
		t.Fatalf("checkin after restart %+v, want the lease of the first host", in)
	}
	h.verify(t)
}

func TestCredentialAfterRestartIsCheckedOutAgain(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	s := h.start(t, "alice", "domain-admin", "srv01")
	h.restart(t)
	cred, err := h.m.Credential(ctx, s.ID, alice)
	if err != nil || cred.Secret.Reveal() != alicePassword {
		t.Fatalf("credential after restart: %v, %v", cred, err)
	}
	// The new process's vault got the old lease back before a new checkout.
	if out, in := h.vault.counts(); out != 1 || in != 1 || h.vault.lastCheckin().LeaseID != "lease-1" {
		t.Fatalf("checkouts %d, checkins %d", out, in)
	}
	if _, err := h.m.Credential(ctx, s.ID, alice); err != nil {
		t.Fatal(err)
	}
	if out, _ := h.vault.counts(); out != 1 {
		t.Fatal("the credential was checked out again on a second view")
	}
	if _, err := h.m.End(ctx, s.ID, alice, ""); err != nil {
		t.Fatal(err)
	}
	if in := h.vault.lastCheckin(); in.LeaseID != "lease-1" || len(h.vault.checkins) != 2 {
		t.Fatalf("end checked in %+v", in)
	}
	want := []audit.Type{audit.TypeRequestAllowed, "session.pending", "session.provisioning", "session.available",
		audit.TypeCheckin, audit.TypeCheckout, audit.TypeCredentialView, audit.TypeCredentialView,
		"session.ending", audit.TypeCheckin, "session.completed"}
	if got := h.types(t, audit.Filter{SessionID: s.ID}); !slices.Equal(got, want) {
		t.Fatalf("audit records\n got %v\nwant %v", got, want)
	}
	h.verify(t)
}

func TestRestartFailsSessionsCaughtProvisioning(t *testing.T) {
	h := newHarness(t)
	h.vault.block = make(chan struct{})
	go h.m.Start(context.Background(), StartRequest{Requester: "alice", Activity: "domain-admin", Resource: "srv01"})
	var id string
	waitFor(t, "provisioning", func() bool {
		list, _ := h.m.List(context.Background(), ListFilter{}, admin)
		if len(list) == 1 && list[0].State == StateProvisioning {
			id = list[0].ID
		}
		return id != ""
	})
	// Simulate a crash: a second host opens the same file; the first one's
	// checkout never answers.
	old := h.st
	h.clock.Advance(time.Second)
	h.open(t)
	if n, err := h.m.ExpireDue(context.Background()); n != 1 || err != nil {
		t.Fatalf("cleaned up %d (%v)", n, err)
	}
	got, _ := h.m.Get(context.Background(), id, alice)
	if got.State != StateFailed || got.Error.Code != string(sdk.CodeUnavailable) {
		t.Fatalf("session %+v", got)
	}
	close(h.vault.block)
	old.Close()
}

func TestEndWhileProvisioningCancels(t *testing.T) {
	h := newHarness(t)
	h.vault.block = make(chan struct{})
	type result struct {
		s   Session
		err error
	}
	res := make(chan result)
	go func() {
		s, err := h.m.Start(context.Background(), StartRequest{Requester: "alice", Activity: "domain-admin", Resource: "srv01"})
		res <- result{s, err}
	}()
	var id string
	waitFor(t, "provisioning", func() bool {
		list, _ := h.m.List(context.Background(), ListFilter{}, alice)
		if len(list) == 1 {
			id = list[0].ID
		}
		return id != ""
	})
	s, err := h.m.End(context.Background(), id, alice, "changed my mind")
	if err != nil || s.State != StateCancelled {
		t.Fatalf("end: %+v, %v", s, err)
	}
	r := <-res
	if !errors.Is(r.err, ErrCancelled) || r.s.State != StateCancelled {
		t.Fatalf("start returned %+v, %v", r.s, r.err)
	}
	want := []audit.Type{audit.TypeRequestAllowed, "session.pending", "session.provisioning", "session.cancelled"}
	if got := h.types(t, audit.Filter{SessionID: id}); !slices.Equal(got, want) {
		t.Fatalf("audit records\n got %v\nwant %v", got, want)
	}
	h.verify(t)
}

func TestCheckinFailureStillCompletes(t *testing.T) {
	h := newHarness(t)
	h.vault.checkinErr = sdk.Errorf(sdk.CodeUnavailable, "check the vault", "the vault is down")
	s := h.start(t, "alice", "domain-admin", "srv01")
	ended, err := h.m.End(context.Background(), s.ID, alice, "")
	if err != nil || ended.State != StateCompleted || !strings.Contains(ended.CheckinError, "the vault is down") {
		t.Fatalf("end: %+v, %v", ended, err)
	}
	recs := h.records(t, audit.Filter{Type: audit.TypeCheckin})
	if len(recs) != 1 || recs[0].Outcome != audit.OutcomeError || recs[0].Detail["code"] != "Unavailable" {
		t.Fatalf("audit %+v", recs)
	}
	h.verify(t)
}

// TestNoSecretInAuditOrFile runs sessions through every path that touches a
// credential and then looks for the passwords in the audit log (as the API
// would return it) and in the bytes of the state file and its WAL.
func TestNoSecretInAuditOrFile(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	a := h.start(t, "alice", "domain-admin", "srv01")
	b := h.start(t, "bob", "domain-admin", "srv01")
	for _, v := range []struct {
		id string
		by Actor
	}{{a.ID, alice}, {b.ID, bob}} {
		if _, err := h.m.Credential(ctx, v.id, v.by); err != nil {
			t.Fatal(err)
		}
	}
	h.m.End(ctx, a.ID, alice, "")
	h.restart(t)
	if _, err := h.m.Credential(ctx, b.ID, bob); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(3 * time.Hour)
	if _, err := h.m.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	recs := h.records(t, audit.Filter{})
	if len(recs) < 15 {
		t.Fatalf("only %d records", len(recs))
	}
	j, _ := json.Marshal(recs)
	files := map[string][]byte{"audit records": j}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if data, err := os.ReadFile(h.path + suffix); err == nil {
			files["state file"+suffix] = data
		}
	}
	for where, data := range files {
		for _, pw := range []string{alicePassword, bobPassword} {
			if bytes.Contains(data, []byte(pw)) {
				t.Errorf("a password is in the %s", where)
			}
		}
	}
	h.verify(t)
}

func TestConcurrentSessions(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := []Actor{alice, bob}[i%2]
			s, err := h.m.Start(ctx, StartRequest{Requester: user.Name, Activity: "domain-admin", Resource: "srv01"})
			if err != nil {
				t.Error(err)
				return
			}
			var ends sync.WaitGroup
			for _, by := range []Actor{user, admin, user} {
				ends.Add(1)
				go func() {
					defer ends.Done()
					h.m.Credential(ctx, s.ID, user)
					if _, err := h.m.End(ctx, s.ID, by, fmt.Sprint("end by ", by.Name)); err != nil {
						t.Error(err)
					}
				}()
			}
			ends.Wait()
		}()
	}
	wg.Wait()
	if out, in := h.vault.counts(); out != 16 || in != 16 {
		t.Fatalf("%d checkouts and %d checkins, want 16 each", out, in)
	}
	if n := len(h.records(t, audit.Filter{Type: "session.completed"})); n != 16 {
		t.Fatalf("%d completions audited", n)
	}
	h.verify(t)
}
