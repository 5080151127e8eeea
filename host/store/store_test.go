package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openStore(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenCreatesAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "byov.db")
	s := openStore(t, path)
	if v, err := s.Schema(context.Background()); err != nil || v != SchemaVersion {
		t.Fatalf("schema = %d, %v; want %d", v, err, SchemaVersion)
	}
	s.Close()
	s = openStore(t, path)
	if v, _ := s.Schema(context.Background()); v != SchemaVersion {
		t.Fatalf("schema after reopen = %d", v)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "byov.db")
	s := openStore(t, path)
	s.Close()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion+6)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	_, err = Open(context.Background(), path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("err = %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{fmt.Sprint(SchemaVersion + 6), fmt.Sprintf("up to version %d", SchemaVersion)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestOtherSQLiteFileRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	raw, _ := sql.Open("sqlite", "file:"+path)
	if _, err := raw.Exec("CREATE TABLE x(a); PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := Open(context.Background(), path); err == nil || !strings.Contains(err.Error(), "not a byov state file") {
		t.Fatalf("err = %v", err)
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "byov.db"))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	secret, tok, err := s.CreateToken(ctx, TokenSpec{Name: "ci", Role: RoleUser, User: "alice", TTL: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) != len(TokenPrefix)+43 {
		t.Fatalf("token %q has the wrong shape", secret)
	}
	tests := []struct {
		name      string
		presented string
		at        time.Time
		want      error
	}{
		{"valid", secret, now.Add(time.Minute), nil},
		{"wrong prefix", "xyz" + secret, now, ErrTokenInvalid},
		{"unknown", otherLastChar(secret), now, ErrTokenInvalid},
		{"expired", secret, now.Add(time.Hour), ErrTokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.LookupToken(ctx, tt.presented, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && (got.ID != tok.ID || got.User != "alice" || got.Role != RoleUser || got.LastUsedAt.IsZero()) {
				t.Fatalf("got %+v", got)
			}
		})
	}
	if _, err := s.RevokeToken(ctx, tok.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupToken(ctx, secret, now); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("after revoke: %v", err)
	}
	if _, err := s.RevokeToken(ctx, "tok_nope", now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if _, _, err := s.CreateToken(ctx, TokenSpec{Name: "x", Role: "root", User: "a"}); err == nil {
		t.Fatal("unknown role accepted")
	}
	list, err := s.Tokens(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("tokens = %v, %v", list, err)
	}
}

// TestGroupCommitIsolatesFailures runs many concurrent writes, some failing,
// and checks that exactly the successful ones were kept.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "byov.db"))
	var wg sync.WaitGroup
	errs := make([]error, 64)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx *Tx) error {
				if err := tx.PutSession(&Session{ID: fmt.Sprint("s", i), Requester: "a", Activity: "x", Resource: "r",
					State: "pending", CreatedAt: time.Now()}); err != nil {
					return err
				}
				if i%3 == 0 {
					return fmt.Errorf("write %d refused", i)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		_, gerr := s.Session(ctx, fmt.Sprint("s", i))
		if i%3 == 0 {
			if err == nil || !errors.Is(gerr, ErrNotFound) {
				t.Errorf("write %d: err %v, read %v; want it refused and absent", i, err, gerr)
			}
		} else if err != nil || gerr != nil {
			t.Errorf("write %d: err %v, read %v", i, err, gerr)
		}
	}
	all, err := s.Sessions(ctx, SessionFilter{Limit: -1})
	if err != nil || len(all) != 42 {
		t.Fatalf("sessions = %d, %v; want 42", len(all), err)
	}
}

func TestAuditTableIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "byov.db"))
	err := s.Update(ctx, func(tx *Tx) error {
		return tx.InsertAudit(AuditRow{Seq: 1, Time: time.Now(), Type: "t", Detail: "{}", PrevHash: []byte{}, Hash: []byte{1}})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"UPDATE audit SET actor = 'x'", "DELETE FROM audit"} {
		err := s.Update(ctx, func(tx *Tx) error { _, err := tx.tx.Exec(q); return err })
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v", q, err)
		}
	}
}

func TestUpdateAfterClose(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "byov.db"))
	s.Close()
	if err := s.Update(context.Background(), func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
}

// otherLastChar changes the token's last character, whatever it was (a
// fixed replacement would equal it once in 64 runs).
func otherLastChar(token string) string {
	last := token[len(token)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return token[:len(token)-1] + string(repl)
}
