// Package sessions runs activity sessions: a user asks to run an activity on
// a resource, the access policy is checked, the activity's account is checked
// out of its vault connector, the credential is held for the session, and it
// is checked back in when the session ends.
//
// # States
//
//	pending -> provisioning -> available -> ending -> completed
//	                |                           (checkin; a failed checkin is
//	                +-> failed                   recorded and the session still
//	                +-> cancelled                completes)
//
// A session is pending between the policy's yes and the account being named,
// provisioning while the checkout runs (bounded by a deadline), available
// while the user may use the credential. It fails with the connector's code,
// message and hint, or is cancelled when ended before it was available. Every
// transition is written to the state file together with its audit record, in
// one transaction, before the call that caused it returns.
//
// # Credentials and restarts
//
// The credential is held in memory only and never written anywhere. Sessions
// themselves are in the state file and survive a restart of the host, and so
// does their expiry: the worker reads deadlines from the file. After a
// restart an available session has no credential in memory; the next
// Credential call checks the account out again (after checking in the lease
// the session held, so the vault never sees two leases for one session) and
// audits that as credential.checkout. The alternative, telling the user to end
// the session and start another, would turn every host upgrade into an outage
// for everyone with an open session, while the policy decision and the
// session's deadline, which are what an operator cares about, still stand.
// Sessions that were pending or provisioning when the host stopped cannot be
// resumed (the checkout's answer was lost): the worker fails them.
//
// # Who may do what
//
// Only the requester sees the credential, and only while the session is
// available and its connection profile has allow_password_access. The
// requester or an administrator may see and end a session. Ending is
// idempotent: ending an ended session returns it as it is.
//
// Manager is safe for concurrent use.
package sessions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byov/byov/config"
	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/policy"
	"github.com/byov/byov/host/store"
	"github.com/byov/byov/sdk"
	"github.com/hashicorp/go-hclog"
)

// State is where a session is in its life.
type State string

const (
	StatePending      State = "pending"
	StateProvisioning State = "provisioning"
	StateAvailable    State = "available"
	StateEnding       State = "ending"
	StateCompleted    State = "completed"
	StateFailed       State = "failed"
	StateCancelled    State = "cancelled"
)

// Ended reports whether s is final.
func (s State) Ended() bool {
	return s == StateCompleted || s == StateFailed || s == StateCancelled
}

// OpenStates are the states of a session that is not over yet: the ones
// the expiry worker looks after and the API's "active".
var OpenStates = []State{StatePending, StateProvisioning, StateAvailable, StateEnding}

// openStates is OpenStates as the store filters them.
var openStates = func() []string {
	out := make([]string, len(OpenStates))
	for i, st := range OpenStates {
		out[i] = string(st)
	}
	return out
}()

// SystemActor is the actor of what the host does on its own (expiry, cleanup
// after a restart).
const SystemActor = "byov"

// Errors, for the API to map to status codes. Each returned error wraps one
// of them and reads as a sentence on its own.
var (
	// ErrDenied: the access policy (or the profile's rules) refused the
	// request. Errors wrapping it are *DeniedError.
	ErrDenied = errors.New("access denied")
	// ErrNotFound: no such session, or none the caller may see.
	ErrNotFound = errors.New("no such session")
	// ErrForbidden: the caller may see the session but not do this to it.
	ErrForbidden = errors.New("not allowed")
	// ErrNotAvailable: the credential was asked for outside the available
	// state.
	ErrNotAvailable = errors.New("the session is not available")
	// ErrNoPasswordAccess: the connection profile does not show passwords.
	ErrNoPasswordAccess = errors.New("password access is not allowed")
	// ErrNoCredential: the activity uses the requester's own account.
	ErrNoCredential = errors.New("the session has no credential")
	// ErrFailed: provisioning failed; the error also wraps the connector's
	// *sdk.Error, so sdk.CodeOf and sdk.HintOf work on it.
	ErrFailed = errors.New("the session failed")
	// ErrCancelled: the session was ended while it was being provisioned.
	ErrCancelled = errors.New("the session was cancelled")
)

// DeniedError is a refused request.
type DeniedError struct {
	// Reason says what did not match, for the requester and the audit.
	Reason string
	// Denial is the policy's answer, when the policy refused.
	Denial *policy.Denial
	msg    string
}

