package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/store"
)

func (s *Server) pluginController() (PluginController, error) {
	if s.opts.Plugins == nil {
		return nil, errorf(http.StatusNotImplemented, "Unsupported", "", "this server runs no connector plugins")
	}
	return s.opts.Plugins, nil
}

func (s *Server) listPlugins(w http.ResponseWriter, r *http.Request, c caller) error {
	pc, err := s.pluginController()
	if err != nil {
		return err
	}
	list := pc.List()
	if list == nil {
		list = []plugins.Status{}
	}
	writeJSON(w, http.StatusOK, PluginList{Plugins: list})
	return nil
}

func (s *Server) reloadPlugin(w http.ResponseWriter, r *http.Request, c caller) error {
	var req ReloadRequest
	if err := decode(r, &req, true); err != nil {
		return err
	}
	pc, err := s.pluginController()
	if err != nil {
		return err
	}
	typ := r.PathValue("type")
	var types []string
	known := false
	for _, st := range pc.List() {
		types = append(types, st.Type)
		known = known || st.Type == typ
	}
	if !known {
		hint := "put a byov-connector-" + typ + " binary in the plugin directory first"
		if len(types) > 0 {
			hint += "; the known types are " + strings.Join(types, ", ")
		}
		return errorf(http.StatusNotFound, CodeNotFound, hint, fmt.Sprintf("there is no connector plugin of type %q", typ))
	}

	st, rerr := pc.Reload(r.Context(), typ, req.Version)
	detail := map[string]string{"plugin": typ, "token_id": c.token.ID}
	if req.Version != "" {
		detail["requested_version"] = req.Version
	}
	if st.Version != "" {
		detail["version"] = st.Version
	}
	if st.SHA256 != "" {
		detail["sha256"] = st.SHA256
	}
	outcome := audit.OutcomeOK
	if rerr != nil {
		outcome, detail["error"] = audit.OutcomeError, rerr.Error()
	}
	// The swap has happened whether or not the client is still there.
	_, aerr := s.opts.Audit.Append(context.WithoutCancel(r.Context()), audit.Event{Type: audit.TypePluginSwap, Actor: c.actor.Name, Outcome: outcome, Detail: detail})
	if rerr != nil {
		msg := rerr.Error()
		if !strings.Contains(msg, "keeps serving") && !strings.Contains(msg, "nothing else was running") {
			msg += "; the version that was running keeps serving"
		}
		e := errorf(http.StatusBadGateway, CodeReloadFailed,
			"fix what the message says and reload again; `byov plugin list` shows what is running", msg)
		e.cause, e.plugin = rerr, &st
		return e
	}
	if aerr != nil {
		return fmt.Errorf("plugin %s was reloaded to version %s but the swap could not be audited: %w", typ, st.Version, aerr)
	}
	writeJSON(w, http.StatusOK, ReloadResult{Plugin: st})
	return nil
}

func (s *Server) queryAudit(w http.ResponseWriter, r *http.Request, c caller) error {
	q := r.URL.Query()
	f := audit.Filter{SessionID: q.Get("session"), Type: audit.Type(q.Get("type"))}
	if v := q.Get("since"); v != "" {
		t, err := parseSince(v, s.opts.Now())
		if err != nil {
			return err
		}
		f.Since = t
	}
	after, err := queryInt(r, "after", 0)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 1000)
	if err != nil {
		return err
	}
	f.AfterSeq, f.Limit = after, int(limit)
	if v := q.Get("newest"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest(fmt.Sprintf("the query parameter newest=%q is not true or false", v), "")
		}
		f.Newest = b
	}
	recs, err := s.opts.Audit.Query(r.Context(), f)
	if err != nil {
		return err
	}
	page := AuditPage{Records: recs}
	if page.Records == nil {
		page.Records = []audit.Record{}
	}
	effective := f.Limit
	if effective == 0 {
		effective = 100
	}
	if !f.Newest && len(recs) == effective {
		page.NextAfter = recs[len(recs)-1].Seq
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// parseSince reads a time (RFC 3339) or a duration back from now ("1h").
func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := parseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, badRequest(fmt.Sprintf("the query parameter since=%q is neither a time nor a duration", v),
		"give a time such as 2026-05-01T09:00:00Z or a duration back from now such as 1h or 7d")
}

