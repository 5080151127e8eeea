package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TokenPrefix starts every API token, so that one pasted into the wrong place
// (a chat, a commit) is recognisable to people and secret scanners.
const TokenPrefix = "byov_"

// tokenBytes is the randomness in a token: 256 bits.
const tokenBytes = 32

// lastUsedGranularity is how stale last-used may get before a lookup writes
// it: writing on every API call would put an fsync on every request.
const lastUsedGranularity = time.Minute

// Role is what a token may do.
type Role string

const (
	// RoleAdmin may do everything, including ending other users' sessions.
	RoleAdmin Role = "admin"
	// RoleUser may start, see and end its own sessions.
	RoleUser Role = "user"
)

// Errors of LookupToken. The API should answer all of them with 401 and the
// same text, so that a caller cannot probe which tokens exist; the difference
// is for the server's log.
var (
	ErrTokenInvalid = errors.New("the API token is not valid")
	ErrTokenExpired = errors.New("the API token has expired")
	ErrTokenRevoked = errors.New("the API token was revoked")
)

// Token describes an API token; the token itself is never stored.
type Token struct {
	// ID names the token for listing and revoking; it is not a secret.
	ID         string
	Name       string
	Role       Role
	User       string
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// TokenSpec says what token to create.
type TokenSpec struct {
	Name string
	Role Role
	// User is the user name the token acts as, as in the configuration's
	// user blocks.
	User string
	// TTL is how long the token is valid; zero means until revoked.
	TTL time.Duration
	// Now is the creation time; zero means time.Now.
	Now time.Time
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// CreateToken makes a new token and returns it with its description. The
// returned string is the only copy: show it once and forget it.
func (t *Tx) CreateToken(spec TokenSpec) (string, Token, error) {
	if spec.Name == "" {
		return "", Token{}, errors.New("a token needs a name, to tell it apart when listing and revoking")
	}
	if spec.Role != RoleAdmin && spec.Role != RoleUser {
		return "", Token{}, fmt.Errorf("unknown token role %q: use %q or %q", spec.Role, RoleAdmin, RoleUser)
	}
	if spec.User == "" {
		return "", Token{}, errors.New("a token needs the user name it acts as")
	}
	if spec.TTL < 0 {
		return "", Token{}, fmt.Errorf("the token lifetime %s is negative; give a positive duration, or none for a token that lasts until revoked", spec.TTL)
	}
	now := spec.Now
	if now.IsZero() {
		now = time.Now()
	}
	raw := make([]byte, tokenBytes)
	rand.Read(raw)
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	idRaw := make([]byte, 8)
	rand.Read(idRaw)
	tok := Token{ID: "tok_" + hex.EncodeToString(idRaw), Name: spec.Name, Role: spec.Role, User: spec.User,
		CreatedAt: now.UTC()}
	if spec.TTL > 0 {
		tok.ExpiresAt = now.Add(spec.TTL).UTC()
	}
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO tokens (id, hash, name, role, user, created_at, expires_at)
		VALUES (?,?,?,?,?,?,?)`, tok.ID, hashToken(secret), tok.Name, string(tok.Role), tok.User,
		nanos(tok.CreatedAt), nanos(tok.ExpiresAt))
	if err != nil {
		return "", Token{}, fmt.Errorf("cannot save the new token %q: %w", spec.Name, err)
	}
	return secret, tok, nil
}

// CreateToken makes a new token in its own transaction; see Tx.CreateToken.
// To audit the creation atomically, call Tx.CreateToken and audit.AppendTx
// inside one Update instead.
func (s *Store) CreateToken(ctx context.Context, spec TokenSpec) (secret string, tok Token, err error) {
	err = s.Update(ctx, func(tx *Tx) error {
		secret, tok, err = tx.CreateToken(spec)
		return err
	})
	return secret, tok, err
}

const tokenColumns = "id, name, role, user, created_at, expires_at, last_used_at, revoked_at"

func scanToken(row scanner) (Token, error) {
	var tok Token
	var role string
	var created, expires, used, revoked int64
	err := row.Scan(&tok.ID, &tok.Name, &role, &tok.User, &created, &expires, &used, &revoked)
	tok.Role = Role(role)
	tok.CreatedAt, tok.ExpiresAt, tok.LastUsedAt, tok.RevokedAt = fromNanos(created), fromNanos(expires), fromNanos(used), fromNanos(revoked)
	return tok, err
}

// LookupToken returns the token a request presented, and records its use. It
// fails with ErrTokenInvalid, ErrTokenExpired or ErrTokenRevoked. The
// presented string is hashed before it is looked up, so the database never
// compares secrets and the time a lookup takes says nothing about them.
func (s *Store) LookupToken(ctx context.Context, presented string, now time.Time) (Token, error) {
	if !strings.HasPrefix(presented, TokenPrefix) {
		return Token{}, fmt.Errorf("%w: it does not start with %q", ErrTokenInvalid, TokenPrefix)
	}
	h := hashToken(presented)
	tok, err := scanToken(s.db.QueryRowContext(ctx, "SELECT "+tokenColumns+" FROM tokens WHERE hash = ?", h))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("%w: no such token", ErrTokenInvalid)
	}
	if err != nil {
		return Token{}, fmt.Errorf("cannot look up the API token: %w", err)
	}
	if !tok.RevokedAt.IsZero() {
		return tok, fmt.Errorf("%w: token %s (%s) was revoked at %s", ErrTokenRevoked, tok.ID, tok.Name, tok.RevokedAt.Format(time.RFC3339))
	}
	if !tok.ExpiresAt.IsZero() && !now.Before(tok.ExpiresAt) {
		return tok, fmt.Errorf("%w: token %s (%s) expired at %s; create a new one", ErrTokenExpired, tok.ID, tok.Name, tok.ExpiresAt.Format(time.RFC3339))
	}
	if now.Sub(tok.LastUsedAt) >= lastUsedGranularity {
		err := s.Update(ctx, func(tx *Tx) error {
			_, err := tx.tx.ExecContext(tx.ctx, "UPDATE tokens SET last_used_at = ? WHERE id = ?", nanos(now), tok.ID)
			return err
		})
		if err != nil {
			return Token{}, fmt.Errorf("cannot record the use of token %s: %w", tok.ID, err)
		}
		tok.LastUsedAt = now.UTC()
	}
	return tok, nil
}

// RevokeToken revokes the token with the given id. Revoking a revoked token
// changes nothing and is not an error.
func (t *Tx) RevokeToken(id string, now time.Time) (Token, error) {
	tok, err := scanToken(t.tx.QueryRowContext(t.ctx, "SELECT "+tokenColumns+" FROM tokens WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("cannot read token %s: %w", id, err)
	}
	if !tok.RevokedAt.IsZero() {
		return tok, nil
	}
	if _, err := t.tx.ExecContext(t.ctx, "UPDATE tokens SET revoked_at = ? WHERE id = ?", nanos(now), id); err != nil {
		return Token{}, fmt.Errorf("cannot revoke token %s: %w", id, err)
	}
	tok.RevokedAt = now.UTC()
	return tok, nil
}

// RevokeToken revokes a token in its own transaction; see Tx.RevokeToken.
func (s *Store) RevokeToken(ctx context.Context, id string, now time.Time) (tok Token, err error) {
	err = s.Update(ctx, func(tx *Tx) error {
		tok, err = tx.RevokeToken(id, now)
		return err
	})
	return tok, err
}

// Tokens lists every token, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+tokenColumns+" FROM tokens ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("cannot list API tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		tok, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("cannot list API tokens: %w", err)
		}
		out = append(out, tok)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot list API tokens: %w", err)
	}
	return out, nil
}
