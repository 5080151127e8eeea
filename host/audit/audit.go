// Package audit is byov's append-only, hash-chained audit log, kept in the
// host's state file (host/store).
//
// Every record carries the hash of the record before it, and its own hash is
// sha256 over a canonical encoding of all its fields, that previous hash
// included. Editing a record breaks its hash; deleting or reordering records
// breaks the chain or the run of sequence numbers; cutting records off the end
// disagrees with the chain head stored beside the log. Verify walks the chain
// and names the first bad record. An attacker who can rewrite the whole file
// can rebuild a consistent chain, so Report.LastHash is worth copying
// somewhere else now and then (a log shipper, a ticket): a later Verify whose
// chain no longer passes through that hash proves a rewrite.
//
// Append is durable before it returns: the record is committed with
// synchronous=FULL (see host/store), so an API answer that follows an Append
// never describes something the log could lose. AppendTx puts a record in the
// same transaction as a state change (a session moving to available and the
// record saying so are committed together or not at all).
//
// No secret may enter a record. Events have typed fields only (names, ids,
// codes) and a small string-to-string detail; nothing here accepts a
// credential, and sessions never pass one.
//
// Log is safe for concurrent use.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/byov/byov/host/store"
)

// Type says what a record is about.
type Type string

// Record types. Session states each have one: TypeSession(state).
const (
	TypeRequestAllowed Type = "request.allowed"
	TypeRequestDenied  Type = "request.denied"
	TypeCredentialView Type = "credential.view"
	TypeCheckin        Type = "credential.checkin"
	// TypeCheckout is a checkout beyond the one that made a session
	// available: after a host restart lost the credential held in memory.
	TypeCheckout      Type = "credential.checkout"
	TypePluginSwap    Type = "plugin.swap"
	TypePluginRestart Type = "plugin.restart"
	TypeConfigReload  Type = "config.reload"
	TypeTokenCreate   Type = "token.create"
	TypeTokenRevoke   Type = "token.revoke"
	// TypeSessionPrefix starts the type of every session state record;
	// as a Filter.Type it selects them all.
	TypeSessionPrefix = "session."
)

// Limits keep records small: the log is for facts, not payloads.
const (
	typeMaxLen        = 64
	fieldMaxLen       = 1024
	detailMaxLen      = 8 << 10
	defaultQueryLimit = 100
	maxQueryLimit     = 1000
)

// TypeSession returns the record type of a session entering state, such as
// "session.available".
func TypeSession(state string) Type { return Type(TypeSessionPrefix + state) }

// Outcome is how the recorded thing ended.
type Outcome string

const (
	OutcomeOK     Outcome = "ok"
	OutcomeDenied Outcome = "denied"
	OutcomeError  Outcome = "error"
)

// Event is what a caller records. Every field is a name, an id or a short
// text; Detail holds a few more facts (a denial's reason, a connector's error
// code). None may hold a secret.
type Event struct {
	Type      Type
	Actor     string
	SessionID string
	Connector string
	Resource  string
	Activity  string
	Outcome   Outcome
	Detail    map[string]string
}

