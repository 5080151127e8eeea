package audit

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byov/byov/host/store"
)

func openLog(t testing.TB, path string) *Log {
	t.Helper()
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st, Options{})
}

func fill(t testing.TB, l *Log, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		_, err := l.Append(context.Background(), Event{Type: TypeSession("available"), Actor: "alice",
			SessionID: fmt.Sprint("s", i%2), Outcome: OutcomeOK, Detail: map[string]string{"n": fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// tamper runs statements on the closed file the way an intruder with the file
// would: the append-only triggers go first.
func tamper(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range append([]string{"DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete"}, stmts...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	const n = 6
	tests := []struct {
		name     string
		stmts    func(t *testing.T, path string) []string
		firstBad int64
		problem  string
	}{
		{name: "intact", stmts: func(*testing.T, string) []string { return nil }},
		{name: "edited field", firstBad: 3, problem: "record 3 (session.available) was altered",
			stmts: func(*testing.T, string) []string { return []string{"UPDATE audit SET actor = 'mallory' WHERE seq = 3"} }},
		{name: "edited detail", firstBad: 2, problem: "was altered",
			stmts: func(*testing.T, string) []string {
				return []string{`UPDATE audit SET detail = '{"n":"9"}' WHERE seq = 2`}
			}},
		{name: "edited time", firstBad: 5, problem: "was altered",
			stmts: func(*testing.T, string) []string {
				return []string{"UPDATE audit SET time = time - 1000 WHERE seq = 5"}
			}},
		{name: "deleted middle", firstBad: 4, problem: "record 4 is missing: the log goes from record 3 to record 5",
			stmts: func(*testing.T, string) []string { return []string{"DELETE FROM audit WHERE seq = 4"} }},
		{name: "deleted first", firstBad: 1, problem: "record 1 is missing",
			stmts: func(*testing.T, string) []string { return []string{"DELETE FROM audit WHERE seq = 1"} }},
		{name: "deleted last", firstBad: 6, problem: "records 6 to 6 are missing from the end",
			stmts: func(*testing.T, string) []string { return []string{"DELETE FROM audit WHERE seq = 6"} }},
		{name: "deleted last and head rolled back", firstBad: 6, problem: "does not match the chain head's hash",
			stmts: func(*testing.T, string) []string {
				return []string{"DELETE FROM audit WHERE seq = 6", "UPDATE audit_head SET seq = 5"}
			}},
		{name: "renumbered after delete", firstBad: 3, problem: "was altered",
			stmts: func(*testing.T, string) []string {
				return []string{"DELETE FROM audit WHERE seq = 3", "UPDATE audit SET seq = seq - 1 WHERE seq > 3"}
			}},
		{name: "reordered", firstBad: 2, problem: "record 2 (session.available) was altered",
			stmts: func(*testing.T, string) []string {
				return []string{"UPDATE audit SET seq = 100 WHERE seq = 2", "UPDATE audit SET seq = 2 WHERE seq = 3",
					"UPDATE audit SET seq = 3 WHERE seq = 100"}
			}},
		{name: "edited and re-hashed", firstBad: 5, problem: "record 5 does not follow record 4",
			stmts: func(t *testing.T, path string) []string {
				// A careful intruder recomputes the hash of the record
				// they edit; the next record still points at the old one.
				r := readRow(t, path, 4)
				r.Actor = "mallory"
				return []string{fmt.Sprintf("UPDATE audit SET actor = 'mallory', hash = x'%x' WHERE seq = 4", hashRow(r))}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "byov.db")
			l := openLog(t, path)
			fill(t, l, n)
			l.st.Close()
			tamper(t, path, tt.stmts(t, path)...)
			l = openLog(t, path)
			rep, err := l.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tt.firstBad == 0 {
				if !rep.OK || rep.Records != n || rep.LastSeq != n {
					t.Fatalf("report %+v, want intact", rep)
				}
				return
			}
			if rep.OK || rep.FirstBad != tt.firstBad || !strings.Contains(rep.Problem, tt.problem) {
				t.Fatalf("report %+v (%s); want first bad %d with %q", rep, rep, tt.firstBad, tt.problem)
			}
		})
	}
}

func readRow(t *testing.T, path string, seq int64) store.AuditRow {
	t.Helper()
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.AuditRows(context.Background(), store.AuditFilter{AfterSeq: seq - 1, Limit: 1})
	if err != nil || len(rows) != 1 {
		t.Fatalf("row %d: %v", seq, err)
	}
	return rows[0]
}

func TestQuery(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "byov.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := New(st, Options{Now: func() time.Time { clock = clock.Add(time.Minute); return clock }})
	events := []Event{
		{Type: TypeRequestAllowed, SessionID: "a"},
		{Type: TypeSession("provisioning"), SessionID: "a"},
		{Type: TypeRequestDenied, Outcome: OutcomeDenied, Detail: map[string]string{"reason": "no policy"}},
		{Type: TypeSession("available"), SessionID: "a"},
		{Type: TypeCredentialView, SessionID: "a"},
		{Type: TypeSession("completed"), SessionID: "b"},
	}
	for _, e := range events {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		f    Filter
		want []int64
	}{
		{"all", Filter{}, []int64{1, 2, 3, 4, 5, 6}},
		{"session", Filter{SessionID: "a"}, []int64{1, 2, 4, 5}},
		{"type", Filter{Type: TypeRequestDenied}, []int64{3}},
		{"type prefix", Filter{Type: TypeSessionPrefix}, []int64{2, 4, 6}},
		{"since", Filter{Since: time.Date(2026, 3, 1, 0, 5, 0, 0, time.UTC)}, []int64{5, 6}},
		{"page", Filter{AfterSeq: 2, Limit: 2}, []int64{3, 4}},
		{"newest", Filter{Newest: true, Limit: 2}, []int64{6, 5}},
		{"combined", Filter{SessionID: "a", Type: TypeSessionPrefix}, []int64{2, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := l.Query(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range recs {
				got = append(got, r.Seq)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("seqs %v, want %v", got, tt.want)
			}
		})
	}
	recs, _ := l.Query(ctx, Filter{Type: TypeRequestDenied})
	if recs[0].Detail["reason"] != "no policy" || recs[0].PrevHash == "" || len(recs[0].Hash) != 64 {
		t.Fatalf("record %+v", recs[0])
	}
}

func TestConcurrentAppendsKeepTheChain(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "byov.db"))
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := l.Append(context.Background(), Event{Type: TypeConfigReload, Actor: fmt.Sprint(g, "/", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	rep, err := l.Verify(context.Background())
	if err != nil || !rep.OK || rep.Records != 320 {
		t.Fatalf("report %+v, %v", rep, err)
	}
}

func TestAppendRefusesMalformedEvents(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "byov.db"))
	tests := []struct {
		name string
		e    Event
	}{
		{"no type", Event{}},
		{"huge actor", Event{Type: TypeConfigReload, Actor: strings.Repeat("a", 5000)}},
		{"huge detail", Event{Type: TypeConfigReload, Detail: map[string]string{"x": strings.Repeat("a", 9000)}}},
		{"not utf-8", Event{Type: TypeConfigReload, Resource: "\xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := l.Append(context.Background(), tt.e); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if rep, _ := l.Verify(context.Background()); !rep.OK || rep.Records != 0 {
		t.Fatalf("report %+v", rep)
	}
}

// BenchmarkAppend measures durable appends (each Append returns after its
// commit is synced) with 1 and 32 concurrent writers; group commit shares
// fsyncs between the writers.
func BenchmarkAppend(b *testing.B) {
	for _, workers := range []int{1, 32} {
		b.Run(fmt.Sprintf("writers=%d", workers), func(b *testing.B) {
			l := openLog(b, filepath.Join(b.TempDir(), "byov.db"))
			e := Event{Type: TypeCredentialView, Actor: "alice", SessionID: "s-0123456789", Connector: "ps-prod",
				Resource: "srv01", Activity: "domain-admin", Outcome: OutcomeOK}
			b.ResetTimer()
			start := time.Now()
			runWorkers(b, workers, func() error { _, err := l.Append(context.Background(), e); return err })
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// runWorkers calls fn b.N times from exactly workers goroutines (RunParallel
// would tie the count to GOMAXPROCS).
func runWorkers(b *testing.B, workers int, fn func() error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := fn(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