func (e *DeniedError) Error() string { return e.msg }
func (e *DeniedError) Unwrap() error { return ErrDenied }

// Vault is a configured connector instance; *plugins.Instance is one.
type Vault interface {
	Checkout(ctx context.Context, req sdk.CheckoutRequest) (*sdk.Credential, error)
	Checkin(ctx context.Context, req sdk.CheckinRequest) error
}

// Authorizer evaluates the access policy; policy.Evaluate is one. It returns a
// *policy.Denial to refuse.
type Authorizer func(cfg *config.Config, req policy.Request) (*policy.Grant, error)

// Clock tells the time; tests move it.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Options wire a Manager.
type Options struct {
	// Store and Audit keep sessions and their records; Audit must live in
	// Store (audit.New(store, ...)).
	Store *store.Store
	Audit *audit.Log
	// Config returns the configuration in force; it is called once per
	// request, so a reload takes effect for the next one.
	Config func() *config.Config
	// Vaults returns the instance of a connector block, by name.
	Vaults func(connector string) (Vault, error)
	// Authorize is policy.Evaluate when nil.
	Authorize Authorizer
	// Clock is the system clock when nil.
	Clock Clock
	// CheckoutTimeout bounds a checkout and a checkin; when zero, the
	// config's server.checkout_timeout, else config.DefaultCheckoutTimeout.
	CheckoutTimeout time.Duration
	// ExpiryInterval is how often RunExpiry looks for due sessions; 5s when
	// zero.
	ExpiryInterval time.Duration
	// Logger gets what the expiry worker cannot return; silent when nil.
	Logger hclog.Logger
}

// Manager runs sessions.
type Manager struct {
	opts    Options
	started time.Time

	mu   sync.Mutex
	live map[string]*live
}

// live is what the process holds for a session beyond its row.
type live struct {
	// mu orders the transitions of one session. Start does not hold it
	// during the checkout, so that End can cancel a slow one.
	mu   sync.Mutex
	cred *sdk.Credential
	// provisioning is read by the expiry worker without mu.
	provisioning atomic.Bool
	cancel       context.CancelFunc
}

