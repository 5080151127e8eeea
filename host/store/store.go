// Package store keeps the host's state in one SQLite file: activity sessions,
// audit records and API tokens. It knows rows and transactions, not rules:
// the session state machine lives in host/sessions and the audit hash chain in
// host/audit, both writing through this package.
//
// # Durability
//
// The file runs in WAL mode with synchronous=FULL. In WAL mode NORMAL only
// syncs at checkpoints, so a commit acknowledged to an API client could be
// lost with the machine's power; FULL syncs the WAL on every commit, which is
// what "the audit record is durable before the API answers" needs. The cost
// of that fsync is shared by group commit: Update queues its function, and one
// committer goroutine runs every function waiting at that moment inside one
// transaction (each under its own savepoint, so one failing function leaves
// the others alone) and commits once. Update returns only after that commit,
// so a nil error means the write is on disk.
//
// Writers in this process never wait on SQLite's busy handler, because only the
// committer writes; busy_timeout is for other processes opening the file (a
// backup, `sqlite3` in an operator's hands). Readers use a small pool and, in
// WAL mode, never block the writer or each other.
//
// # Schema
//
// The schema version is kept in PRAGMA user_version and moved forward by the
// migrations in this package, each in its own transaction. A file written by a
// newer byov is refused with both versions named, rather than half-understood.
// The audit table refuses UPDATE and DELETE through triggers: that stops
// mistakes, not an attacker with the file, which is what the hash chain of
// host/audit is for.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SchemaVersion is the newest schema this package writes and reads.
const SchemaVersion = 1

// applicationID marks the file as byov host state ("byos" in ASCII), so that
// pointing the host at some other SQLite file, such as the builtin vault, is
// refused instead of written to.
const applicationID = 0x62796f73

// busyTimeout is how long a statement waits for another process holding the
// file's write lock.
const busyTimeout = 5 * time.Second

// maxBatch bounds how many queued writes share one commit, so that one commit
// cannot grow without limit under a burst.
const maxBatch = 256

// ErrNotFound is returned when a session or token does not exist.
var ErrNotFound = errors.New("not found")

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errors.New("the state store is closed")

// ErrSchemaTooNew is returned by Open for a file written by a newer byov.
var ErrSchemaTooNew = errors.New("the state file was written by a newer byov")

// Store is an open state file. It is safe for concurrent use.
type Store struct {
	path string
	db   *sql.DB

	// wconn is the committer's own connection: statements prepared on it
	// are reused by every transaction instead of being parsed again.
	wconn     *sql.Conn
	stmts     map[string]*sql.Stmt // owned by the committer goroutine
	writes    chan *write
	closing   chan struct{}
	committer sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	mu        sync.RWMutex // held for reading by Update while it queues, for writing by Close
	closed    bool
}

type write struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

// Path returns the absolute path of the state file.
func (s *Store) Path() string { return s.path }

// Open opens the state file at path, creating it (and its directory, owner
// only) when it is missing, and brings its schema up to SchemaVersion.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("no state file given: set server.data_dir in the configuration")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve the state file path %s: %w", path, err)
	}
	if err := createFile(abs); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("cannot open the state file %s: %w", abs, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	s := &Store{path: abs, db: db, writes: make(chan *write, maxBatch), closing: make(chan struct{}),
		stmts: map[string]*sql.Stmt{}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.wconn, err = db.Conn(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot open the state file %s: %w", abs, err)
	}
	s.committer.Add(1)
	go s.commitLoop()
	return s, nil
}

// createFile makes an empty file with owner-only permissions, which SQLite's
// -wal and -shm files then inherit; API token hashes and session facts are
// nobody else's business.
func createFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("the state file %s is a directory; point server.data_dir at a directory and let byov name the file", path)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot read the state file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("cannot create the directory of the state file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("cannot create the state file: %w", err)
	}
	if f != nil {
		f.Close()
	}
	return nil
}

// dsn builds the SQLite URI. mode=rw: the file was created by createFile with
// the right permissions, and SQLite must not make another one on a typo.
func dsn(path string) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	return "file:" + escaped + "?mode=rw" +
		"&_busy_timeout=" + strconv.Itoa(int(busyTimeout/time.Millisecond)) +
		"&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate&_foreign_keys=1"
}

