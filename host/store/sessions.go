package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Session is a session row. The state machine and the meaning of each field
// belong to host/sessions; this package only keeps them. There is no field for
// a secret, on purpose: credentials are held in memory only.
type Session struct {
	ID        string
	Requester string
	Groups    []string
	Activity  string
	Resource  string
	Connector string
	// AccountDomain and AccountUsername are the account the activity's
	// template named for this session.
	AccountDomain   string
	AccountUsername string
	Reason          string
	// Policy and Profile are the access policy that allowed the session and
	// its connection profile.
	Policy        string
	Profile       string
	AllowPassword bool
	State         string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	AvailableAt   time.Time
	// ExpiresAt is when the expiry worker ends the session; zero means never.
	ExpiresAt time.Time
	EndedAt   time.Time
	EndedBy   string
	EndReason string
	// ErrorCode, ErrorMessage and ErrorHint are what the connector said when
	// the session failed.
	ErrorCode    string
	ErrorMessage string
	ErrorHint    string
	// LeaseID is the vault's opaque handle for Checkin; not a secret.
	LeaseID string
	// CredentialUser is the user name the vault returned with the credential.
	CredentialUser string
	// CheckinError is why the checkin at the end failed, if it did.
	CheckinError string
}

const sessionColumns = `id, requester, groups_json, activity, resource, connector,
	account_domain, account_username, reason, policy, profile, allow_password, state,
	created_at, updated_at, available_at, expires_at, ended_at, ended_by, end_reason,
	error_code, error_message, error_hint, lease_id, credential_user, checkin_error`

func sessionArgs(s *Session) ([]any, error) {
	groups := s.Groups
	if groups == nil {
		groups = []string{}
	}
	g, err := json.Marshal(groups)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the groups of session %s: %w", s.ID, err)
	}
	return []any{s.ID, s.Requester, string(g), s.Activity, s.Resource, s.Connector,
		s.AccountDomain, s.AccountUsername, s.Reason, s.Policy, s.Profile, s.AllowPassword, s.State,
		nanos(s.CreatedAt), nanos(s.UpdatedAt), nanos(s.AvailableAt), nanos(s.ExpiresAt), nanos(s.EndedAt),
		s.EndedBy, s.EndReason, s.ErrorCode, s.ErrorMessage, s.ErrorHint, s.LeaseID, s.CredentialUser,
		s.CheckinError}, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanSession(row scanner) (Session, error) {
	var s Session
	var groups string
	var created, updated, available, expires, ended int64
	err := row.Scan(&s.ID, &s.Requester, &groups, &s.Activity, &s.Resource, &s.Connector,
		&s.AccountDomain, &s.AccountUsername, &s.Reason, &s.Policy, &s.Profile, &s.AllowPassword, &s.State,
		&created, &updated, &available, &expires, &ended, &s.EndedBy, &s.EndReason,
		&s.ErrorCode, &s.ErrorMessage, &s.ErrorHint, &s.LeaseID, &s.CredentialUser, &s.CheckinError)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(groups), &s.Groups); err != nil {
		return s, fmt.Errorf("the groups of session %s are damaged in the state file: %w", s.ID, err)
	}
	s.CreatedAt, s.UpdatedAt, s.AvailableAt = fromNanos(created), fromNanos(updated), fromNanos(available)
	s.ExpiresAt, s.EndedAt = fromNanos(expires), fromNanos(ended)
	return s, nil
}

// PutSession inserts the session or replaces the row with its id.
func (t *Tx) PutSession(s *Session) error {
	args, err := sessionArgs(s)
	if err != nil {
		return err
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(args)), ",")
	err = t.exec("INSERT OR REPLACE INTO sessions ("+sessionColumns+") VALUES ("+marks+")", args...)
	if err != nil {
		return fmt.Errorf("cannot save session %s: %w", s.ID, err)
	}
	return nil
}

// Session reads a session inside the transaction.
func (t *Tx) Session(id string) (Session, error) {
	return getSession(t.queryRow("SELECT "+sessionColumns+" FROM sessions WHERE id = ?", id), id)
}

// Session returns the session with the given id, or an error wrapping
// ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (Session, error) {
	return getSession(s.db.QueryRowContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id = ?", id), id)
}

func getSession(row *sql.Row, id string) (Session, error) {
	sess, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, fmt.Errorf("session %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return sess, fmt.Errorf("cannot read session %s: %w", id, err)
	}
	return sess, nil
}

// SessionFilter selects sessions. Zero fields do not filter.
type SessionFilter struct {
	Requester string
	States    []string
	// DueBy keeps sessions whose ExpiresAt is set and not after it.
	DueBy time.Time
	// Limit caps the result; 0 means 100 and a negative value means no cap
	// (for the expiry worker, which must see every open session).
	Limit int
}

// where renders the filter's conditions (all but the limit).
func (f SessionFilter) where() (string, []any) {
	var where []string
	var args []any
	if f.Requester != "" {
		where = append(where, "requester = ?")
		args = append(args, f.Requester)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.States)), ",")+")")
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if !f.DueBy.IsZero() {
		where = append(where, "expires_at > 0 AND expires_at <= ?")
		args = append(args, nanos(f.DueBy))
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// CountSessions counts the sessions matching f (its limit aside).
func (s *Store) CountSessions(ctx context.Context, f SessionFilter) (int, error) {
	where, args := f.where()
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sessions"+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot count sessions: %w", err)
	}
	return n, nil
}

// Sessions returns the sessions matching f, newest first.
func (s *Store) Sessions(ctx context.Context, f SessionFilter) ([]Session, error) {
	where, args := f.where()
	q := "SELECT " + sessionColumns + " FROM sessions" + where
	limit := f.Limit
	if limit == 0 {
		limit = 100
	}
	q += " ORDER BY created_at DESC, id LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot list sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("cannot list sessions: %w", err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot list sessions: %w", err)
	}
	return out, nil
}
