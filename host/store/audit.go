package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AuditRow is an audit record as stored. Hashing and its meaning belong to
// host/audit.
type AuditRow struct {
	Seq       int64
	Time      time.Time
	Type      string
	Actor     string
	SessionID string
	Connector string
	Resource  string
	Activity  string
	Outcome   string
	// Detail is a JSON object, stored as the exact text that was hashed.
	Detail   string
	PrevHash []byte
	Hash     []byte
}

const auditColumns = "seq, time, type, actor, session_id, connector, resource, activity, outcome, detail, prev_hash, hash"

func scanAudit(row scanner) (AuditRow, error) {
	var r AuditRow
	var t int64
	err := row.Scan(&r.Seq, &t, &r.Type, &r.Actor, &r.SessionID, &r.Connector, &r.Resource, &r.Activity,
		&r.Outcome, &r.Detail, &r.PrevHash, &r.Hash)
	r.Time = fromNanos(t)
	return r, err
}

// AuditHead returns the last record's seq and hash inside the transaction, or
// 0 and nil when the log is empty. The write lock is held, so the answer stays
// true until the transaction ends.
func (t *Tx) AuditHead() (seq int64, hash []byte, err error) {
	err = t.queryRow("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("cannot read the end of the audit log: %w", err)
	}
	return seq, hash, nil
}

// InsertAudit appends a record and moves the stored chain head to it.
func (t *Tx) InsertAudit(r AuditRow) error {
	err := t.exec("INSERT INTO audit ("+auditColumns+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
		r.Seq, nanos(r.Time), r.Type, r.Actor, r.SessionID, r.Connector, r.Resource, r.Activity, r.Outcome,
		r.Detail, r.PrevHash, r.Hash)
	if err != nil {
		return fmt.Errorf("cannot append audit record %d: %w", r.Seq, err)
	}
	err = t.exec("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "+
		"ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", r.Seq, r.Hash)
	if err != nil {
		return fmt.Errorf("cannot move the audit chain head to record %d: %w", r.Seq, err)
	}
	return nil
}

// AuditFilter selects audit records. Zero fields do not filter.
type AuditFilter struct {
	SessionID string
	// Type matches a record type exactly, or every type under a prefix when
	// it ends in a dot ("session.").
	Type  string
	Since time.Time
	// AfterSeq returns only records after this seq, for paging.
	AfterSeq int64
	// Limit caps the result; 0 means 100.
	Limit int
	// Newest returns the latest matching records, newest first, instead of
	// the earliest in seq order.
	Newest bool
}

// AuditRows returns the records matching f.
func (s *Store) AuditRows(ctx context.Context, f AuditFilter) ([]AuditRow, error) {
	var where []string
	var args []any
	if f.SessionID != "" {
		where = append(where, "session_id = ?")
		args = append(args, f.SessionID)
	}
	if strings.HasSuffix(f.Type, ".") {
		// A range rather than LIKE, so that the type index is used and
		// no character in the prefix is a wildcard.
		where = append(where, "type >= ? AND type < ?")
		args = append(args, f.Type, f.Type[:len(f.Type)-1]+"/")
	} else if f.Type != "" {
		where = append(where, "type = ?")
		args = append(args, f.Type)
	}
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, nanos(f.Since))
	}
	if f.AfterSeq > 0 {
		where = append(where, "seq > ?")
		args = append(args, f.AfterSeq)
	}
	q := "SELECT " + auditColumns + " FROM audit"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Newest {
		q += " ORDER BY seq DESC"
	} else {
		q += " ORDER BY seq"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += " LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read the audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditRow
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("cannot read the audit log: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read the audit log: %w", err)
	}
	return out, nil
}

// WalkAudit calls fn for every record in seq order, from one consistent
// snapshot of the file, then returns the stored chain head of that same
// snapshot. It stops at the first error fn returns.
func (s *Store) WalkAudit(ctx context.Context, fn func(AuditRow) error) (headSeq int64, headHash []byte, headOK bool, err error) {
	// A read transaction pins one WAL snapshot, so records appended during
	// the walk neither appear half-way nor move the head under it.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, nil, false, fmt.Errorf("cannot read the audit log: %w", err)
	}
	defer tx.Rollback()
	// A read-only transaction begins deferred: its snapshot is taken at the
	// first read and both reads below see that one.
	err = tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&headSeq, &headHash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, nil, false, fmt.Errorf("cannot read the audit chain head: %w", err)
	default:
		headOK = true
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+auditColumns+" FROM audit ORDER BY seq")
	if err != nil {
		return 0, nil, false, fmt.Errorf("cannot read the audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return 0, nil, false, fmt.Errorf("cannot read the audit log: %w", err)
		}
		if err := fn(r); err != nil {
			return 0, nil, false, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, false, fmt.Errorf("cannot read the audit log: %w", err)
	}
	return headSeq, headHash, headOK, nil
}