// Close waits for queued writes to commit and closes the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.closing)
		s.committer.Wait()
		for _, st := range s.stmts {
			st.Close()
		}
		s.wconn.Close()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("closing the state file %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// Tx is a write transaction handed to an Update function. It is only valid
// during that call. Functions run one after another on the committer, so they
// must be quick: no network calls, no waiting on other goroutines.
type Tx struct {
	ctx context.Context
	tx  *sql.Tx
	s   *Store
}

// stmt returns query prepared in the transaction, reusing the committer's
// prepared statement: parsing SQL was a third of the cost of a write.
func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	st, ok := t.s.stmts[query]
	if !ok {
		var err error
		if st, err = t.s.db.PrepareContext(t.ctx, query); err != nil {
			return nil, err
		}
		t.s.stmts[query] = st
	}
	return t.tx.StmtContext(t.ctx, st), nil
}

func (t *Tx) exec(query string, args ...any) error {
	st, err := t.stmt(query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(t.ctx, args...)
	return err
}

func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	st, err := t.stmt(query)
	if err != nil {
		// A Row cannot carry an error of its own; the plain query
		// reports the same problem when scanned.
		return t.tx.QueryRowContext(t.ctx, query, args...)
	}
	return st.QueryRowContext(t.ctx, args...)
}

// Update runs fn in a write transaction and returns once it is durably
// committed. When fn returns an error nothing it wrote is kept, and that error
// is returned. fn may share its transaction with other queued writes (group
// commit) but never sees their failures.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("the write to the state file was abandoned: %w", err)
	}
	w := &write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.writes <- w:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return fmt.Errorf("the write to the state file was abandoned: %w", ctx.Err())
	}
	// Once queued, wait for the outcome even if ctx ends: the write may
	// already be committed, and the caller must know.
	return <-w.done
}

