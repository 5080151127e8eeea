package sessions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/byov/byov/config"
	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/policy"
	"github.com/byov/byov/host/store"
	"github.com/byov/byov/sdk"
)

// StartRequest asks for a session.
type StartRequest struct {
	// Requester is the user the API token acts as.
	Requester string
	// Groups are groups known from elsewhere; the user block's groups are
	// added by the policy.
	Groups   []string
	Activity string
	Resource string
	Reason   string
}

// Start checks the policy, creates the session and provisions it. It returns
// when the session is available, or has failed or been cancelled:
//
//   - a refused request is a *DeniedError (wrapping ErrDenied); no session
//     is created and nothing is checked out;
//   - a failed checkout returns the failed session and an error wrapping
//     ErrFailed and the connector's *sdk.Error;
//   - a session ended while provisioning returns the cancelled session and an
//     error wrapping ErrCancelled.
//
// If ctx ends during the checkout, the checkout is abandoned and the session
// cancelled: nobody is left waiting for it.
func (m *Manager) Start(ctx context.Context, req StartRequest) (Session, error) {
	cfg := m.opts.Config()
	grant, err := m.opts.Authorize(cfg, policy.Request{User: req.Requester, Groups: req.Groups,
		Activity: req.Activity, Resource: req.Resource})
	if err == nil && grant.Profile.RequireReason && strings.TrimSpace(req.Reason) == "" {
		err = fmt.Errorf("connection profile %s requires a reason; give one with the request", grant.Profile.Name)
	}
	if err != nil {
		return Session{}, m.deny(ctx, req, err)
	}

	now := m.now()
	r := &store.Session{ID: newID(), Requester: req.Requester, Groups: req.Groups, Activity: req.Activity,
		Resource: req.Resource, Reason: req.Reason, Policy: grant.Policy.Name, Profile: grant.Profile.Name,
		AllowPassword: grant.Profile.AllowPasswordAccess, CreatedAt: now}
	maxDur := grant.Profile.MaxSessionDuration
	if maxDur <= 0 {
		maxDur = config.DefaultMaxSessionDuration
	}
	// The deadline counts from the request, so a session stuck provisioning
	// is bounded too.
	r.ExpiresAt = now.Add(maxDur)
	act := grant.Activity
	allowed := event(r, audit.TypeRequestAllowed, req.Requester, audit.OutcomeOK, map[string]string{"policy": r.Policy, "profile": r.Profile})
	pending := event(r, audit.TypeSession(string(StatePending)), req.Requester, audit.OutcomeOK, nil)

	if act.LoginAccount == config.LoginRequester {
		// The requester's own account: nothing to check out.
		r.AvailableAt = now
		if err := m.transition(ctx, r, StateAvailable, req.Requester, audit.OutcomeOK, nil, allowed, pending); err != nil {
			return Session{}, err
		}
		return view(*r), nil
	}

	r.Connector = act.Connector
	allowed.Connector, pending.Connector = r.Connector, r.Connector
	// The grant's requester carries the groups of the user block as well,
	// which is what the template's requester.groups should see.
	domain, username, diags := act.Account(grant.Requester, grant.Resource)
	if diags.HasErrors() {
		cerr := sdk.Errorf(sdk.CodeInvalidConfig, "correct the account template of activity "+act.Name,
			"cannot name the account for activity %s on resource %s: %s", act.Name, req.Resource, diags.Error())
		return m.fail(ctx, r, cerr, allowed, pending)
	}
	r.AccountDomain, r.AccountUsername = domain, username
	vault, err := m.opts.Vaults(r.Connector)
	if err != nil {
		return m.fail(ctx, r, err, allowed, pending)
	}

	// Register before the row exists so that an End arriving as soon as the
	// id is visible finds the cancel function.
	pctx, cancel := context.WithTimeout(ctx, m.checkoutTimeout(cfg))
	defer cancel()
	l := m.entry(r.ID)
	l.mu.Lock()
	l.provisioning.Store(true)
	l.cancel = cancel
	l.mu.Unlock()
	if err := m.transition(ctx, r, StateProvisioning, req.Requester, audit.OutcomeOK,
		map[string]string{"account": sdk.Account{Domain: domain, Username: username}.String()}, allowed, pending); err != nil {
		m.forget(r.ID)
		return Session{}, err
	}

	cred, cerr := vault.Checkout(pctx, sdk.CheckoutRequest{
		Account: sdk.Account{Domain: domain, Username: username},
		Options: act.VaultOptions,
		Session: sdk.SessionContext{SessionID: r.ID, Requester: r.Requester, Resource: r.Resource, Activity: r.Activity},
		Reason:  r.Reason,
	})
	if cerr == nil && cred == nil {
		cerr = sdk.Errorf(sdk.CodeInternal, "report this to the connector's author", "the connector returned no credential and no error")
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	l.provisioning.Store(false)
	l.cancel = nil
	// Forget the entry only once the final state is written: a caller that
	// then makes a new entry reads that state, never the provisioning one.
	keep := false
	defer func() {
		if !keep {
			m.forget(r.ID)
		}
	}()
	cur, err := m.opts.Store.Session(context.WithoutCancel(ctx), r.ID)
	if err != nil {
		return Session{}, err
	}
	if State(cur.State) != StateProvisioning {
		// Ended while the checkout ran: End has recorded the
		// cancellation. Give back what the vault handed out meanwhile.
		if cerr == nil {
			m.checkinAfterCancel(ctx, &cur, cred)
		}
		return view(cur), fmt.Errorf("%w: session %s was ended by %s while it was being provisioned", ErrCancelled, r.ID, cur.EndedBy)
	}
	// The request's ctx may be done; the outcome must still be recorded.
	wctx := context.WithoutCancel(ctx)
	if cerr != nil {
		if ctx.Err() != nil && !errors.Is(pctx.Err(), context.DeadlineExceeded) {
			r.EndedAt, r.EndedBy, r.EndReason = m.now(), req.Requester, "the request was abandoned during the checkout"
			if err := m.transition(wctx, r, StateCancelled, req.Requester, audit.OutcomeOK, map[string]string{"reason": r.EndReason}); err != nil {
				return Session{}, err
			}
			return view(*r), fmt.Errorf("%w: the request for session %s was abandoned during the checkout", ErrCancelled, r.ID)
		}
		if errors.Is(pctx.Err(), context.DeadlineExceeded) && sdk.CodeOf(cerr) == sdk.CodeInternal {
			cerr = sdk.Wrap(cerr, sdk.CodeUnavailable, "check that the vault answers, or raise server.checkout_timeout",
				fmt.Sprintf("the checkout from connector %s did not finish within %s", r.Connector, m.checkoutTimeout(cfg)))
		}
		return m.fail(wctx, r, cerr)
	}
	r.LeaseID, r.CredentialUser, r.AvailableAt = cred.LeaseID, cred.Username, m.now()
	if err := m.transition(wctx, r, StateAvailable, req.Requester, audit.OutcomeOK, nil); err != nil {
		// Not recorded as available: nobody may use it, so give it back.
		m.checkin(wctx, r, cred.LeaseID)
		return Session{}, err
	}
	l.cred, keep = cred, true
	return view(*r), nil
}

// deny audits a refused request and returns its *DeniedError.
func (m *Manager) deny(ctx context.Context, req StartRequest, cause error) error {
	de := &DeniedError{Reason: cause.Error()}
	if errors.As(cause, &de.Denial) {
		de.Reason = de.Denial.Reason
	}
	de.msg = fmt.Sprintf("%s may not run activity %s on resource %s: %s", req.Requester, req.Activity, req.Resource, de.Reason)
	_, err := m.opts.Audit.Append(ctx, audit.Event{Type: audit.TypeRequestDenied, Actor: req.Requester,
		Resource: req.Resource, Activity: req.Activity, Outcome: audit.OutcomeDenied,
		Detail: map[string]string{"reason": de.Reason}})
	if err != nil {
		// A denial nobody could record is still a denial.
		return fmt.Errorf("%w (and the denial could not be audited: %v)", de, err)
	}
	return de
}

// fail records r as failed with the connector's code, message and hint.
func (m *Manager) fail(ctx context.Context, r *store.Session, cause error, before ...audit.Event) (Session, error) {
	var se *sdk.Error
	r.ErrorCode, r.ErrorMessage, r.ErrorHint = string(sdk.CodeOf(cause)), cause.Error(), sdk.HintOf(cause)
	if errors.As(cause, &se) {
		r.ErrorMessage = se.Message
	} else {
		se = sdk.Wrap(cause, sdk.CodeOf(cause), "", cause.Error())
	}
	r.EndedAt = m.now()
	if err := m.transition(ctx, r, StateFailed, r.Requester, audit.OutcomeError,
		map[string]string{"code": r.ErrorCode, "message": r.ErrorMessage, "hint": r.ErrorHint}, before...); err != nil {
		return Session{}, err
	}
	return view(*r), fmt.Errorf("%w: session %s for %s on %s: %w", ErrFailed, r.ID, r.Activity, r.Resource, se)
}

// End ends a session by its requester or an administrator. A session being
// provisioned is cancelled; an available one is checked in and completed; an
// ended one is returned as it is.
func (m *Manager) End(ctx context.Context, id string, actor Actor, reason string) (Session, error) {
	if _, err := m.load(ctx, id, actor); err != nil {
		return Session{}, err
	}
	return m.end(ctx, id, actor.Name, reason)
}

func (m *Manager) end(ctx context.Context, id, actor, reason string) (Session, error) {
	l := m.entry(id)
	l.mu.Lock()
	defer l.mu.Unlock()
	r, err := m.opts.Store.Session(ctx, id)
	if err != nil {
		return Session{}, err
	}
	// From here the outcome must be recorded even if the caller leaves.
	ctx = context.WithoutCancel(ctx)
	switch State(r.State) {
	case StatePending, StateProvisioning:
		r.EndedAt, r.EndedBy, r.EndReason = m.now(), actor, reason
		if err := m.transition(ctx, &r, StateCancelled, actor, audit.OutcomeOK, map[string]string{"reason": reason}); err != nil {
			return Session{}, err
		}
		if l.cancel != nil {
			l.cancel()
		}
		if !l.provisioning.Load() {
			m.forget(id)
		}
		return view(r), nil
	case StateAvailable:
		r.EndedBy, r.EndReason = actor, reason
		if err := m.transition(ctx, &r, StateEnding, actor, audit.OutcomeOK, map[string]string{"reason": reason}); err != nil {
			return Session{}, err
		}
		fallthrough
	case StateEnding:
		// Ending also resumes an end that a restart interrupted.
		if r.EndedBy == "" {
			r.EndedBy, r.EndReason = actor, reason
		}
		checkinRec := m.checkin(ctx, &r, r.LeaseID)
		l.cred = nil
		r.EndedAt = m.now()
		if err := m.transition(ctx, &r, StateCompleted, r.EndedBy, audit.OutcomeOK, nil, checkinRec); err != nil {
			return Session{}, err
		}
		m.forget(id)
		return view(r), nil
	default:
		m.forget(id)
		return view(r), nil
	}
}

// checkin gives a lease back and returns the audit event saying how it went;
// a failure is kept in r.CheckinError, never returned: the session ends
// anyway, and the vault's owner learns from the record.
func (m *Manager) checkin(ctx context.Context, r *store.Session, lease string) audit.Event {
	ev := event(r, audit.TypeCheckin, r.EndedBy, audit.OutcomeOK, nil)
	if r.Connector == "" {
		ev.Detail = map[string]string{"note": "nothing was checked out"}
		return ev
	}
	err := m.checkinErr(ctx, r, lease)
	if err != nil {
		r.CheckinError = err.Error()
		ev.Outcome = audit.OutcomeError
		ev.Detail = map[string]string{"code": string(sdk.CodeOf(err)), "message": err.Error()}
	}
	return ev
}

func (m *Manager) checkinErr(ctx context.Context, r *store.Session, lease string) error {
	vault, err := m.opts.Vaults(r.Connector)
	if err != nil {
		return fmt.Errorf("connector %s cannot be reached for the checkin: %w", r.Connector, err)
	}
	cctx, cancel := context.WithTimeout(ctx, m.checkoutTimeout(m.opts.Config()))
	defer cancel()
	return vault.Checkin(cctx, sdk.CheckinRequest{
		Account: sdk.Account{Domain: r.AccountDomain, Username: r.AccountUsername},
		LeaseID: lease,
		Session: sdk.SessionContext{SessionID: r.ID, Requester: r.Requester, Resource: r.Resource, Activity: r.Activity},
	})
}

// checkinAfterCancel returns a credential that arrived after its session was
// cancelled, and audits that.
func (m *Manager) checkinAfterCancel(ctx context.Context, r *store.Session, cred *sdk.Credential) {
	ctx = context.WithoutCancel(ctx)
	ev := m.checkin(ctx, r, cred.LeaseID)
	if ev.Detail == nil {
		ev.Detail = map[string]string{}
	}
	ev.Detail["note"] = "the checkout finished after the session was cancelled"
	if _, err := m.opts.Audit.Append(ctx, ev); err != nil {
		m.opts.Logger.Error("cannot audit a checkin after cancellation", "session", r.ID, "error", err)
	}
}

// Credential returns the session's credential to its requester, while it is
// available and where the profile allows password access, and audits the
// view. After a host restart the credential is checked out again (see the
// package documentation).
func (m *Manager) Credential(ctx context.Context, id string, viewer Actor) (*sdk.Credential, error) {
	r, err := m.load(ctx, id, viewer)
	if err != nil {
		return nil, err
	}
	if viewer.Name != r.Requester {
		return nil, fmt.Errorf("%w: only %s, who started session %s, may see its credential", ErrForbidden, r.Requester, id)
	}
	l := m.entry(id)
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, err = m.opts.Store.Session(ctx, id); err != nil {
		return nil, err
	}
	switch {
	case State(r.State) != StateAvailable:
		m.forgetIfIdle(id, l)
		return nil, fmt.Errorf("%w: session %s is %s; a credential is shown only while a session is available", ErrNotAvailable, id, r.State)
	case !m.now().Before(r.ExpiresAt) && !r.ExpiresAt.IsZero():
		return nil, fmt.Errorf("%w: session %s reached its maximum duration at %s and is being ended; start a new session", ErrNotAvailable, id, r.ExpiresAt.Format(time.RFC3339))
	case !r.AllowPassword:
		return nil, fmt.Errorf("%w: connection profile %s of session %s does not allow password access", ErrNoPasswordAccess, r.Profile, id)
	case r.Connector == "":
		return nil, fmt.Errorf("%w: activity %s uses your own account, so nothing was checked out", ErrNoCredential, r.Activity)
	}
	var (
		extra []audit.Event
		fresh *sdk.Credential
	)
	uctx := ctx
	if l.cred == nil {
		if fresh, extra, err = m.recheckout(ctx, &r); err != nil {
			return nil, err
		}
		// The new lease must be on record whatever the caller does now, or
		// the end would check in the old one twice and never the new one.
		uctx = context.WithoutCancel(ctx)
	}
	err = m.opts.Store.Update(uctx, func(tx *store.Tx) error {
		if len(extra) > 0 {
			if err := tx.PutSession(&r); err != nil {
				return err
			}
		}
		for _, e := range append(extra, event(&r, audit.TypeCredentialView, viewer.Name, audit.OutcomeOK, nil)) {
			if _, err := m.opts.Audit.AppendTx(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if fresh != nil {
			// Unrecorded, the new lease would be lost: hand it back.
			if cerr := m.checkinErr(context.WithoutCancel(ctx), &r, fresh.LeaseID); cerr != nil {
				m.opts.Logger.Error("cannot check in a credential whose checkout could not be recorded", "session", id, "error", cerr)
			}
		}
		// Shown only once the view is on record.
		return nil, fmt.Errorf("cannot show the credential of session %s: %w", id, err)
	}
	if fresh != nil {
		l.cred = fresh
	}
	c := *l.cred
	return &c, nil
}

func (m *Manager) forgetIfIdle(id string, l *live) {
	if !l.provisioning.Load() && l.cred == nil {
		m.forget(id)
	}
}

// recheckout replaces a credential that a restart lost: the old lease is
// checked in first, so that one session never holds two.
func (m *Manager) recheckout(ctx context.Context, r *store.Session) (*sdk.Credential, []audit.Event, error) {
	var events []audit.Event
	if r.LeaseID != "" {
		in := m.checkin(ctx, r, r.LeaseID)
		in.Actor = SystemActor
		events = append(events, in)
	}
	vault, err := m.opts.Vaults(r.Connector)
	if err != nil {
		return nil, nil, fmt.Errorf("the credential of session %s was lost when byov restarted, and connector %s cannot be reached to check it out again: %w",
			r.ID, r.Connector, err)
	}
	cctx, cancel := context.WithTimeout(ctx, m.checkoutTimeout(m.opts.Config()))
	defer cancel()
	cfg := m.opts.Config()
	var opts map[string]string
	if cfg != nil && cfg.Activities != nil && cfg.Activities[r.Activity] != nil {
		opts = cfg.Activities[r.Activity].VaultOptions
	}
	cred, err := vault.Checkout(cctx, sdk.CheckoutRequest{
		Account: sdk.Account{Domain: r.AccountDomain, Username: r.AccountUsername},
		Options: opts,
		Session: sdk.SessionContext{SessionID: r.ID, Requester: r.Requester, Resource: r.Resource, Activity: r.Activity},
		Reason:  r.Reason,
	})
	if err == nil && cred == nil {
		err = sdk.Errorf(sdk.CodeInternal, "report this to the connector's author", "the connector returned no credential and no error")
	}
	if err != nil {
		// The old lease is checked in either way; record that, and
		// the failure, so that the end does not check it in twice.
		r.LeaseID, r.UpdatedAt = "", m.now()
		events = append(events, event(r, audit.TypeCheckout, SystemActor, audit.OutcomeError,
			map[string]string{"code": string(sdk.CodeOf(err)), "message": err.Error()}))
		aerr := m.opts.Store.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			if err := tx.PutSession(r); err != nil {
				return err
			}
			for _, e := range events {
				if _, err := m.opts.Audit.AppendTx(tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if aerr != nil {
			m.opts.Logger.Error("cannot audit a failed checkout", "session", r.ID, "error", aerr)
		}
		return nil, nil, fmt.Errorf("the credential of session %s was lost when byov restarted and checking it out again failed; end the session and start a new one: %w", r.ID, err)
	}
	r.LeaseID, r.CredentialUser, r.UpdatedAt = cred.LeaseID, cred.Username, m.now()
	events = append(events, event(r, audit.TypeCheckout, SystemActor, audit.OutcomeOK,
		map[string]string{"reason": "byov restarted and the credential held in memory was lost"}))
	return cred, events, nil
}

// ExpireDue ends every session past its deadline, resumes ends a restart
// interrupted, and fails sessions a restart caught provisioning. It returns
// how many sessions it ended.
func (m *Manager) ExpireDue(ctx context.Context) (int, error) {
	now := m.now()
	due, err := m.opts.Store.Sessions(ctx, store.SessionFilter{States: openStates, DueBy: now, Limit: -1})
	if err != nil {
		return 0, err
	}
	stuck, err := m.opts.Store.Sessions(ctx, store.SessionFilter{
		States: []string{string(StatePending), string(StateProvisioning), string(StateEnding)}, Limit: -1})
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	var errs []error
	n := 0
	for _, r := range append(due, stuck...) {
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		ended, err := m.expireOne(ctx, r, now)
		if err != nil {
			errs = append(errs, err)
		}
		if ended {
			n++
		}
	}
	return n, errors.Join(errs...)
}

func (m *Manager) expireOne(ctx context.Context, r store.Session, now time.Time) (bool, error) {
	switch State(r.State) {
	case StatePending, StateProvisioning:
		m.mu.Lock()
		l := m.live[r.ID]
		inFlight := l != nil && l.provisioning.Load()
		m.mu.Unlock()
		if inFlight {
			if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
				_, err := m.end(ctx, r.ID, SystemActor, "the maximum session duration was reached while provisioning")
				return err == nil, err
			}
			return false, nil
		}
		due := !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
		if !r.CreatedAt.Before(m.started) && !due {
			// Created by this process and between its row and its
			// live entry; not stuck (yet: one whose last write failed
			// is failed here once it is due).
			return false, nil
		}
		l = m.entry(r.ID)
		l.mu.Lock()
		defer l.mu.Unlock()
		defer m.forget(r.ID)
		cur, err := m.opts.Store.Session(ctx, r.ID)
		if err != nil || State(cur.State) != State(r.State) {
			return false, err
		}
		_, err = m.fail(context.WithoutCancel(ctx), &cur, sdk.Errorf(sdk.CodeUnavailable,
			"start a new session; if the vault hands out leases, check that this session's lease was released",
			"byov stopped while session %s was being provisioned, so the checkout's answer was lost", r.ID))
		if err != nil && !errors.Is(err, ErrFailed) {
			return false, err
		}
		return true, nil
	case StateEnding:
		_, err := m.end(ctx, r.ID, SystemActor, "resuming an end that a restart of byov interrupted")
		return err == nil, err
	default:
		_, err := m.end(ctx, r.ID, SystemActor, "the maximum session duration was reached")
		return err == nil, err
	}
}

// RunExpiry runs ExpireDue at once (which also cleans up after a restart) and
// then every ExpiryInterval until ctx ends. Errors are logged and retried on
// the next tick.
func (m *Manager) RunExpiry(ctx context.Context) {
	t := time.NewTicker(m.opts.ExpiryInterval)
	defer t.Stop()
	for {
		if _, err := m.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			m.opts.Logger.Error("ending sessions at their deadline failed; retrying", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