// New returns a Manager. Call RunExpiry in a goroutine to end sessions at
// their deadline.
func New(opts Options) (*Manager, error) {
	if opts.Store == nil || opts.Audit == nil || opts.Config == nil || opts.Vaults == nil {
		return nil, errors.New("sessions need a store, an audit log, the configuration and the connector lookup")
	}
	if opts.Authorize == nil {
		opts.Authorize = policy.Evaluate
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	if opts.ExpiryInterval <= 0 {
		opts.ExpiryInterval = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	return &Manager{opts: opts, started: opts.Clock.Now(), live: map[string]*live{}}, nil
}

func (m *Manager) now() time.Time { return m.opts.Clock.Now().UTC() }

func (m *Manager) entry(id string) *live {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.live[id]
	if !ok {
		l = &live{}
		m.live[id] = l
	}
	return l
}

func (m *Manager) forget(id string) {
	m.mu.Lock()
	delete(m.live, id)
	m.mu.Unlock()
}

func (m *Manager) checkoutTimeout(cfg *config.Config) time.Duration {
	if m.opts.CheckoutTimeout > 0 {
		return m.opts.CheckoutTimeout
	}
	if cfg != nil && cfg.Server.CheckoutTimeout > 0 {
		return cfg.Server.CheckoutTimeout
	}
	return config.DefaultCheckoutTimeout
}

// Actor is who calls: the token's user, and whether it is an administrator.
type Actor struct {
	Name  string
	Admin bool
}

// ErrorInfo is what the connector said when a session failed.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Session is a session as the API shows it. It never holds the credential.
type Session struct {
	ID        string   `json:"id"`
	Requester string   `json:"requester"`
	Groups    []string `json:"groups,omitempty"`
	Activity  string   `json:"activity"`
	Resource  string   `json:"resource"`
	Connector string   `json:"connector,omitempty"`
	// Account is DOMAIN\username, as the activity's template named it.
	Account        string    `json:"account,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	Policy         string    `json:"policy,omitempty"`
	Profile        string    `json:"profile,omitempty"`
	PasswordAccess bool      `json:"password_access"`
	State          State     `json:"state"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	AvailableAt    time.Time `json:"available_at,omitzero"`
	ExpiresAt      time.Time `json:"expires_at,omitzero"`
	EndedAt        time.Time `json:"ended_at,omitzero"`
	EndedBy        string    `json:"ended_by,omitempty"`
	EndReason      string    `json:"end_reason,omitempty"`
	// Error is set for a failed session.
	Error *ErrorInfo `json:"error,omitempty"`
	// CheckinError says why the checkin at the end failed, if it did.
	CheckinError string `json:"checkin_error,omitempty"`
}

func view(r store.Session) Session {
	s := Session{ID: r.ID, Requester: r.Requester, Groups: r.Groups, Activity: r.Activity, Resource: r.Resource,
		Connector: r.Connector, Account: sdk.Account{Domain: r.AccountDomain, Username: r.AccountUsername}.String(),
		Reason: r.Reason, Policy: r.Policy, Profile: r.Profile, PasswordAccess: r.AllowPassword, State: State(r.State),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, AvailableAt: r.AvailableAt, ExpiresAt: r.ExpiresAt,
		EndedAt: r.EndedAt, EndedBy: r.EndedBy, EndReason: r.EndReason, CheckinError: r.CheckinError}
	if r.ErrorCode != "" {
		s.Error = &ErrorInfo{Code: r.ErrorCode, Message: r.ErrorMessage, Hint: r.ErrorHint}
	}
	return s
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "ses_" + hex.EncodeToString(b)
}

// event is the audit event of a session, with the session's own fields
// filled in.
func event(r *store.Session, typ audit.Type, actor string, outcome audit.Outcome, detail map[string]string) audit.Event {
	return audit.Event{Type: typ, Actor: actor, SessionID: r.ID, Connector: r.Connector, Resource: r.Resource,
		Activity: r.Activity, Outcome: outcome, Detail: detail}
}

// transition moves r to state and writes it with its audit record, plus any
// extra records, in one transaction.
func (m *Manager) transition(ctx context.Context, r *store.Session, state State, actor string, outcome audit.Outcome,
	detail map[string]string, before ...audit.Event) error {
	r.State = string(state)
	r.UpdatedAt = m.now()
	err := m.opts.Store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.PutSession(r); err != nil {
			return err
		}
		for _, e := range before {
			if _, err := m.opts.Audit.AppendTx(tx, e); err != nil {
				return err
			}
		}
		_, err := m.opts.Audit.AppendTx(tx, event(r, audit.TypeSession(string(state)), actor, outcome, detail))
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot record session %s as %s: %w", r.ID, state, err)
	}
	return nil
}

// load reads a session and checks that actor may see it; others get
// ErrNotFound, so that session ids cannot be probed.
func (m *Manager) load(ctx context.Context, id string, actor Actor) (store.Session, error) {
	r, err := m.opts.Store.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !actor.Admin && actor.Name != r.Requester) {
		return store.Session{}, fmt.Errorf("%w %s: check the id with `byov session list`", ErrNotFound, id)
	}
	if err != nil {
		return store.Session{}, err
	}
	return r, nil
}

// Get returns a session the actor may see.
func (m *Manager) Get(ctx context.Context, id string, actor Actor) (Session, error) {
	r, err := m.load(ctx, id, actor)
	if err != nil {
		return Session{}, err
	}
	return view(r), nil
}

// ListFilter selects sessions for List.
type ListFilter struct {
	// Requester keeps one user's sessions; for a non-administrator it is
	// always the actor.
	Requester string
	States    []State
	// Limit is 100 when zero.
	Limit int
}

// List returns sessions, newest first: all of them for an administrator, the
// actor's own otherwise.
func (m *Manager) List(ctx context.Context, f ListFilter, actor Actor) ([]Session, error) {
	sf := store.SessionFilter{Requester: f.Requester, Limit: max(f.Limit, 0)}
	if !actor.Admin {
		sf.Requester = actor.Name
	}
	for _, s := range f.States {
		sf.States = append(sf.States, string(s))
	}
	rows, err := m.opts.Store.Sessions(ctx, sf)
	if err != nil {
		return nil, err
	}
	out := make([]Session, len(rows))
	for i, r := range rows {
		out[i] = view(r)
	}
	return out, nil
}
