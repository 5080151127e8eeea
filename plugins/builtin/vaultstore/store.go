// Package vaultstore is the encrypted account store behind byov's builtin
// vault connector: one SQLite file holding accounts (DOMAIN\username,
// description, tags) and a few versions of each account's secret.
//
// Every secret version is sealed with XChaCha20-Poly1305 under a random data
// key. The data key is stored wrapped by the master key, which comes from a
// key file or from a passphrase through Argon2id. The associated data of each
// ciphertext names the vault, the account row, the account's name and the
// version, so a ciphertext that is altered or moved to another row fails to
// open, and the error names the account it was read for. Account names,
// descriptions and tags are stored in the clear: they are what List shows
// and are not secret.
//
// A Store is safe for concurrent use, and a process may hold many Stores on
// different files. The store does no logging at all and no error it returns
// quotes a secret: callers may log errors freely.
package vaultstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/byov/byov/sdk"
	"modernc.org/sqlite"
)

// SchemaVersion is the version of the file layout this package writes and
// reads. A file with a higher version is refused rather than half-understood.
const SchemaVersion = 1

// applicationID marks a SQLite file as a byov vault ("byov" in ASCII), so
// that pointing path at some other database is refused instead of written to.
const applicationID = 0x62796f76

// DefaultKeepVersions is how many versions of each secret are kept when
// Options.KeepVersions is zero: the current one and four before it.
const DefaultKeepVersions = 5

// busyTimeout is how long a statement waits for another writer (another
// instance or process on the same file) before failing.
const busyTimeout = 5 * time.Second

// Options says which vault file to open and with which master key.
type Options struct {
	// Path is the SQLite file.
	Path string
	// Create allows creating the vault file (and the key file, when KeyFile
	// is used) if it does not exist. Without it a missing file is an error,
	// so a typo in a path cannot silently start an empty vault.
	Create bool
	// KeyFile names a file holding the master key. Exactly one of KeyFile
	// and Passphrase must be set.
	KeyFile string
	// Passphrase derives the master key through Argon2id.
	Passphrase sdk.Secret
	// KeepVersions is how many versions of a secret to keep, the current one
	// included; older ones are deleted when a new one is stored. Zero means
	// DefaultKeepVersions.
	KeepVersions int
	// Argon2 sets the passphrase key derivation cost for a vault being
	// created; an existing vault uses the parameters stored in it. Zero means
	// DefaultArgon2.
	Argon2 Argon2Params
}

// Store is an open vault file.
type Store struct {
	path    string
	db      *sql.DB
	seal    *sealer
	keep    int64
	check   []byte // key check value of the master key this store was opened with
	created bool
	closed  atomic.Bool

	getStmt *sql.Stmt
}

// Path returns the absolute path of the vault file.
func (s *Store) Path() string { return s.path }

// Created reports whether Open created the vault file.
func (s *Store) Created() bool { return s.created }

// Close closes the file. Calls in flight may fail with ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.getStmt.Close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing the vault file %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) usable() error {
	if s.closed.Load() {
		return fmt.Errorf("%w: %s", ErrClosed, s.path)
	}
	return nil
}

// Open opens the vault file named by opts, creating it when it is missing
// and opts.Create is set. It checks the master key before anything is
// written: a wrong key or passphrase is an ErrWrongKey and leaves the file as
// it was.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, fmt.Errorf("%w: no vault file given; set path", ErrInvalid)
	}
	if (opts.KeyFile == "") == (opts.Passphrase == "") {
		return nil, fmt.Errorf("%w: set exactly one of key_file and passphrase to give the vault's master key", ErrInvalid)
	}
	keep := opts.KeepVersions
	if keep == 0 {
		keep = DefaultKeepVersions
	}
	if keep < 1 {
		return nil, fmt.Errorf("%w: keep_versions is %d; it must be at least 1 (the current version)", ErrInvalid, opts.KeepVersions)
	}
	path, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve the vault path %s: %w", opts.Path, err)
	}
	s := &Store{path: path, keep: int64(keep)}

	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !opts.Create {
			return nil, fmt.Errorf("%w: %s; set create = true to start a new vault there, or correct path", ErrMissingFile, path)
		}
		err = s.create(ctx, opts, true)
	case err != nil:
		return nil, fmt.Errorf("cannot read the vault file: %w", err)
	case fi.IsDir():
		return nil, fmt.Errorf("%w: %s is a directory; path must name a file", ErrNotVault, path)
	case fi.Size() == 0:
		// An empty file is what a creation that died before its first
		// commit leaves behind (or an operator's touch): fine to fill in
		// when creation is allowed, never otherwise.
		if !opts.Create {
			return nil, fmt.Errorf("%w: %s is empty; set create = true to start a new vault in it, or correct path", ErrNotVault, path)
		}
		err = s.create(ctx, opts, false)
	default:
		err = s.open(ctx, opts)
	}
	if err != nil {
		if s.db != nil {
			s.db.Close()
		}
		return nil, err
	}
	s.getStmt, err = s.db.PrepareContext(ctx, getQuery)
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("preparing the account lookup on %s: %w", path, err)
	}
	return s, nil
}