// Record is an event as stored, with its place in the chain.
type Record struct {
	Seq       int64             `json:"seq"`
	Time      time.Time         `json:"time"`
	Type      Type              `json:"type"`
	Actor     string            `json:"actor,omitempty"`
	SessionID string            `json:"session_id,omitempty"`
	Connector string            `json:"connector,omitempty"`
	Resource  string            `json:"resource,omitempty"`
	Activity  string            `json:"activity,omitempty"`
	Outcome   Outcome           `json:"outcome,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	// PrevHash and Hash are hex; PrevHash is empty for the first record.
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// Options configure a Log.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Log is the audit log of one state file.
type Log struct {
	st  *store.Store
	now func() time.Time
}

// New returns the audit log kept in st.
func New(st *store.Store, opts Options) *Log {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Log{st: st, now: now}
}

// Append records e and returns the record once it is durable.
func (l *Log) Append(ctx context.Context, e Event) (Record, error) {
	var rec Record
	err := l.st.Update(ctx, func(tx *store.Tx) error {
		var err error
		rec, err = l.AppendTx(tx, e)
		return err
	})
	if err != nil {
		return Record{}, err
	}
	return rec, nil
}

// AppendTx records e inside tx: it is durable when the Update that tx belongs
// to returns nil, and gone if that Update fails.
func (l *Log) AppendTx(tx *store.Tx, e Event) (Record, error) {
	row, err := l.row(e)
	if err != nil {
		return Record{}, err
	}
	seq, prev, err := tx.AuditHead()
	if err != nil {
		return Record{}, err
	}
	row.Seq = seq + 1
	row.PrevHash = prev
	if row.PrevHash == nil {
		row.PrevHash = []byte{}
	}
	row.Hash = hashRow(row)
	if err := tx.InsertAudit(row); err != nil {
		return Record{}, err
	}
	return recordOf(row), nil
}

// row checks e and encodes it; the check is where a careless caller learns
// that records are small and typed.
func (l *Log) row(e Event) (store.AuditRow, error) {
	if e.Type == "" || len(e.Type) > typeMaxLen {
		return store.AuditRow{}, fmt.Errorf("cannot record an audit event of type %q: the type must be 1 to %d characters", e.Type, typeMaxLen)
	}
	for name, v := range map[string]string{"actor": e.Actor, "session id": e.SessionID, "connector": e.Connector,
		"resource": e.Resource, "activity": e.Activity, "outcome": string(e.Outcome)} {
		if len(v) > fieldMaxLen || !utf8.ValidString(v) {
			return store.AuditRow{}, fmt.Errorf("cannot record the %s event: its %s is not UTF-8 text of at most %d bytes", e.Type, name, fieldMaxLen)
		}
	}
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		var err error
		// encoding/json sorts map keys, so the text, and with it the
		// hash, is the same for the same detail.
		detail, err = json.Marshal(e.Detail)
		if err != nil {
			return store.AuditRow{}, fmt.Errorf("cannot encode the detail of the %s event: %w", e.Type, err)
		}
	}
	if len(detail) > detailMaxLen {
		return store.AuditRow{}, fmt.Errorf("cannot record the %s event: its detail is %d bytes, over the limit of %d", e.Type, len(detail), detailMaxLen)
	}
	return store.AuditRow{
		Time: l.now().UTC(), Type: string(e.Type), Actor: e.Actor, SessionID: e.SessionID, Connector: e.Connector,
		Resource: e.Resource, Activity: e.Activity, Outcome: string(e.Outcome), Detail: string(detail),
	}, nil
}

// hashDomain separates this encoding from any other use of sha256, and names
// its version so that a later encoding can be told apart.
const hashDomain = "byov-audit-v1\x00"

// hashRow is sha256 over the record's canonical encoding: the domain, seq and
// time (Unix ns) as 8 big-endian bytes, then each text field and prev_hash
// with a uvarint length in front, so that no two records encode alike.
func hashRow(r store.AuditRow) []byte {
	h := sha256.New()
	buf := make([]byte, 0, 256)
	buf = append(buf, hashDomain...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(r.Seq))
	buf = binary.BigEndian.AppendUint64(buf, uint64(r.Time.UnixNano()))
	for _, f := range []string{r.Type, r.Actor, r.SessionID, r.Connector, r.Resource, r.Activity, r.Outcome, r.Detail} {
		buf = binary.AppendUvarint(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(r.PrevHash)))
	buf = append(buf, r.PrevHash...)
	h.Write(buf)
	return h.Sum(nil)
}

func recordOf(r store.AuditRow) Record {
	rec := Record{Seq: r.Seq, Time: r.Time, Type: Type(r.Type), Actor: r.Actor, SessionID: r.SessionID,
		Connector: r.Connector, Resource: r.Resource, Activity: r.Activity, Outcome: Outcome(r.Outcome),
		PrevHash: hex.EncodeToString(r.PrevHash), Hash: hex.EncodeToString(r.Hash)}
	if r.Detail != "" && r.Detail != "{}" {
		if err := json.Unmarshal([]byte(r.Detail), &rec.Detail); err != nil {
			// Only a damaged file gets here; Verify says so. Show
			// the text rather than fail the whole query.
			rec.Detail = map[string]string{"unreadable_detail": r.Detail}
		}
	}
	return rec
}

// Filter selects records for Query. Zero fields do not filter.
type Filter struct {
	SessionID string
	// Type is an exact type, or a prefix ending in a dot ("session.").
	Type  Type
	Since time.Time
	// AfterSeq pages: pass the last seq of the previous page.
	AfterSeq int64
	// Limit is 100 when zero and at most 1000.
	Limit int
	// Newest returns the latest records first instead of the earliest.
	Newest bool
}

// Query returns the records matching f.
func (l *Log) Query(ctx context.Context, f Filter) ([]Record, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = defaultQueryLimit
	case limit > maxQueryLimit:
		limit = maxQueryLimit
	}
	rows, err := l.st.AuditRows(ctx, store.AuditFilter{SessionID: f.SessionID, Type: string(f.Type), Since: f.Since,
		AfterSeq: f.AfterSeq, Limit: limit, Newest: f.Newest})
	if err != nil {
		return nil, err
	}
	out := make([]Record, len(rows))
	for i, r := range rows {
		out[i] = recordOf(r)
	}
	return out, nil
}

// Report is the outcome of Verify.
type Report struct {
	// OK is true when every record and the chain head check out.
	OK bool `json:"ok"`
	// Records is how many records were checked.
	Records int64 `json:"records"`
	// LastSeq and LastHash identify the last good record; keep LastHash
	// somewhere else to detect a rewrite of the whole file later.
	LastSeq  int64  `json:"last_seq"`
	LastHash string `json:"last_hash,omitempty"`
	// FirstBad is the seq of the first record found wrong (missing, edited
	// or out of place); 0 when OK.
	FirstBad int64 `json:"first_bad,omitempty"`
	// Problem says what is wrong with it, as a sentence.
	Problem string `json:"problem,omitempty"`
}

// String reads as a line for `byov audit verify`.
func (r Report) String() string {
	if r.OK {
		return fmt.Sprintf("audit log intact: %d records, last seq %d, hash %s", r.Records, r.LastSeq, r.LastHash)
	}
	return fmt.Sprintf("audit log damaged at seq %d: %s", r.FirstBad, r.Problem)
}

var errStop = errors.New("stop")

// Verify walks the whole chain and reports the first record that is wrong.
// Damage is a Report with OK false; the error is for a file that cannot be
// read at all.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	var rep Report
	var prevHash []byte
	var prevSeq int64
	fail := func(seq int64, format string, args ...any) error {
		rep.FirstBad = seq
		rep.Problem = fmt.Sprintf(format, args...)
		return errStop
	}
	headSeq, headHash, headOK, err := l.st.WalkAudit(ctx, func(r store.AuditRow) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := prevSeq + 1
		switch {
		case r.Seq > want && want == r.Seq-1:
			return fail(want, "record %d is missing: the log goes from record %d to record %d", want, prevSeq, r.Seq)
		case r.Seq > want:
			return fail(want, "records %d to %d are missing: the log goes from record %d to record %d", want, r.Seq-1, prevSeq, r.Seq)
		case r.Seq < want:
			return fail(r.Seq, "record %d appears out of order after record %d", r.Seq, prevSeq)
		}
		if got := hashRow(r); !bytes.Equal(got, r.Hash) {
			return fail(r.Seq, "record %d (%s) was altered: its content does not match its hash", r.Seq, r.Type)
		}
		if !bytes.Equal(r.PrevHash, prevHash) {
			if prevSeq == 0 {
				return fail(r.Seq, "record %d claims a predecessor, but it is the first record: records before it were removed", r.Seq)
			}
			return fail(r.Seq, "record %d does not follow record %d: its prev_hash is not record %d's hash, so record %d was altered and re-hashed, or the records were reordered",
				r.Seq, prevSeq, prevSeq, prevSeq)
		}
		rep.Records++
		prevSeq, prevHash = r.Seq, r.Hash
		rep.LastSeq, rep.LastHash = r.Seq, hex.EncodeToString(r.Hash)
		return nil
	})
	if errors.Is(err, errStop) {
		return rep, nil
	}
	if err != nil {
		return Report{}, fmt.Errorf("cannot verify the audit log: %w", err)
	}
	switch {
	case !headOK && prevSeq == 0:
	case !headOK:
		return failReport(rep, 1, "the audit chain head is missing while the log holds %d records: it was deleted", prevSeq), nil
	case headSeq > prevSeq:
		return failReport(rep, prevSeq+1, "records %d to %d are missing from the end of the log: the chain head says the last record is %d", prevSeq+1, headSeq, headSeq), nil
	case headSeq < prevSeq:
		return failReport(rep, headSeq+1, "records after %d are not covered by the chain head, which says the log ends at %d: the head was rolled back or the records added outside byov", headSeq, headSeq), nil
	case !bytes.Equal(headHash, prevHash):
		// The head names the last record but carries another hash: the
		// head was altered, most likely to hide records cut off after it.
		return failReport(rep, prevSeq+1, "record %d does not match the chain head's hash: the head was altered, most likely to hide records removed after record %d", prevSeq, prevSeq), nil
	}
	rep.OK = true
	return rep, nil
}

func failReport(rep Report, seq int64, format string, args ...any) Report {
	rep.FirstBad = seq
	rep.Problem = fmt.Sprintf(format, args...)
	return rep
}
