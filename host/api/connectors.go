package api

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/sdk"
)

// Audit record types of vault management through the API: changing a secret
// in the builtin vault is as privileged as reading one.
const (
	TypeAccountPut    audit.Type = "account.put"
	TypeAccountDelete audit.Type = "account.delete"
)

func (s *Server) connectors() []ConnectorInfo {
	if s.opts.Connectors == nil {
		return nil
	}
	list := s.opts.Connectors.Connectors()
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request, c caller) error {
	list := s.connectors()
	if list == nil {
		list = []ConnectorInfo{}
	}
	writeJSON(w, http.StatusOK, ConnectorList{Connectors: list})
	return nil
}

// instance finds a configured connector by name; an unknown name is a 404
// naming the ones there are.
func (s *Server) instance(ctx context.Context, name string) (ConnectorInstance, error) {
	inst, err := s.opts.Connectors.Instance(ctx, name)
	if err == nil {
		return inst, nil
	}
	if sdk.CodeOf(err) != sdk.CodeNotFound {
		return nil, fmt.Errorf("connector %s cannot be used: %w", name, err)
	}
	// Only an unknown name needs the list, for the hint.
	var names []string
	for _, ci := range s.connectors() {
		names = append(names, ci.Name)
	}
	hint := "no connector is configured"
	if len(names) > 0 {
		hint = "the configured connectors are " + strings.Join(names, ", ")
	}
	return nil, errorf(http.StatusNotFound, CodeNotFound, hint, fmt.Sprintf("there is no connector named %q", name))
}

// parseAccount reads DOMAIN\username (or a bare username).
func parseAccount(s string) (sdk.Account, error) {
	s = strings.TrimSpace(s)
	a := sdk.Account{Username: s}
	if i := strings.LastIndexByte(s, '\\'); i >= 0 {
		a = sdk.Account{Domain: s[:i], Username: s[i+1:]}
	}
	if a.Username == "" {
		return a, badRequest(fmt.Sprintf("the account %q has no username", s), `write it as DOMAIN\username (in JSON, "DOMAIN\\username")`)
	}
	return a, nil
}

func (s *Server) checkConnector(w http.ResponseWriter, r *http.Request, c caller) error {
	var req CheckRequest
	if err := decode(r, &req, true); err != nil {
		return err
	}
	name := r.PathValue("name")
	var creq sdk.CheckRequest
	if req.TestAccount != "" {
		a, err := parseAccount(req.TestAccount)
		if err != nil {
			return err
		}
		creq.TestAccount = a
	}
	inst, err := s.instance(r.Context(), name)
	if err != nil {
		return err
	}
	findings, err := inst.Check(r.Context(), creq)
	if err != nil {
		return fmt.Errorf("the check of connector %s could not run: %w", name, err)
	}
	out := CheckResult{Connector: name, OK: true, Findings: make([]Finding, len(findings))}
	for i, f := range findings {
		out.Findings[i] = Finding{Step: f.Step, OK: f.OK, Message: f.Message, Hint: f.Hint}
		out.OK = out.OK && f.OK
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, c caller) error {
	name := r.PathValue("name")
	inst, err := s.instance(r.Context(), name)
	if err != nil {
		return err
	}
	infos, err := inst.List(r.Context(), sdk.ListRequest{Domain: r.URL.Query().Get("domain")})
	if err != nil {
		return fmt.Errorf("cannot list the accounts of connector %s: %w", name, err)
	}
	out := AccountList{Accounts: make([]AccountInfo, len(infos))}
	for i, in := range infos {
		out.Accounts[i] = AccountInfo{Account: in.Account.String(), Domain: in.Account.Domain, Username: in.Account.Username,
			Description: in.Description, Tags: in.Tags, Version: in.Version, UpdatedAt: in.UpdatedAt}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) putAccount(w http.ResponseWriter, r *http.Request, c caller) error {
	var req PutAccountRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	name := r.PathValue("name")
	a, err := parseAccount(req.Account)
	if err != nil {
		return err
	}
	if req.Password == "" {
		return badRequest("the request has no password for "+a.String(), "send the new password in the field password")
	}
	inst, err := s.instance(r.Context(), name)
	if err != nil {
		return err
	}
	version, err := inst.Put(r.Context(), sdk.PutRequest{Account: a, Secret: sdk.Secret(req.Password),
		Description: req.Description, Tags: req.Tags})
	outcome, detail := audit.OutcomeOK, map[string]string{"account": a.String(), "token_id": c.token.ID}
	if err != nil {
		outcome, detail["code"] = audit.OutcomeError, string(sdk.CodeOf(err))
	} else {
		detail["version"] = strconv.FormatInt(version, 10)
	}
	if aerr := s.auditVault(r.Context(), TypeAccountPut, c, name, outcome, detail); aerr != nil && err == nil {
		return aerr
	}
	if err != nil {
		return fmt.Errorf("cannot store account %s in connector %s: %w", a, name, err)
	}
	writeJSON(w, http.StatusOK, PutAccountResult{Connector: name, Account: a.String(), Version: version})
	return nil
}

func (s *Server) deleteAccount(w http.ResponseWriter, r *http.Request, c caller) error {
	name := r.PathValue("name")
	a, err := parseAccount(r.PathValue("account"))
	if err != nil {
		return err
	}
	inst, err := s.instance(r.Context(), name)
	if err != nil {
		return err
	}
	err = inst.Delete(r.Context(), a)
	outcome, detail := audit.OutcomeOK, map[string]string{"account": a.String(), "token_id": c.token.ID}
	if err != nil {
		outcome, detail["code"] = audit.OutcomeError, string(sdk.CodeOf(err))
	}
	if aerr := s.auditVault(r.Context(), TypeAccountDelete, c, name, outcome, detail); aerr != nil && err == nil {
		return aerr
	}
	if err != nil {
		return fmt.Errorf("cannot delete account %s from connector %s: %w", a, name, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// auditVault records a change to a vault's accounts. The change has happened
// by then, so a failure to record it is reported rather than hidden.
func (s *Server) auditVault(ctx context.Context, typ audit.Type, c caller, connector string, outcome audit.Outcome, detail map[string]string) error {
	_, err := s.opts.Audit.Append(context.WithoutCancel(ctx), audit.Event{Type: typ, Actor: c.actor.Name, Connector: connector,
		Outcome: outcome, Detail: detail})
	if err != nil {
		return fmt.Errorf("the change to connector %s was made but could not be audited: %w", connector, err)
	}
	return nil
}