func (s *Store) commitLoop() {
	defer s.committer.Done()
	batch := make([]*write, 0, maxBatch)
	for {
		select {
		case w := <-s.writes:
			batch = append(batch[:0], w)
		case <-s.closing:
			// Update refuses new writes once closed is set, so what is
			// queued now is all there will be.
			for {
				select {
				case w := <-s.writes:
					s.commit([]*write{w})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case w := <-s.writes:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		s.commit(batch)
	}
}

// commit runs a batch in one transaction, each write under a savepoint.
func (s *Store) commit(batch []*write) {
	results := make([]error, len(batch))
	finish := func(commitErr error) {
		for i, w := range batch {
			if results[i] == nil {
				results[i] = commitErr
			}
			w.done <- results[i]
		}
	}
	tx, err := s.wconn.BeginTx(context.Background(), nil)
	if err != nil {
		finish(fmt.Errorf("cannot start a write on the state file %s: %w", s.path, err))
		return
	}
	for i, w := range batch {
		if err := w.ctx.Err(); err != nil {
			results[i] = fmt.Errorf("the write to the state file was abandoned: %w", err)
			continue
		}
		if _, err := tx.Exec("SAVEPOINT w"); err != nil {
			results[i] = fmt.Errorf("cannot write to the state file %s: %w", s.path, err)
			continue
		}
		err := runWrite(s, w, tx)
		if err != nil {
			results[i] = err
			if _, rerr := tx.Exec("ROLLBACK TO w"); rerr != nil {
				// The transaction is in an unknown state: give up on
				// the whole batch rather than commit half a write.
				tx.Rollback()
				finish(fmt.Errorf("cannot undo a failed write on the state file %s: %w", s.path, rerr))
				return
			}
		}
		if _, err := tx.Exec("RELEASE w"); err != nil {
			tx.Rollback()
			finish(fmt.Errorf("cannot write to the state file %s: %w", s.path, err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		finish(fmt.Errorf("cannot commit to the state file %s: %w", s.path, err))
		return
	}
	finish(nil)
}

// runWrite calls the write's function, turning a panic in it into an error so
// that one faulty caller cannot take the committer, and every other writer,
// down with it.
func runWrite(s *Store, w *write, tx *sql.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("a write to the state file failed: %v", r)
		}
	}()
	return w.fn(&Tx{ctx: w.ctx, tx: tx, s: s})
}

// migrations[i] takes the schema from version i to i+1.
var migrations = []string{
	`
CREATE TABLE sessions (
	id                 TEXT PRIMARY KEY,
	requester          TEXT NOT NULL,
	groups_json        TEXT NOT NULL DEFAULT '[]',
	activity           TEXT NOT NULL,
	resource           TEXT NOT NULL,
	connector          TEXT NOT NULL DEFAULT '',
	account_domain     TEXT NOT NULL DEFAULT '',
	account_username   TEXT NOT NULL DEFAULT '',
	reason             TEXT NOT NULL DEFAULT '',
	policy             TEXT NOT NULL DEFAULT '',
	profile            TEXT NOT NULL DEFAULT '',
	allow_password     INTEGER NOT NULL DEFAULT 0,
	state              TEXT NOT NULL,
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL,
	available_at       INTEGER NOT NULL DEFAULT 0,
	expires_at         INTEGER NOT NULL DEFAULT 0,
	ended_at           INTEGER NOT NULL DEFAULT 0,
	ended_by           TEXT NOT NULL DEFAULT '',
	end_reason         TEXT NOT NULL DEFAULT '',
	error_code         TEXT NOT NULL DEFAULT '',
	error_message      TEXT NOT NULL DEFAULT '',
	error_hint         TEXT NOT NULL DEFAULT '',
	lease_id           TEXT NOT NULL DEFAULT '',
	credential_user    TEXT NOT NULL DEFAULT '',
	checkin_error      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_state ON sessions(state, expires_at);
CREATE INDEX sessions_requester ON sessions(requester, created_at);

CREATE TABLE audit (
	seq        INTEGER PRIMARY KEY,
	time       INTEGER NOT NULL,
	type       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	session_id TEXT NOT NULL,
	connector  TEXT NOT NULL,
	resource   TEXT NOT NULL,
	activity   TEXT NOT NULL,
	outcome    TEXT NOT NULL,
	detail     TEXT NOT NULL,
	prev_hash  BLOB NOT NULL,
	hash       BLOB NOT NULL
) STRICT;
CREATE INDEX audit_session ON audit(session_id, seq) WHERE session_id <> '';
CREATE INDEX audit_type ON audit(type, seq);
CREATE INDEX audit_time ON audit(time);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
-- The chain head, kept beside the chain so that cutting records off its end
-- is noticed too.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash BLOB NOT NULL
) STRICT;

CREATE TABLE tokens (
	id           TEXT PRIMARY KEY,
	hash         BLOB NOT NULL UNIQUE,
	name         TEXT NOT NULL,
	role         TEXT NOT NULL,
	user         TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL DEFAULT 0,
	last_used_at INTEGER NOT NULL DEFAULT 0,
	revoked_at   INTEGER NOT NULL DEFAULT 0
) STRICT;
`,
}

func (s *Store) migrate(ctx context.Context) error {
	var appID, version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return fmt.Errorf("cannot read the state file %s: %w", s.path, err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("cannot read the state file %s: %w", s.path, err)
	}
	if appID != 0 && appID != applicationID {
		return fmt.Errorf("%s is not a byov state file (it is some other SQLite database); point server.data_dir elsewhere", s.path)
	}
	if appID == 0 && version != 0 {
		return fmt.Errorf("%s is not a byov state file (it is some other SQLite database); point server.data_dir elsewhere", s.path)
	}
	if version > SchemaVersion {
		return fmt.Errorf("%w: %s has schema version %d and this byov understands up to version %d; run a newer byov or restore a backup",
			ErrSchemaTooNew, s.path, version, SchemaVersion)
	}
	for v := version; v < SchemaVersion; v++ {
		if err := s.migrateOne(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) migrateOne(ctx context.Context, from int) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cannot upgrade the state file %s: %w", s.path, err)
	}
	defer tx.Rollback()
	// Another process may have migrated while this one waited for the lock.
	var now int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&now); err != nil {
		return fmt.Errorf("cannot read the state file %s: %w", s.path, err)
	}
	if now != from {
		return nil
	}
	if _, err := tx.ExecContext(ctx, migrations[from]); err != nil {
		return fmt.Errorf("cannot upgrade the state file %s from schema version %d to %d: %w", s.path, from, from+1, err)
	}
	// PRAGMA takes no parameters; both values are integers of ours.
	pragmas := fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", applicationID, from+1)
	if _, err := tx.ExecContext(ctx, pragmas); err != nil {
		return fmt.Errorf("cannot upgrade the state file %s: %w", s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cannot upgrade the state file %s from schema version %d to %d: %w", s.path, from, from+1, err)
	}
	return nil
}

// Schema returns the schema version of the open file.
func (s *Store) Schema(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("cannot read the state file %s: %w", s.path, err)
	}
	return v, nil
}

// nanos stores times as Unix nanoseconds, 0 for the zero time, so that
// ordering and range queries work on integers and nothing depends on the
// driver's time formatting.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
