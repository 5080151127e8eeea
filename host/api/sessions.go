package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/byov/byov/host/sessions"
)

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, c caller) error {
	var req StartSessionRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	if strings.TrimSpace(req.Activity) == "" || strings.TrimSpace(req.Resource) == "" {
		return badRequest("a session needs an activity and a resource",
			`send {"activity": "...", "resource": "...", "reason": "..."}; the activities and resources are in the configuration`)
	}
	start := time.Now()
	sess, err := s.opts.Sessions.Start(r.Context(), sessions.StartRequest{Requester: c.actor.Name,
		Activity: req.Activity, Resource: req.Resource, Reason: req.Reason})
	if sess.Connector != "" {
		s.metrics.ObserveCheckout(sess.Connector, checkoutResult(sess), time.Since(start))
	}
	if err != nil {
		e := toAPIError(err)
		if sess.ID != "" {
			// The failed or cancelled session exists and says what happened;
			// send it along so that the caller can show it.
			e.session = &sess
		}
		return e
	}
	writeJSON(w, http.StatusCreated, sess)
	return nil
}

// checkoutResult is the result label of a session start's checkout.
func checkoutResult(sess sessions.Session) string {
	switch {
	case sess.State == sessions.StateFailed && sess.Error != nil && sess.Error.Code != "":
		return sess.Error.Code
	case sess.State == sessions.StateFailed:
		return CodeInternal
	case sess.State == sessions.StateCancelled:
		return "cancelled"
	}
	return "ok"
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, c caller) error {
	q := r.URL.Query()
	states, err := parseStates(q.Get("state"))
	if err != nil {
		return err
	}
	user := q.Get("user")
	if !c.actor.Admin && user != "" && user != c.actor.Name {
		return errorf(http.StatusForbidden, CodeForbidden, "leave out ?user= to list your own sessions",
			fmt.Sprintf("only an administrator may list the sessions of %s", user))
	}
	limit, err := queryInt(r, "limit", 1000)
	if err != nil {
		return err
	}
	list, err := s.opts.Sessions.List(r.Context(), sessions.ListFilter{Requester: user, States: states, Limit: int(limit)}, c.actor)
	if err != nil {
		return err
	}
	if list == nil {
		list = []sessions.Session{}
	}
	writeJSON(w, http.StatusOK, SessionList{Sessions: list})
	return nil
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, c caller) error {
	sess, err := s.opts.Sessions.Get(r.Context(), r.PathValue("id"), c.actor)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sess)
	return nil
}

func (s *Server) credential(w http.ResponseWriter, r *http.Request, c caller) error {
	if !s.plaintextAllowed(r) {
		return errorf(http.StatusForbidden, CodeInsecureTransport,
			"connect over https (server.tls_cert_file and tls_key_file) or through a loopback address; on a network you trust, an administrator may set server.allow_plaintext_credentials",
			"byov does not send a credential over plain HTTP to a network address, where anyone on the path could read it")
	}
	id := r.PathValue("id")
	cred, err := s.opts.Sessions.Credential(r.Context(), id, c.actor)
	if err != nil {
		return err
	}
	out := Credential{SessionID: id, Username: cred.Username, Password: cred.Secret.Reveal(),
		CredentialExpiresAt: cred.ExpiresAt, LeaseID: cred.LeaseID, Metadata: cred.Metadata}
	// The session's account and deadline belong in the answer; the
	// credential was already shown (and audited), so a failure here only
	// leaves them out.
	if sess, err := s.opts.Sessions.Get(r.Context(), id, c.actor); err == nil {
		out.Account, out.ExpiresAt = sess.Account, sess.ExpiresAt
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request, c caller) error {
	var req EndSessionRequest
	if err := decode(r, &req, true); err != nil {
		return err
	}
	sess, err := s.opts.Sessions.End(r.Context(), r.PathValue("id"), c.actor, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sess)
	return nil
}
