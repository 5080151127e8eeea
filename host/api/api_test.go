package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/byov/byov/host/api"
	"github.com/byov/byov/host/api/internal/apitest"
	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/sessions"
	"github.com/byov/byov/host/store"
	"github.com/byov/byov/sdk"
)

// call sends a request to the harness; body is sent as is when it is a
// string, else as JSON.
func call(t *testing.T, h *apitest.Harness, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("cannot decode %s: %v", data, err)
	}
	return v
}

// wantError checks an error answer's status and code and returns its body.
func wantError(t *testing.T, status int, data []byte, wantStatus int, wantCode string) api.ErrorBody {
	t.Helper()
	eb := decode[api.ErrorBody](t, data)
	if status != wantStatus || eb.Error.Code != wantCode || eb.Error.Message == "" {
		t.Fatalf("got %d %s, want %d with code %s", status, data, wantStatus, wantCode)
	}
	return eb
}

func wantStatus(t *testing.T, status int, data []byte, want int) {
	t.Helper()
	if status != want {
		t.Fatalf("got %d %s, want %d", status, data, want)
	}
}

func records(t *testing.T, h *apitest.Harness, f audit.Filter) []audit.Record {
	t.Helper()
	f.Limit = 1000
	recs, err := h.Audit.Query(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func noSecrets(t *testing.T, h *apitest.Harness, where, text string) {
	t.Helper()
	for _, s := range h.Secrets() {
		if strings.Contains(text, s) {
			t.Fatalf("%s holds the secret %q:\n%s", where, s, text)
		}
	}
}

func TestAuthentication(t *testing.T) {
	h := apitest.New(t)
	ctx := context.Background()
	expired, _, err := h.Store.CreateToken(ctx, store.TokenSpec{Name: "old", Role: store.RoleAdmin, User: "root", TTL: time.Hour,
		Now: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	revoked, tok, err := h.Store.CreateToken(ctx, store.TokenSpec{Name: "gone", Role: store.RoleAdmin, User: "root"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.RevokeToken(ctx, tok.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, header string }{
		{"missing", ""},
		{"not bearer", "Basic cm9vdDpyb290"},
		{"empty bearer", "Bearer "},
		{"unknown token", "Bearer byov_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"no prefix", "Bearer hunter2"},
		{"expired", "Bearer " + expired},
		{"revoked", "Bearer " + revoked},
	}
	var messages []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", h.URL+"/v1/sessions", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			eb := wantError(t, resp.StatusCode, data, http.StatusUnauthorized, api.CodeUnauthorized)
			if !strings.Contains(eb.Error.Hint, "BYOV_TOKEN") {
				t.Fatalf("hint %q does not say how to fix it", eb.Error.Hint)
			}
			if strings.HasPrefix(tt.header, "Bearer byov_") || tt.name == "expired" || tt.name == "revoked" {
				messages = append(messages, eb.Error.Message)
			}
		})
	}
	// A caller cannot tell an unknown token from an expired or revoked one.
	if len(messages) != 3 || messages[0] != messages[1] || messages[1] != messages[2] {
		t.Fatalf("401 messages differ: %q", messages)
	}
	// The server log does tell them apart, by token id and never by token.
	logs := h.Logs.String()
	if !strings.Contains(logs, "revoked") || !strings.Contains(logs, "expired") {
		t.Fatalf("the log does not say why tokens were refused:\n%s", logs)
	}
	for _, s := range []string{expired, revoked} {
		if strings.Contains(logs, s) {
			t.Fatalf("the log holds a token:\n%s", logs)
		}
	}

	adminRoutes := []struct{ method, path string }{
		{"POST", "/v1/connectors/builtin/check"},
		{"GET", "/v1/connectors/builtin/accounts"},
		{"PUT", "/v1/connectors/builtin/accounts"},
		{"DELETE", "/v1/connectors/builtin/accounts/CORP%5Calice"},
		{"GET", "/v1/plugins"},
		{"POST", "/v1/plugins/builtin/reload"},
		{"GET", "/v1/audit"},
		{"GET", "/v1/audit/verify"},
		{"POST", "/v1/tokens"},
		{"GET", "/v1/tokens"},
		{"DELETE", "/v1/tokens/tok_1"},
	}
	for _, rt := range adminRoutes {
		status, data := call(t, h, rt.method, rt.path, h.Tokens["alice"], nil)
		if eb := wantError(t, status, data, http.StatusForbidden, api.CodeForbidden); !strings.Contains(eb.Error.Message, "admin token") {
			t.Fatalf("%s %s: %s", rt.method, rt.path, eb.Error.Message)
		}
	}
	// Health and metrics need no token.
	for _, p := range []string{"/v1/sys/health", "/metrics"} {
		if status, data := call(t, h, "GET", p, "", nil); status != http.StatusOK {
			t.Fatalf("GET %s without a token: %d %s", p, status, data)
		}
	}
}

func TestSessionRoundTrip(t *testing.T) {
	h := apitest.New(t)
	alice, bob, root := h.Tokens["alice"], h.Tokens["bob"], h.Tokens["root"]

	status, data := call(t, h, "POST", "/v1/sessions", alice, api.StartSessionRequest{Activity: "domain-admin", Resource: "srv01", Reason: "ticket 42"})
	wantStatus(t, status, data, http.StatusCreated)
	s := decode[sessions.Session](t, data)
	if s.State != sessions.StateAvailable || s.Requester != "alice" || s.Account != `CORP\alice` || s.Reason != "ticket 42" {
		t.Fatalf("session %+v", s)
	}
	if strings.Contains(string(data), apitest.AlicePassword) {
		t.Fatal("the session answer holds the password")
	}

	list := func(token, query string) []sessions.Session {
		t.Helper()
		status, data := call(t, h, "GET", "/v1/sessions"+query, token, nil)
		wantStatus(t, status, data, http.StatusOK)
		return decode[api.SessionList](t, data).Sessions
	}
	if got := list(alice, ""); len(got) != 1 || got[0].ID != s.ID {
		t.Fatalf("alice's list: %+v", got)
	}
	if got := list(bob, ""); len(got) != 0 {
		t.Fatalf("bob sees %+v", got)
	}
	if got := list(root, "?user=alice&state=available"); len(got) != 1 {
		t.Fatalf("root's filtered list: %+v", got)
	}
	if got := list(root, "?state=completed,failed"); len(got) != 0 {
		t.Fatalf("root's list of ended sessions: %+v", got)
	}
	status, data = call(t, h, "GET", "/v1/sessions?user=alice", bob, nil)
	wantError(t, status, data, http.StatusForbidden, api.CodeForbidden)
	status, data = call(t, h, "GET", "/v1/sessions?state=sleeping", root, nil)
	wantError(t, status, data, http.StatusBadRequest, api.CodeInvalidRequest)

	status, data = call(t, h, "GET", "/v1/sessions/"+s.ID, bob, nil)
	wantError(t, status, data, http.StatusNotFound, api.CodeNotFound)
	status, data = call(t, h, "GET", "/v1/sessions/"+s.ID, root, nil)
	wantStatus(t, status, data, http.StatusOK)

	status, data = call(t, h, "GET", "/v1/sessions/"+s.ID+"/credential", bob, nil)
	if status != http.StatusForbidden && status != http.StatusNotFound || strings.Contains(string(data), apitest.AlicePassword) {
		t.Fatalf("bob asked for alice's credential: %d %s", status, data)
	}
	status, data = call(t, h, "GET", "/v1/sessions/"+s.ID+"/credential", root, nil)
	wantError(t, status, data, http.StatusForbidden, api.CodeForbidden)

	status, data = call(t, h, "GET", "/v1/sessions/"+s.ID+"/credential", alice, nil)
	wantStatus(t, status, data, http.StatusOK)
	cred := decode[api.Credential](t, data)
	if cred.Password != apitest.AlicePassword || cred.Username != "alice" || cred.Account != `CORP\alice` ||
		!cred.ExpiresAt.Equal(s.ExpiresAt) || cred.LeaseID != "lease-1" || cred.Metadata["entry"] != "42" {
		t.Fatalf("credential %+v", cred)
	}

	status, data = call(t, h, "DELETE", "/v1/sessions/"+s.ID, alice, api.EndSessionRequest{Reason: "done"})
	wantStatus(t, status, data, http.StatusOK)
	if ended := decode[sessions.Session](t, data); ended.State != sessions.StateCompleted || ended.EndedBy != "alice" || ended.EndReason != "done" {
		t.Fatalf("ended %+v", ended)
	}
	// Ending again, without a body, returns it as it is.
	status, data = call(t, h, "DELETE", "/v1/sessions/"+s.ID, root, nil)
	wantStatus(t, status, data, http.StatusOK)
	status, data = call(t, h, "GET", "/v1/sessions/"+s.ID+"/credential", alice, nil)
	wantError(t, status, data, http.StatusConflict, api.CodeNotAvailable)
	if out, in := h.Vault.Counts(); out != 1 || in != 1 {
		t.Fatalf("%d checkouts and %d checkins, want 1 and 1", out, in)
	}

	var types []audit.Type
	for _, r := range records(t, h, audit.Filter{SessionID: s.ID}) {
		types = append(types, r.Type)
	}
	if !slices.Contains(types, audit.TypeCredentialView) || !slices.Contains(types, audit.TypeCheckin) {
		t.Fatalf("audit records %v", types)
	}
	status, data = call(t, h, "GET", "/v1/audit/verify", root, nil)
	wantStatus(t, status, data, http.StatusOK)
	if rep := decode[audit.Report](t, data); !rep.OK || rep.Records == 0 {
		t.Fatalf("verify: %+v", rep)
	}
	noSecrets(t, h, "the server log", h.Logs.String())
}

func TestDeniedRequest(t *testing.T) {
	h := apitest.New(t)
	status, data := call(t, h, "POST", "/v1/sessions", h.Tokens["alice"], api.StartSessionRequest{Activity: "domain-admin", Resource: "db01"})
	eb := wantError(t, status, data, http.StatusForbidden, api.CodeDenied)
	if !strings.Contains(eb.Error.Message, "db01") || eb.Session != nil {
		t.Fatalf("denial %+v", eb)
	}
	if out, _ := h.Vault.Counts(); out != 0 {
		t.Fatalf("%d checkouts after a denial", out)
	}
	recs := records(t, h, audit.Filter{Type: audit.TypeRequestDenied})
	if len(recs) != 1 || recs[0].Actor != "alice" || recs[0].Detail["reason"] == "" {
		t.Fatalf("denial records %+v", recs)
	}
	// An admin token does not bypass the policy.
	status, data = call(t, h, "POST", "/v1/sessions", h.Tokens["root"], api.StartSessionRequest{Activity: "domain-admin", Resource: "srv01"})
	wantError(t, status, data, http.StatusForbidden, api.CodeDenied)
}

func TestConnectorFailureFailsTheSession(t *testing.T) {
	h := apitest.New(t)
	status, data := call(t, h, "POST", "/v1/sessions", h.Tokens["alice"], api.StartSessionRequest{Activity: "domain-admin", Resource: "ghost"})
	eb := wantError(t, status, data, http.StatusNotFound, string(sdk.CodeNotFound))
	if eb.Session == nil || eb.Session.State != sessions.StateFailed || eb.Session.Error == nil || eb.Session.Error.Code != "NotFound" {
		t.Fatalf("no failed session in %s", data)
	}
	if !strings.Contains(eb.Error.Hint, "AD User entry") || strings.Contains(eb.Error.Message, "(hint:") {
		t.Fatalf("error %+v: the hint belongs in its own field", eb.Error)
	}
}

func TestCredentialRules(t *testing.T) {
	h := apitest.New(t)
	start := func(token, activity string) sessions.Session {
		t.Helper()
		status, data := call(t, h, "POST", "/v1/sessions", token, api.StartSessionRequest{Activity: activity, Resource: "srv01"})
		wantStatus(t, status, data, http.StatusCreated)
		return decode[sessions.Session](t, data)
	}
	carol := start(h.Tokens["carol"], "domain-admin")
	status, data := call(t, h, "GET", "/v1/sessions/"+carol.ID+"/credential", h.Tokens["carol"], nil)
	wantError(t, status, data, http.StatusForbidden, api.CodeNoPasswordAccess)
	if strings.Contains(string(data), apitest.CarolPassword) {
		t.Fatal("the refusal holds the password")
	}
	own := start(h.Tokens["bob"], "own-login")
	status, data = call(t, h, "GET", "/v1/sessions/"+own.ID+"/credential", h.Tokens["bob"], nil)
	wantError(t, status, data, http.StatusConflict, api.CodeNoCredential)

	// Over plain HTTP to a network address the credential is refused, even
	// to its requester, unless the operator allows it.
	bob := start(h.Tokens["bob"], "domain-admin")
	ask := func(handler http.Handler) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/v1/sessions/"+bob.ID+"/credential", nil)
		req.Header.Set("Authorization", "Bearer "+h.Tokens["bob"])
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 8443}))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}
	rec := ask(h.Server.Handler())
	eb := wantError(t, rec.Code, rec.Body.Bytes(), http.StatusForbidden, api.CodeInsecureTransport)
	if !strings.Contains(eb.Error.Hint, "allow_plaintext_credentials") {
		t.Fatalf("hint %q", eb.Error.Hint)
	}
	permissive, err := api.New(api.Options{Sessions: h.Sessions, Audit: h.Audit, Store: h.Store, AllowPlaintextCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	rec = ask(permissive.Handler())
	if rec.Code != http.StatusOK || decode[api.Credential](t, rec.Body.Bytes()).Password != apitest.BobPassword {
		t.Fatalf("with plaintext allowed: %d %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control %q on a credential", got)
	}
	// A configuration reload can take the permission back.
	permissive.SetAllowPlaintextCredentials(false)
	rec = ask(permissive.Handler())
	wantError(t, rec.Code, rec.Body.Bytes(), http.StatusForbidden, api.CodeInsecureTransport)
}

func TestRequestBodies(t *testing.T) {
	h := apitest.New(t)
	alice := h.Tokens["alice"]
	tests := []struct {
		name      string
		body      string
		status    int
		code      string
		inMessage string
		inHint    string
	}{
		{"unknown field", `{"activity":"domain-admin","resource":"srv01","resourse":"x"}`, 400, api.CodeInvalidRequest, `"resourse"`, "activity, resource, reason"},
		{"not json", `activity=domain-admin`, 400, api.CodeInvalidRequest, "not valid JSON", ""},
		{"cut off", `{"activity":"domain-admin"`, 400, api.CodeInvalidRequest, "not valid JSON", ""},
		{"array", `[1,2]`, 400, api.CodeInvalidRequest, "JSON object", ""},
		{"wrong type", `{"activity":5,"resource":"srv01"}`, 400, api.CodeInvalidRequest, "activity must be a JSON string", ""},
		{"two objects", `{"activity":"domain-admin","resource":"srv01"}{}`, 400, api.CodeInvalidRequest, "more after", ""},
		{"empty", ``, 400, api.CodeInvalidRequest, "needs a JSON body", ""},
		{"missing fields", `{"reason":"x"}`, 400, api.CodeInvalidRequest, "activity and a resource", ""},
		{"too large", `{"reason":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`, 413, api.CodeTooLarge, "larger than 64 KiB", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, data := call(t, h, "POST", "/v1/sessions", alice, tt.body)
			eb := wantError(t, status, data, tt.status, tt.code)
			if !strings.Contains(eb.Error.Message, tt.inMessage) || !strings.Contains(eb.Error.Hint, tt.inHint) {
				t.Fatalf("error %+v, want %q in the message and %q in the hint", eb.Error, tt.inMessage, tt.inHint)
			}
		})
	}
	if out, _ := h.Vault.Counts(); out != 0 {
		t.Fatalf("%d checkouts from bad requests", out)
	}
}

func TestRoutesNotFoundAndMethods(t *testing.T) {
	h := apitest.New(t)
	status, data := call(t, h, "GET", "/v1/nope", h.Tokens["root"], nil)
	wantError(t, status, data, http.StatusNotFound, api.CodeNotFound)
	req, _ := http.NewRequest("PATCH", h.URL+"/v1/sessions", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp.StatusCode, data, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed)
	if allow := resp.Header.Get("Allow"); allow != "GET, POST" {
		t.Fatalf("Allow %q", allow)
	}
}

func TestConnectorErrorCodes(t *testing.T) {
	h := apitest.New(t)
	want := map[sdk.Code]int{
		sdk.CodeNotFound: 404, sdk.CodeAmbiguous: 409, sdk.CodeInvalidConfig: 400, sdk.CodeUnauthenticated: 502,
		sdk.CodePermissionDenied: 502, sdk.CodeUnavailable: 503, sdk.CodeTLS: 502, sdk.CodeUnsupported: 501, sdk.CodeInternal: 500,
	}
	for _, code := range sdk.Codes {
		t.Run(string(code), func(t *testing.T) {
			status, data := call(t, h, "POST", "/v1/connectors/errs/check", h.Tokens["root"], api.CheckRequest{TestAccount: `X\` + string(code)})
			eb := wantError(t, status, data, want[code], string(code))
			if eb.Error.Hint != "hint for "+string(code) || !strings.Contains(eb.Error.Message, "the vault said "+string(code)) ||
				strings.Contains(eb.Error.Message, "hint:") {
				t.Fatalf("error %+v", eb.Error)
			}
		})
	}
}

func TestConnectorsAndAccounts(t *testing.T) {
	h := apitest.New(t)
	root := h.Tokens["root"]
	status, data := call(t, h, "GET", "/v1/connectors", h.Tokens["alice"], nil)
	wantStatus(t, status, data, http.StatusOK)
	if cl := decode[api.ConnectorList](t, data); len(cl.Connectors) != 3 || cl.Connectors[0].Name != "builtin" || !strings.Contains(string(data), `"capabilities":["accounts"]`) {
		t.Fatalf("connectors %s", data)
	}

	status, data = call(t, h, "POST", "/v1/connectors/ps-prod/check", root, api.CheckRequest{TestAccount: `CORP\svc`})
	wantStatus(t, status, data, http.StatusOK)
	res := decode[api.CheckResult](t, data)
	if res.OK || len(res.Findings) != 3 || res.Findings[2].Step != "lookup" || res.Findings[2].Hint != "create it" {
		t.Fatalf("check %s", data)
	}
	status, data = call(t, h, "POST", "/v1/connectors/ps-prod/check", root, nil)
	if wantStatus(t, status, data, http.StatusOK); !decode[api.CheckResult](t, data).OK {
		t.Fatalf("check without a test account %s", data)
	}
	status, data = call(t, h, "POST", "/v1/connectors/nope/check", root, nil)
	if eb := wantError(t, status, data, http.StatusNotFound, api.CodeNotFound); !strings.Contains(eb.Error.Hint, "builtin, errs, ps-prod") {
		t.Fatalf("hint %q", eb.Error.Hint)
	}

	const pw = "n3w-vault-password!"
	status, data = call(t, h, "PUT", "/v1/connectors/builtin/accounts", root,
		api.PutAccountRequest{Account: `CORP\svc-backup`, Password: pw, Description: "backup", Tags: map[string]string{"team": "ops"}})
	wantStatus(t, status, data, http.StatusOK)
	if put := decode[api.PutAccountResult](t, data); put.Version != 1 || put.Account != `CORP\svc-backup` || h.Dir.Secret(`CORP\svc-backup`) != pw {
		t.Fatalf("put %s", data)
	}
	status, data = call(t, h, "PUT", "/v1/connectors/builtin/accounts", root, api.PutAccountRequest{Account: `CORP\svc-backup`, Password: pw + "2"})
	if wantStatus(t, status, data, http.StatusOK); decode[api.PutAccountResult](t, data).Version != 2 {
		t.Fatalf("second put %s", data)
	}
	status, data = call(t, h, "PUT", "/v1/connectors/builtin/accounts", root, api.PutAccountRequest{Account: `CORP\x`})
	wantError(t, status, data, http.StatusBadRequest, api.CodeInvalidRequest)
	status, data = call(t, h, "PUT", "/v1/connectors/builtin/accounts", root, api.PutAccountRequest{Account: `CORP\`, Password: "x"})
	wantError(t, status, data, http.StatusBadRequest, api.CodeInvalidRequest)

	status, data = call(t, h, "GET", "/v1/connectors/builtin/accounts?domain=corp", root, nil)
	wantStatus(t, status, data, http.StatusOK)
	al := decode[api.AccountList](t, data)
	if len(al.Accounts) != 1 || al.Accounts[0].Account != `CORP\svc-backup` || al.Accounts[0].Version != 2 || al.Accounts[0].Domain != "CORP" {
		t.Fatalf("accounts %s", data)
	}
	status, data = call(t, h, "GET", "/v1/connectors/builtin/accounts?domain=OTHER", root, nil)
	if wantStatus(t, status, data, http.StatusOK); len(decode[api.AccountList](t, data).Accounts) != 0 {
		t.Fatalf("accounts of OTHER %s", data)
	}

	status, data = call(t, h, "DELETE", "/v1/connectors/builtin/accounts/"+url.PathEscape(`CORP\svc-backup`), root, nil)
	wantStatus(t, status, data, http.StatusNoContent)
	status, data = call(t, h, "DELETE", "/v1/connectors/builtin/accounts/"+url.PathEscape(`CORP\svc-backup`), root, nil)
	wantError(t, status, data, http.StatusNotFound, string(sdk.CodeNotFound))

	// A connector without the accounts capability says so.
	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/connectors/ps-prod/accounts"},
		{"DELETE", "/v1/connectors/ps-prod/accounts/CORP%5Calice"},
	} {
		status, data = call(t, h, rt.method, rt.path, root, nil)
		if eb := wantError(t, status, data, http.StatusNotImplemented, string(sdk.CodeUnsupported)); !strings.Contains(eb.Error.Message, "accounts capability") {
			t.Fatalf("%s %s: %+v", rt.method, rt.path, eb.Error)
		}
	}
	status, data = call(t, h, "PUT", "/v1/connectors/ps-prod/accounts", root, api.PutAccountRequest{Account: `CORP\a`, Password: pw})
	wantError(t, status, data, http.StatusNotImplemented, string(sdk.CodeUnsupported))

	var kinds []string
	for _, r := range records(t, h, audit.Filter{Type: "account."}) {
		kinds = append(kinds, string(r.Type)+"/"+string(r.Outcome))
		if r.Actor != "root" || r.Detail["account"] == "" {
			t.Fatalf("record %+v", r)
		}
	}
	if want := []string{"account.put/ok", "account.put/ok", "account.delete/ok", "account.delete/error", "account.delete/error", "account.put/error"}; !slices.Equal(kinds, want) {
		t.Fatalf("account records %v, want %v", kinds, want)
	}
	recs, _ := json.Marshal(records(t, h, audit.Filter{}))
	for _, where := range []struct{ name, text string }{{"the audit log", string(recs)}, {"the server log", h.Logs.String()}} {
		if strings.Contains(where.text, pw) {
			t.Fatalf("%s holds the vault password", where.name)
		}
	}
}

func TestPlugins(t *testing.T) {
	h := apitest.New(t)
	root := h.Tokens["root"]
	status, data := call(t, h, "GET", "/v1/plugins", root, nil)
	wantStatus(t, status, data, http.StatusOK)
	if pl := decode[api.PluginList](t, data); len(pl.Plugins) != 2 || pl.Plugins[1].Restarts != 2 {
		t.Fatalf("plugins %s", data)
	}

	status, data = call(t, h, "POST", "/v1/plugins/builtin/reload", root, api.ReloadRequest{Version: "1.1.0"})
	wantStatus(t, status, data, http.StatusOK)
	if rr := decode[api.ReloadResult](t, data); rr.Plugin.Version != "1.1.0" || rr.Plugin.SHA256 != "abc123" {
		t.Fatalf("reload %s", data)
	}
	status, data = call(t, h, "POST", "/v1/plugins/builtin/reload", root, nil)
	wantStatus(t, status, data, http.StatusOK)

	status, data = call(t, h, "POST", "/v1/plugins/builtin/reload", root, api.ReloadRequest{Version: "9.9.9"})
	eb := wantError(t, status, data, http.StatusBadGateway, api.CodeReloadFailed)
	if !strings.Contains(eb.Error.Message, "builtin 1.1.0 keeps serving") || eb.Plugin == nil || eb.Plugin.Version != "1.1.0" {
		t.Fatalf("failed reload %s", data)
	}
	status, data = call(t, h, "POST", "/v1/plugins/nope/reload", root, nil)
	wantError(t, status, data, http.StatusNotFound, api.CodeNotFound)

	recs := records(t, h, audit.Filter{Type: audit.TypePluginSwap})
	if len(recs) != 3 || recs[0].Outcome != audit.OutcomeOK || recs[0].Detail["version"] != "1.1.0" ||
		recs[2].Outcome != audit.OutcomeError || recs[2].Detail["requested_version"] != "9.9.9" || recs[2].Detail["error"] == "" {
		t.Fatalf("swap records %+v", recs)
	}
}

func TestAuditQuery(t *testing.T) {
	h := apitest.New(t)
	root := h.Tokens["root"]
	for range 3 {
		status, data := call(t, h, "POST", "/v1/sessions", h.Tokens["alice"], api.StartSessionRequest{Activity: "domain-admin", Resource: "db01"})
		wantStatus(t, status, data, http.StatusForbidden)
	}
	status, data := call(t, h, "POST", "/v1/sessions", h.Tokens["alice"], api.StartSessionRequest{Activity: "domain-admin", Resource: "srv01"})
	wantStatus(t, status, data, http.StatusCreated)
	s := decode[sessions.Session](t, data)

	page := func(query string) api.AuditPage {
		t.Helper()
		status, data := call(t, h, "GET", "/v1/audit"+query, root, nil)
		wantStatus(t, status, data, http.StatusOK)
		return decode[api.AuditPage](t, data)
	}
	if p := page("?type=request.denied"); len(p.Records) != 3 {
		t.Fatalf("denials %+v", p)
	}
	first := page("?limit=2")
	if len(first.Records) != 2 || first.NextAfter != first.Records[1].Seq {
		t.Fatalf("first page %+v", first)
	}
	if next := page("?limit=2&after=" + strings.TrimSpace(jsonNumber(first.NextAfter))); next.Records[0].Seq != first.NextAfter+1 {
		t.Fatalf("second page %+v", next)
	}
	if p := page("?session=" + s.ID + "&type=session."); len(p.Records) != 3 || p.Records[2].Type != "session.available" {
		t.Fatalf("session records %+v", p)
	}
	if p := page("?since=1h&newest=true&limit=1"); len(p.Records) != 1 || p.Records[0].Type != "session.available" {
		t.Fatalf("newest %+v", p)
	}
	if p := page("?since=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))); len(p.Records) != 0 {
		t.Fatalf("future %+v", p)
	}
	for _, q := range []string{"?since=yesterday", "?limit=-1", "?limit=5000", "?after=x", "?newest=perhaps"} {
		status, data := call(t, h, "GET", "/v1/audit"+q, root, nil)
		wantError(t, status, data, http.StatusBadRequest, api.CodeInvalidRequest)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestTokens(t *testing.T) {
	h := apitest.New(t)
	root := h.Tokens["root"]
	status, data := call(t, h, "POST", "/v1/tokens", root, api.CreateTokenRequest{Name: "ci", Role: "user", User: "bob", TTL: "30d"})
	wantStatus(t, status, data, http.StatusCreated)
	created := decode[api.CreatedToken](t, data)
	if !strings.HasPrefix(created.Token, store.TokenPrefix) || created.ID == "" || created.User != "bob" ||
		created.ExpiresAt.Sub(created.CreatedAt) != 30*24*time.Hour {
		t.Fatalf("created %s", data)
	}
	status, data = call(t, h, "GET", "/v1/sessions", created.Token, nil)
	wantStatus(t, status, data, http.StatusOK)

	status, data = call(t, h, "GET", "/v1/tokens", root, nil)
	wantStatus(t, status, data, http.StatusOK)
	if tl := decode[api.TokenList](t, data); len(tl.Tokens) != 5 || strings.Contains(string(data), created.Token) ||
		strings.Contains(string(data), root) {
		t.Fatalf("token list %s", data)
	}

	status, data = call(t, h, "DELETE", "/v1/tokens/"+created.ID, root, nil)
	wantStatus(t, status, data, http.StatusOK)
	if info := decode[api.TokenInfo](t, data); info.RevokedAt.IsZero() {
		t.Fatalf("revoked %s", data)
	}
	status, data = call(t, h, "GET", "/v1/sessions", created.Token, nil)
	wantError(t, status, data, http.StatusUnauthorized, api.CodeUnauthorized)
	status, data = call(t, h, "DELETE", "/v1/tokens/tok_nope", root, nil)
	wantError(t, status, data, http.StatusNotFound, api.CodeNotFound)

	for _, bad := range []api.CreateTokenRequest{
		{User: "bob"}, {Name: "x"}, {Name: "x", User: "bob", Role: "superuser"}, {Name: "x", User: "bob", TTL: "soon"}, {Name: "x", User: "bob", TTL: "-1h"},
	} {
		status, data := call(t, h, "POST", "/v1/tokens", root, bad)
		wantError(t, status, data, http.StatusBadRequest, api.CodeInvalidRequest)
	}

	recs := records(t, h, audit.Filter{Type: "token."})
	if len(recs) != 2 || recs[0].Type != audit.TypeTokenCreate || recs[0].Detail["token_id"] != created.ID || recs[0].Actor != "root" ||
		recs[1].Type != audit.TypeTokenRevoke {
		t.Fatalf("token records %+v", recs)
	}
	all, _ := json.Marshal(records(t, h, audit.Filter{}))
	noSecrets(t, h, "the audit log", string(all))
	if strings.Contains(string(all), created.Token) || strings.Contains(h.Logs.String(), created.Token) {
		t.Fatal("the new token is in the audit log or the server log")
	}
	noSecrets(t, h, "the server log", h.Logs.String())
}

// metricLine is a sample line of the Prometheus text format.
var metricLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? [0-9.eE+-]+$`)

func TestHealthAndMetrics(t *testing.T) {
	h := apitest.New(t)
	status, data := call(t, h, "GET", "/v1/sys/health", "", nil)
	wantStatus(t, status, data, http.StatusOK)
	if hl := decode[api.Health](t, data); hl.Status != api.StatusOK || len(hl.Plugins) != 2 || hl.Plugins[0].Type != "builtin" || hl.Version == "" {
		t.Fatalf("health %s", data)
	}
	h.Plugins.SetState("passwordsecure", plugins.StateFailed, 7, "exec format error")
	status, data = call(t, h, "GET", "/v1/sys/health", "", nil)
	wantStatus(t, status, data, http.StatusOK)
	// The unauthenticated health answer names the plugin that is down but
	// keeps the reason (paths, host names) for admins and the log.
	if hl := decode[api.Health](t, data); hl.Status != api.StatusDegraded || len(hl.Problems) != 1 ||
		!strings.Contains(hl.Problems[0], "passwordsecure") || strings.Contains(string(data), "exec format error") {
		t.Fatalf("degraded health %s", data)
	}

	alice := h.Tokens["alice"]
	call(t, h, "POST", "/v1/sessions", alice, api.StartSessionRequest{Activity: "domain-admin", Resource: "srv01"})
	call(t, h, "POST", "/v1/sessions", alice, api.StartSessionRequest{Activity: "domain-admin", Resource: "ghost"})
	call(t, h, "POST", "/v1/sessions", alice, api.StartSessionRequest{Activity: "domain-admin", Resource: "db01"})
	call(t, h, "POST", "/v1/sessions", alice, api.StartSessionRequest{Activity: "own-login", Resource: "srv01"})
	h.Server.Metrics().ObserveCheckout(`we"ird\name`, "ok", 3*time.Millisecond)

	status, data = call(t, h, "GET", "/metrics", "", nil)
	wantStatus(t, status, data, http.StatusOK)
	text := string(data)
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		if !metricLine.MatchString(line) {
			t.Errorf("not a sample line: %q", line)
		}
	}
	for _, want := range []string{
		`byov_checkouts_total{connector="ps-prod",result="ok"} 1`,
		`byov_checkouts_total{connector="ps-prod",result="NotFound"} 1`,
		`byov_checkouts_total{connector="we\"ird\\name",result="ok"} 1`,
		`byov_checkout_duration_seconds_bucket{connector="ps-prod",le="+Inf"} 2`,
		`byov_checkout_duration_seconds_count{connector="ps-prod"} 2`,
		"# TYPE byov_checkout_duration_seconds histogram",
		`byov_sessions_active 2`,
		`byov_plugin_restarts_total{type="passwordsecure"} 7`,
		`byov_plugin_up{type="passwordsecure"} 0`,
		`byov_http_requests_total{route="POST /v1/sessions",code="201"} 2`,
		`byov_http_requests_total{route="POST /v1/sessions",code="403"} 1`,
		`byov_http_requests_total{route="POST /v1/sessions",code="404"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
	// A denial and an own-account session check nothing out.
	if strings.Contains(text, `result="Denied"`) {
		t.Fatal("a denial counted as a checkout")
	}
}

func TestHealthFromTheServer(t *testing.T) {
	h := apitest.New(t, func(o *api.Options) {
		o.Health = func(context.Context) api.Health {
			return api.Health{Version: "1.2.3", Detail: map[string]string{"config": "/etc/byov/byov.hcl"}}
		}
	})
	status, data := call(t, h, "GET", "/v1/sys/health", "", nil)
	wantStatus(t, status, data, http.StatusOK)
	if hl := decode[api.Health](t, data); hl.Version != "1.2.3" || hl.Detail["config"] == "" || len(hl.Plugins) != 2 || hl.Status != api.StatusOK {
		t.Fatalf("health %s", data)
	}
}

func TestRequestLog(t *testing.T) {
	h := apitest.New(t)
	status, data := call(t, h, "POST", "/v1/sessions", h.Tokens["alice"], api.StartSessionRequest{Activity: "domain-admin", Resource: "srv01", Reason: "INC-7"})
	wantStatus(t, status, data, http.StatusCreated)
	s := decode[sessions.Session](t, data)
	status, data = call(t, h, "GET", "/v1/sessions/"+s.ID+"/credential", h.Tokens["alice"], nil)
	wantStatus(t, status, data, http.StatusOK)
	logs := h.Logs.String()
	tokens, err := h.Store.Tokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var aliceID string
	for _, tok := range tokens {
		if tok.User == "alice" {
			aliceID = tok.ID
		}
	}
	for _, want := range []string{`route="GET /v1/sessions/{id}/credential"`, "status=200", "token_id=" + aliceID, "duration="} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the request log lacks %s:\n%s", want, logs)
		}
	}
	noSecrets(t, h, "the server log", logs)
	if strings.Contains(logs, "INC-7") {
		t.Fatal("the request log holds a request body")
	}
}

func TestLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8443": true, "[::1]:8443": true, "localhost:8443": true, "unix:///run/byov.sock": true,
		"0.0.0.0:8443": false, ":8443": false, "10.1.2.3:8443": false, "byov.example.com:443": false,
	} {
		if got := api.LoopbackAddr(addr); got != want {
			t.Errorf("LoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}