// dsn builds the SQLite URI. mode=rw makes SQLite refuse to create a file:
// creation is done by Open itself, with owner-only permissions, which the
// -wal and -shm files then inherit. Immediate transactions take the write
// lock up front, so two writers wait on the busy timeout instead of one of
// them failing on a lock upgrade. secure_delete zeroes the pages of pruned
// and deleted versions rather than leaving them in free pages.
func dsn(path, mode string) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	return "file:" + escaped + "?mode=" + mode +
		"&_busy_timeout=" + strconv.Itoa(int(busyTimeout/time.Millisecond)) +
		"&_foreign_keys=1&_synchronous=FULL&_txlock=immediate" +
		"&_pragma=secure_delete(1)"
}

func (s *Store) openDB() error {
	db, err := sql.Open("sqlite", dsn(s.path, "rw"))
	if err != nil {
		return fmt.Errorf("cannot open the vault file %s: %w", s.path, err)
	}
	// Enough connections for concurrent checkouts (WAL readers do not block
	// each other) without one file descriptor per goroutine.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	s.db = db
	return nil
}

const schemaSQL = `
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;
-- AUTOINCREMENT so that the id of a deleted account is never reused: a
-- secret bound to a dead id can never open under a new account.
CREATE TABLE accounts (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	lookup      TEXT NOT NULL UNIQUE,
	domain      TEXT NOT NULL,
	username    TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	tags        TEXT NOT NULL DEFAULT '{}',
	version     INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
) STRICT;
CREATE TABLE secrets (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	version    INTEGER NOT NULL,
	nonce      BLOB NOT NULL,
	ciphertext BLOB NOT NULL,
	origin     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (account_id, version)
) STRICT, WITHOUT ROWID;
`

// Names in the meta table.
const (
	metaVaultID   = "vault_id"
	metaCreatedAt = "created_at"
	metaAEAD      = "aead"
	metaKDF       = "kdf"
	metaSalt      = "argon2id_salt"
	metaTime      = "argon2id_time"
	metaMemory    = "argon2id_memory_kib"
	metaThreads   = "argon2id_threads"
	metaKeyCheck  = "key_check"
	metaDataKey   = "data_key"
)

// Values of metaKDF: how the master key is obtained.
const (
	kdfKeyFile  = "key_file"
	kdfArgon2id = "argon2id"
)

