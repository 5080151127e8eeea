package vaultstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/byov/byov/sdk"
)

// Entry is a checked-out secret with the account as the vault stores it.
type Entry struct {
	// Account is the name as first stored (its original case).
	Account sdk.Account
	// ID is the account's row id; it is never reused.
	ID      int64
	Version int64
	Secret  sdk.Secret
}

// Meta is the non-secret data stored beside an account. On Put an empty
// Description and nil Tags keep what the account already has, so that
// storing a new password does not wipe them; non-nil Tags (even empty)
// replace them.
type Meta struct {
	Description string
	Tags        map[string]string
}

// AccountInfo describes a stored account, never its secret.
type AccountInfo struct {
	Account     sdk.Account
	Description string
	Tags        map[string]string
	// Version is the current version; Versions how many are kept.
	Version   int64
	Versions  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// VersionInfo describes one stored version of a secret.
type VersionInfo struct {
	Version int64
	// Origin is "put" or "rotate".
	Origin    string
	CreatedAt time.Time
}

// Origins of a secret version.
const (
	OriginPut    = "put"
	OriginRotate = "rotate"
)

// ParseAccount splits "DOMAIN\username" (or a bare username) into an
// account, as operators type it.
func ParseAccount(s string) sdk.Account {
	if i := strings.LastIndexByte(s, '\\'); i >= 0 {
		return sdk.Account{Domain: s[:i], Username: s[i+1:]}
	}
	return sdk.Account{Username: s}
}

// lookupKey returns the case-folded "DOMAIN\username" the accounts table is
// keyed on, after checking the name. Folding maps each character to the
// smallest of its Unicode simple case folds, the relation strings.EqualFold
// uses, so lookups are case-insensitive beyond ASCII the way Windows names
// are.
func lookupKey(a sdk.Account) (string, error) {
	if a.Username == "" {
		return "", fmt.Errorf("%w: the account %q has no username; write it as DOMAIN\\username", ErrInvalid, a.String())
	}
	for _, part := range []struct{ what, v string }{{"domain", a.Domain}, {"username", a.Username}} {
		if len(part.v) > 256 {
			return "", fmt.Errorf("%w: the %s of account %q is longer than 256 bytes", ErrInvalid, part.what, a.String())
		}
		if !utf8.ValidString(part.v) {
			return "", fmt.Errorf("%w: the %s of account %q is not valid UTF-8", ErrInvalid, part.what, a.String())
		}
		for _, r := range part.v {
			if r == '\\' || unicode.IsControl(r) {
				return "", fmt.Errorf("%w: the %s of account %q contains %q, which an account name cannot hold", ErrInvalid, part.what, a.String(), r)
			}
		}
	}
	return fold(a.Domain) + `\` + fold(a.Username), nil
}

func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

const getQuery = `
	SELECT a.id, a.domain, a.username, a.version, s.nonce, s.ciphertext
	FROM accounts a LEFT JOIN secrets s ON s.account_id = a.id AND s.version = a.version
	WHERE a.lookup = ?`

// Get returns the current secret of an account. A missing account is
// ErrNotFound; a secret that does not open is an *IntegrityError naming the
// account, and other accounts are unaffected.
func (s *Store) Get(ctx context.Context, acct sdk.Account) (*Entry, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	lookup, err := lookupKey(acct)
	if err != nil {
		return nil, err
	}
	var e Entry
	var nonce, ct []byte
	err = s.getStmt.QueryRowContext(ctx, lookup).Scan(&e.ID, &e.Account.Domain, &e.Account.Username, &e.Version, &nonce, &ct)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: the vault %s has no account %s", ErrNotFound, s.path, acct)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read account %s from the vault %s: %w", acct, s.path, err)
	}
	if ct == nil {
		return nil, &IntegrityError{Account: e.Account, Version: e.Version, Reason: "its current version is missing from the file"}
	}
	pt, err := s.seal.open(nonce, ct, s.seal.secretAD(e.ID, e.Version, lookup))
	if err != nil {
		return nil, &IntegrityError{Account: e.Account, Version: e.Version, Reason: err.Error()}
	}
	e.Secret = sdk.Secret(pt)
	return &e, nil
}

// Put stores secret as the account's new current version, creating the
// account if it does not exist, and deletes versions beyond the number to
// keep. It returns the new version number (1 for a new account).
func (s *Store) Put(ctx context.Context, acct sdk.Account, secret sdk.Secret, meta Meta) (int64, error) {
	if secret == "" {
		return 0, fmt.Errorf("%w: the secret for account %s is empty", ErrInvalid, acct)
	}
	return s.store(ctx, acct, secret, meta, OriginPut)
}

// Rotate stores a new random password made by policy as the account's new
// current version and returns that version. The account must exist. It does
// not change the password anywhere but in this vault.
func (s *Store) Rotate(ctx context.Context, acct sdk.Account, policy Policy) (int64, error) {
	secret, err := GeneratePassword(policy)
	if err != nil {
		return 0, err
	}
	return s.store(ctx, acct, secret, Meta{}, OriginRotate)
}

func (s *Store) store(ctx context.Context, acct sdk.Account, secret sdk.Secret, meta Meta, origin string) (int64, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	lookup, err := lookupKey(acct)
	if err != nil {
		return 0, err
	}
	var tags []byte
	if meta.Tags != nil {
		if tags, err = json.Marshal(meta.Tags); err != nil {
			return 0, fmt.Errorf("%w: the tags of account %s cannot be stored: %v", ErrInvalid, acct, err)
		}
	}
	fail := func(err error) (int64, error) {
		return 0, fmt.Errorf("cannot store a new secret for account %s in the vault %s: %w", acct, s.path, err)
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	now := time.Now().UnixMilli()
	var id, version int64
	err = tx.QueryRowContext(ctx, "SELECT id, version FROM accounts WHERE lookup = ?", lookup).Scan(&id, &version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if origin == OriginRotate {
			return 0, fmt.Errorf("%w: the vault %s has no account %s to rotate", ErrNotFound, s.path, acct)
		}
		if tags == nil {
			tags = []byte("{}")
		}
		version = 1
		err = tx.QueryRowContext(ctx, `
			INSERT INTO accounts (lookup, domain, username, description, tags, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			lookup, acct.Domain, acct.Username, meta.Description, string(tags), version, now, now).Scan(&id)
		if err != nil {
			return fail(err)
		}
	case err != nil:
		return fail(err)
	default:
		version++
		_, err = tx.ExecContext(ctx, `
			UPDATE accounts SET version = ?, updated_at = ?,
				description = CASE WHEN ? = '' THEN description ELSE ? END,
				tags = coalesce(?, tags)
			WHERE id = ?`,
			version, now, meta.Description, meta.Description, nullableString(tags), id)
		if err != nil {
			return fail(err)
		}
	}
	nonce, ct := s.seal.seal([]byte(secret.Reveal()), s.seal.secretAD(id, version, lookup))
	_, err = tx.ExecContext(ctx, `
		INSERT INTO secrets (account_id, version, nonce, ciphertext, origin, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, id, version, nonce, ct, origin, now)
	if err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM secrets WHERE account_id = ? AND version <= ?", id, version-s.keep); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return version, nil
}

func nullableString(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// Delete removes an account and every version of its secret.
func (s *Store) Delete(ctx context.Context, acct sdk.Account) error {
	if err := s.usable(); err != nil {
		return err
	}
	lookup, err := lookupKey(acct)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cannot delete account %s from the vault %s: %w", acct, s.path, err)
	}
	defer tx.Rollback()
	// Secrets go explicitly, not only by the foreign key's cascade, so that a
	// connection without foreign_keys could never leave them behind.
	if _, err := tx.ExecContext(ctx, "DELETE FROM secrets WHERE account_id = (SELECT id FROM accounts WHERE lookup = ?)", lookup); err != nil {
		return fmt.Errorf("cannot delete account %s from the vault %s: %w", acct, s.path, err)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM accounts WHERE lookup = ?", lookup)
	if err != nil {
		return fmt.Errorf("cannot delete account %s from the vault %s: %w", acct, s.path, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: the vault %s has no account %s", ErrNotFound, s.path, acct)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cannot delete account %s from the vault %s: %w", acct, s.path, err)
	}
	return nil
}

// List returns the accounts, ordered by name, without their secrets. A
// non-empty domain keeps only that domain's accounts (case-insensitive).
func (s *Store) List(ctx context.Context, domain string) ([]AccountInfo, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT a.domain, a.username, a.description, a.tags, a.version, a.created_at, a.updated_at,
			(SELECT count(*) FROM secrets s WHERE s.account_id = a.id)
		FROM accounts a ORDER BY a.lookup`)
	if err != nil {
		return nil, fmt.Errorf("cannot list the accounts of the vault %s: %w", s.path, err)
	}
	defer rows.Close()
	want := fold(domain)
	var out []AccountInfo
	for rows.Next() {
		var info AccountInfo
		var tags string
		var created, updated int64
		if err := rows.Scan(&info.Account.Domain, &info.Account.Username, &info.Description, &tags,
			&info.Version, &created, &updated, &info.Versions); err != nil {
			return nil, fmt.Errorf("cannot list the accounts of the vault %s: %w", s.path, err)
		}
		if domain != "" && fold(info.Account.Domain) != want {
			continue
		}
		if err := json.Unmarshal([]byte(tags), &info.Tags); err != nil {
			return nil, fmt.Errorf("the tags of account %s in the vault %s are damaged; put the account again with its tags: %w",
				info.Account, s.path, err)
		}
		info.CreatedAt = time.UnixMilli(created)
		info.UpdatedAt = time.UnixMilli(updated)
		out = append(out, info)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot list the accounts of the vault %s: %w", s.path, err)
	}
	return out, nil
}

// Versions lists the kept versions of an account's secret, oldest first.
func (s *Store) Versions(ctx context.Context, acct sdk.Account) ([]VersionInfo, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	lookup, err := lookupKey(acct)
	if err != nil {
		return nil, err
	}
	var id int64
	err = s.db.QueryRowContext(ctx, "SELECT id FROM accounts WHERE lookup = ?", lookup).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: the vault %s has no account %s", ErrNotFound, s.path, acct)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read account %s from the vault %s: %w", acct, s.path, err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT version, origin, created_at FROM secrets WHERE account_id = ? ORDER BY version", id)
	if err != nil {
		return nil, fmt.Errorf("cannot read the versions of account %s: %w", acct, err)
	}
	defer rows.Close()
	var out []VersionInfo
	for rows.Next() {
		var v VersionInfo
		var created int64
		if err := rows.Scan(&v.Version, &v.Origin, &created); err != nil {
			return nil, fmt.Errorf("cannot read the versions of account %s: %w", acct, err)
		}
		v.CreatedAt = time.UnixMilli(created)
		out = append(out, v)
	}
	return out, rows.Err()
}