// parseDuration is time.ParseDuration plus whole days ("30d"), which is how
// people write token lifetimes and audit windows.
func parseDuration(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, c caller) error {
	rep, err := s.opts.Audit.Verify(r.Context())
	if err != nil {
		return err
	}
	// A broken chain is an answer, not a failure of the request: the
	// report says where.
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func tokenInfo(t store.Token) TokenInfo {
	return TokenInfo{ID: t.ID, Name: t.Name, Role: string(t.Role), User: t.User, CreatedAt: t.CreatedAt,
		ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c caller) error {
	var req CreateTokenRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	spec := store.TokenSpec{Name: strings.TrimSpace(req.Name), Role: store.Role(req.Role), User: strings.TrimSpace(req.User), Now: s.opts.Now()}
	if spec.Role == "" {
		spec.Role = store.RoleUser
	}
	switch {
	case spec.Name == "":
		return badRequest("a token needs a name, to tell it apart when listing and revoking", "send the field name")
	case spec.User == "":
		return badRequest("a token needs the user it acts as", "send the field user with a user name of the configuration")
	case spec.Role != store.RoleAdmin && spec.Role != store.RoleUser:
		return badRequest(fmt.Sprintf("there is no token role %q", req.Role), `use "admin" or "user"`)
	case spec.Role == store.RoleUser && s.opts.KnownUser != nil && !s.opts.KnownUser(spec.User):
		return badRequest(fmt.Sprintf("there is no user block named %q in the configuration, so no access policy could apply to this token", spec.User),
			"add `user \""+spec.User+"\" {}` to the configuration and reload it, or check the spelling")
	}
	if req.TTL != "" {
		d, err := parseDuration(req.TTL)
		if err != nil || d <= 0 {
			return badRequest(fmt.Sprintf("the token lifetime %q is not a positive duration", req.TTL),
				"write it as 24h or 30d, or leave it out for a token that lasts until revoked")
		}
		spec.TTL = d
	}
	var (
		secret string
		tok    store.Token
	)
	err := s.opts.Store.Update(r.Context(), func(tx *store.Tx) error {
		var err error
		secret, tok, err = tx.CreateToken(spec)
		if err != nil {
			return err
		}
		detail := map[string]string{"token_id": tok.ID, "name": tok.Name, "role": string(tok.Role), "user": tok.User,
			"by_token_id": c.token.ID}
		if !tok.ExpiresAt.IsZero() {
			detail["expires_at"] = tok.ExpiresAt.Format(time.RFC3339)
		}
		_, err = s.opts.Audit.AppendTx(tx, audit.Event{Type: audit.TypeTokenCreate, Actor: c.actor.Name, Outcome: audit.OutcomeOK, Detail: detail})
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot create the token %q: %w", spec.Name, err)
	}
	writeJSON(w, http.StatusCreated, CreatedToken{Token: secret, TokenInfo: tokenInfo(tok)})
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, c caller) error {
	toks, err := s.opts.Store.Tokens(r.Context())
	if err != nil {
		return err
	}
	out := TokenList{Tokens: make([]TokenInfo, len(toks))}
	for i, t := range toks {
		out.Tokens[i] = tokenInfo(t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, c caller) error {
	id := r.PathValue("id")
	var tok store.Token
	err := s.opts.Store.Update(r.Context(), func(tx *store.Tx) error {
		var err error
		tok, err = tx.RevokeToken(id, s.opts.Now())
		if err != nil {
			return err
		}
		_, err = s.opts.Audit.AppendTx(tx, audit.Event{Type: audit.TypeTokenRevoke, Actor: c.actor.Name, Outcome: audit.OutcomeOK,
			Detail: map[string]string{"token_id": tok.ID, "name": tok.Name, "user": tok.User, "by_token_id": c.token.ID}})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, CodeNotFound, "list the tokens with `byov token list`", fmt.Sprintf("there is no token %s", id))
	}
	if err != nil {
		return fmt.Errorf("cannot revoke token %s: %w", id, err)
	}
	writeJSON(w, http.StatusOK, tokenInfo(tok))
	return nil
}