// create makes a new vault. fresh says the file did not exist, so that a
// failure can remove what this call made and a retry starts clean.
func (s *Store) create(ctx context.Context, opts Options, fresh bool) (err error) {
	var cleanup []string
	defer func() {
		if err != nil {
			if s.db != nil {
				s.db.Close()
				s.db = nil
			}
			for _, p := range cleanup {
				os.Remove(p)
			}
		}
	}()

	meta := map[string][]byte{}
	var master []byte
	if opts.KeyFile != "" {
		meta[metaKDF] = []byte(kdfKeyFile)
		master, err = readKeyFile(opts.KeyFile)
		if errors.Is(err, ErrMissingFile) {
			// A new vault may get a new key; an existing vault never
			// does (see open), because a fresh key could not open it.
			master, err = createKeyFile(opts.KeyFile)
			if err == nil {
				cleanup = append(cleanup, opts.KeyFile)
			}
		}
		if err != nil {
			return err
		}
	} else {
		p := opts.Argon2
		if p == (Argon2Params{}) {
			p = DefaultArgon2
		}
		if err := p.validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		salt := make([]byte, 16)
		rand.Read(salt)
		master = passphraseKey(opts.Passphrase.Reveal(), salt, p)
		meta[metaKDF] = []byte(kdfArgon2id)
		meta[metaSalt] = salt
		meta[metaTime] = []byte(strconv.FormatUint(uint64(p.Time), 10))
		meta[metaMemory] = []byte(strconv.FormatUint(uint64(p.MemoryKiB), 10))
		meta[metaThreads] = []byte(strconv.FormatUint(uint64(p.Threads), 10))
	}

	vaultID := make([]byte, 16)
	rand.Read(vaultID)
	dataKey := make([]byte, keySize)
	rand.Read(dataKey)
	wrapped, err := wrapDataKey(master, vaultID, dataKey)
	if err != nil {
		return fmt.Errorf("wrapping the new data key: %w", err)
	}
	meta[metaVaultID] = vaultID
	meta[metaCreatedAt] = []byte(time.Now().UTC().Format(time.RFC3339))
	meta[metaAEAD] = []byte(aeadName)
	meta[metaKeyCheck] = keyCheck(master)
	meta[metaDataKey] = wrapped

	if fresh {
		if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
			return fmt.Errorf("cannot create the vault's directory: %w", err)
		}
		f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("cannot create the vault file: %w", err)
		}
		f.Close()
		cleanup = append(cleanup, s.path, s.path+"-wal", s.path+"-shm")
	}
	if err := s.openDB(); err != nil {
		return err
	}
	// WAL is a property of the file; set before the first table exists.
	if _, err := s.db.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
		return fmt.Errorf("cannot switch the new vault %s to WAL mode: %w", s.path, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cannot write the new vault %s: %w", s.path, err)
	}
	defer tx.Rollback()
	// Another process may have initialised the same empty file meanwhile;
	// the immediate transaction makes this check and the writes one step.
	var appID int64
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return fmt.Errorf("cannot read the new vault %s: %w", s.path, err)
	}
	if appID != 0 {
		tx.Rollback()
		cleanup = nil
		return s.open(ctx, opts)
	}
	if _, err := tx.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("cannot create the vault's tables in %s: %w", s.path, err)
	}
	for name, value := range meta {
		if _, err := tx.ExecContext(ctx, "INSERT INTO meta(name, value) VALUES (?, ?)", name, value); err != nil {
			return fmt.Errorf("cannot write the vault's metadata in %s: %w", s.path, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id=%d", applicationID)); err != nil {
		return fmt.Errorf("cannot mark %s as a byov vault: %w", s.path, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version=%d", SchemaVersion)); err != nil {
		return fmt.Errorf("cannot set the schema version of %s: %w", s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cannot write the new vault %s: %w", s.path, err)
	}
	s.seal, err = newSealer(dataKey, vaultID)
	if err != nil {
		return err
	}
	s.check = meta[metaKeyCheck]
	s.created = true
	return nil
}

// open opens an existing vault. Everything up to the key check goes through
// a read-only handle: a read-write connection, closed as the last one on a
// file whose previous writer crashed, would checkpoint the -wal file into
// the vault, and a refused key must leave both byte for byte as they were.
func (s *Store) open(ctx context.Context, opts Options) error {
	ro, err := sql.Open("sqlite", dsn(s.path, "ro"))
	if err != nil {
		return fmt.Errorf("cannot open the vault file %s: %w", s.path, err)
	}
	defer ro.Close()
	ro.SetMaxOpenConns(1)
	if err := s.unlock(ctx, ro, opts); err != nil {
		return err
	}
	ro.Close()
	if s.db == nil {
		if err := s.openDB(); err != nil {
			return err
		}
	}
	// A file restored from some backups comes back in rollback-journal mode;
	// switch it back now that the key is known to be right.
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err == nil && !strings.EqualFold(mode, "wal") {
		if _, err := s.db.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
			return fmt.Errorf("cannot switch the vault %s to WAL mode: %w", s.path, err)
		}
	}
	return nil
}

// unlock checks that the file is a vault this package can read, derives the
// master key, checks it and unwraps the data key, reading through db only.
func (s *Store) unlock(ctx context.Context, db *sql.DB, opts Options) error {
	var appID, version int64
	if err := db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == 26 { // SQLITE_NOTADB
			return fmt.Errorf("%w: %s is not an SQLite database; check path", ErrNotVault, s.path)
		}
		return fmt.Errorf("cannot read the vault file %s: %w", s.path, err)
	}
	if appID != applicationID {
		return fmt.Errorf("%w: %s is an SQLite database but not a byov vault; check path", ErrNotVault, s.path)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("cannot read the vault file %s: %w", s.path, err)
	}
	if version > SchemaVersion {
		return fmt.Errorf("%w: %s has schema version %d, but this byov understands schema version %d at most; "+
			"upgrade the builtin connector (the file was left untouched)", ErrSchemaTooNew, s.path, version, SchemaVersion)
	}
	if version < 1 {
		return fmt.Errorf("%w: %s has no schema version; it is damaged or was not made by byov", ErrNotVault, s.path)
	}

	meta := map[string][]byte{}
	rows, err := db.QueryContext(ctx, "SELECT name, value FROM meta")
	if err != nil {
		return fmt.Errorf("cannot read the metadata of the vault %s: %w", s.path, err)
	}
	for rows.Next() {
		var name string
		var value []byte
		if err := rows.Scan(&name, &value); err != nil {
			rows.Close()
			return fmt.Errorf("cannot read the metadata of the vault %s: %w", s.path, err)
		}
		meta[name] = value
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("cannot read the metadata of the vault %s: %w", s.path, err)
	}
	damaged := func(what string) error {
		return fmt.Errorf("%w: the metadata of the vault %s is unreadable (%s); restore the file from a backup", ErrDamaged, s.path, what)
	}
	if a := string(meta[metaAEAD]); a != aeadName {
		return damaged(fmt.Sprintf("unknown cipher %q", a))
	}
	if len(meta[metaVaultID]) == 0 || len(meta[metaKeyCheck]) == 0 || len(meta[metaDataKey]) == 0 {
		return damaged("the vault id, key check or data key is missing")
	}

	var master []byte
	switch kdf := string(meta[metaKDF]); kdf {
	case kdfKeyFile:
		if opts.KeyFile == "" {
			return fmt.Errorf("%w: the vault %s was created with a key file, but a passphrase was given; set key_file instead of passphrase", ErrWrongKey, s.path)
		}
		master, err = readKeyFile(opts.KeyFile)
		if errors.Is(err, ErrMissingFile) {
			// Never make a new key for an existing vault: it could not
			// open it, and would only hide where the real key went.
			return fmt.Errorf("%w: the key file %s does not exist, and the vault %s already does; "+
				"restore the key file it was created with from your backup", ErrMissingFile, opts.KeyFile, s.path)
		}
		if err != nil {
			return err
		}
	case kdfArgon2id:
		if opts.Passphrase == "" {
			return fmt.Errorf("%w: the vault %s was created with a passphrase, but a key file was given; set passphrase instead of key_file", ErrWrongKey, s.path)
		}
		p, perr := argon2FromMeta(meta)
		if perr != nil {
			return damaged(perr.Error())
		}
		master = passphraseKey(opts.Passphrase.Reveal(), meta[metaSalt], p)
	default:
		return damaged(fmt.Sprintf("unknown key derivation %q", kdf))
	}

	if !keyCheckMatches(master, meta[metaKeyCheck]) {
		hint := "check key_file"
		if opts.Passphrase != "" {
			hint = "check passphrase"
		}
		return fmt.Errorf("%w: the master key does not open the vault %s; %s (nothing was changed)", ErrWrongKey, s.path, hint)
	}
	dataKey, err := unwrapDataKey(master, meta[metaVaultID], meta[metaDataKey])
	if err != nil {
		// The key check passed, so the key is right and the stored data
		// key itself was altered.
		return damaged(err.Error())
	}
	s.seal, err = newSealer(dataKey, meta[metaVaultID])
	if err != nil {
		return err
	}
	s.check = meta[metaKeyCheck]
	return nil
}

func argon2FromMeta(meta map[string][]byte) (Argon2Params, error) {
	num := func(name string, bits int) (uint64, error) {
		n, err := strconv.ParseUint(string(meta[name]), 10, bits)
		if err != nil {
			return 0, fmt.Errorf("%s is not a number", name)
		}
		return n, nil
	}
	t, err := num(metaTime, 32)
	if err != nil {
		return Argon2Params{}, err
	}
	m, err := num(metaMemory, 32)
	if err != nil {
		return Argon2Params{}, err
	}
	th, err := num(metaThreads, 8)
	if err != nil {
		return Argon2Params{}, err
	}
	if len(meta[metaSalt]) < 16 {
		return Argon2Params{}, errors.New("the argon2id salt is missing or short")
	}
	p := Argon2Params{Time: uint32(t), MemoryKiB: uint32(m), Threads: uint8(th)}
	return p, p.validate()
}

// Verify re-reads the key check from the file, to notice a file replaced
// under a running store, and then opens every stored secret version. Damaged
// versions are listed in the report; an error means the check could not run.
func (s *Store) Verify(ctx context.Context) (Report, error) {
	if err := s.usable(); err != nil {
		return Report{}, err
	}
	var check []byte
	err := s.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE name = ?", metaKeyCheck).Scan(&check)
	if err != nil {
		return Report{}, fmt.Errorf("cannot read the key check of the vault %s: %w", s.path, err)
	}
	if !bytes.Equal(check, s.check) {
		return Report{}, fmt.Errorf("%w: the vault file %s has changed under the running connector and the key it was opened with no longer fits; reconfigure the connector", ErrWrongKey, s.path)
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT a.id, a.lookup, a.domain, a.username, s.version, s.nonce, s.ciphertext
		FROM accounts a JOIN secrets s ON s.account_id = a.id
		ORDER BY a.lookup, s.version`)
	if err != nil {
		return Report{}, fmt.Errorf("cannot read the secrets of the vault %s: %w", s.path, err)
	}
	defer rows.Close()
	var r Report
	for rows.Next() {
		var id, version int64
		var lookup, domain, username string
		var nonce, ct []byte
		if err := rows.Scan(&id, &lookup, &domain, &username, &version, &nonce, &ct); err != nil {
			return Report{}, fmt.Errorf("cannot read the secrets of the vault %s: %w", s.path, err)
		}
		r.Versions++
		if _, err := s.seal.open(nonce, ct, s.seal.secretAD(id, version, lookup)); err != nil {
			r.Damaged = append(r.Damaged, &IntegrityError{
				Account: sdk.Account{Domain: domain, Username: username}, Version: version, Reason: err.Error()})
		}
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("cannot read the secrets of the vault %s: %w", s.path, err)
	}
	rows.Close()
	// Accounts whose current version row is gone: Get fails for them too.
	orphans, err := s.db.QueryContext(ctx, `
		SELECT a.domain, a.username, a.version FROM accounts a
		WHERE NOT EXISTS (SELECT 1 FROM secrets s WHERE s.account_id = a.id AND s.version = a.version)
		ORDER BY a.lookup`)
	if err != nil {
		return Report{}, fmt.Errorf("cannot read the accounts of the vault %s: %w", s.path, err)
	}
	defer orphans.Close()
	for orphans.Next() {
		ie := &IntegrityError{Reason: "its current version is missing from the file"}
		if err := orphans.Scan(&ie.Account.Domain, &ie.Account.Username, &ie.Version); err != nil {
			return Report{}, fmt.Errorf("cannot read the accounts of the vault %s: %w", s.path, err)
		}
		r.Damaged = append(r.Damaged, ie)
	}
	if err := orphans.Err(); err != nil {
		return Report{}, fmt.Errorf("cannot read the accounts of the vault %s: %w", s.path, err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM accounts").Scan(&r.Accounts); err != nil {
		return Report{}, fmt.Errorf("cannot count the accounts of the vault %s: %w", s.path, err)
	}
	return r, nil
}

// Report is the result of Verify.
type Report struct {
	Accounts int
	Versions int
	// Damaged lists the secret versions that did not open.
	Damaged []*IntegrityError
}
