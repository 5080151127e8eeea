package psemu

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/byov/byov/internal/logbuffer"
)

// fixture is a seeded server: user NPS in role PAM; CORP\adm-alice readable
// by NPS directly, CORP\adm-bob only through the role (keyring test).
type fixture struct {
	srv *Server
	c   *testClient
	key string
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	srv, c := startServer(t, opts)
	must(t, srv.AddRole("PAM"))
	must(t, srv.AddUser("NPS", "PAM"))
	must(t, srv.AddUser("other"))
	_, err := srv.AddEntry(Entry{Domain: "CORP", Username: "adm-alice", Password: "alice-pw-Ω", Readers: []string{"NPS"}})
	must(t, err)
	_, err = srv.AddEntry(Entry{Domain: "CORP", Username: "adm-bob", Password: "bob-pw", Readers: []string{"PAM"}, ReasonRequired: true})
	must(t, err)
	_, err = srv.AddEntry(Entry{Domain: "CORP", Username: "adm-carol", Password: "carol-pw", Readers: []string{"other"}})
	must(t, err)
	key, err := srv.CreateAPIKey("NPS", "Read", "Passwords", time.Hour)
	must(t, err)
	return &fixture{srv: srv, c: c, key: key}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) find(t *testing.T, se *testSession, user string) map[string]any {
	t.Helper()
	list := f.c.search(se, user, true)
	if len(list) != 1 {
		t.Fatalf("search %q found %d containers, want 1", user, len(list))
	}
	return list[0]
}

func TestLoginAndRead(t *testing.T) {
	f := newFixture(t, Options{})
	for _, shape := range []struct {
		name string
		full bool
	}{{"C# request shape", true}, {"JS request shape", false}} {
		t.Run(shape.name, func(t *testing.T) {
			se := f.c.login(f.key, shape.full)
			if se.userID != f.srv.UserID("NPS") {
				t.Fatalf("UserId %s, want NPS's", se.userID)
			}
			if len(se.keyring) != 2 {
				t.Fatalf("keyring has %d keys, want user + role", len(se.keyring))
			}
			for _, tc := range []struct{ user, want string }{{"adm-alice", "alice-pw-Ω"}, {"adm-bob", "bob-pw"}} {
				cont := f.find(t, se, tc.user)
				if itemOf(cont, "Password")["Value"] != nil {
					t.Error("a list result carries the password ciphertext")
				}
				if !strings.Contains(cont["$type"].(string), "MtoContainer") || cont["Info"].(map[string]any)["BaseContainerName"] != "AD User" {
					t.Errorf("container shape: %v", cont["$type"])
				}
				got, st, code := f.c.readPassword(se, cont, "test checkout "+tc.user)
				if st != 200 || got != tc.want {
					t.Fatalf("read %s: status %d code %d, password match %v", tc.user, st, code, got == tc.want)
				}
			}
			// carol is readable only by another user: invisible to NPS.
			if n := len(f.c.search(se, "adm-carol", true)); n != 0 {
				t.Fatalf("search found %d entries the user holds no right on", n)
			}
			if st, body := f.c.do(http.MethodGet, "WebService/CloseSession", nil, se); st != 200 || len(body) != 0 {
				t.Fatalf("CloseSession: %d %q", st, body)
			}
			if st := f.c.post("WebService/GetContainerListFilter", map[string]any{}, se, nil); st != 401 {
				t.Fatalf("call after CloseSession: %d, want 401", st)
			}
		})
	}
	lb := f.srv.Logbook()
	if len(lb) != 4 {
		t.Fatalf("logbook has %d entries, want 4", len(lb))
	}
	if lb[1].Reason != "test checkout adm-bob" || lb[1].User != "NPS" || !lb[1].Granted || lb[1].Entry != `CORP\adm-bob` {
		t.Fatalf("logbook entry: %+v", lb[1])
	}
	if got := f.srv.Calls("auth/authenticateapikey"); got != 2 {
		t.Fatalf("Calls(AuthenticateApiKey) = %d, want 2", got)
	}
}

func TestWarmCheckoutRoundTrips(t *testing.T) {
	f := newFixture(t, Options{})
	se := f.c.login(f.key, true)
	f.srv.ResetCounters()
	for i := 0; i < 20; i++ {
		cont := f.find(t, se, "adm-alice")
		if pw, st, _ := f.c.readPassword(se, cont, "r"); st != 200 || pw != "alice-pw-Ω" {
			t.Fatalf("checkout %d failed: %d", i, st)
		}
	}
	c := f.srv.Counters()
	if c["Auth/AuthenticateApiKey"] != 0 || c["WebService/GetContainerItemWithSecretValue"] != 20 || f.srv.TotalCalls() != 20*4 {
		t.Fatalf("counters %v, total %d", c, f.srv.TotalCalls())
	}
}

func TestRouting(t *testing.T) {
	f := newFixture(t, Options{BasePath: "/PS/api"})
	if !strings.HasSuffix(f.srv.URL(), "/ps/api/") {
		t.Fatalf("URL %s does not end in the base path", f.srv.URL())
	}
	root := strings.TrimSuffix(f.srv.URL(), "ps/api/")
	jwt, _, _ := strings.Cut(f.key, ":")
	body := map[string]any{"credential": map[string]any{"JsonWebToken": jwt}}
	tests := []struct {
		path string
		want int
	}{
		{"ps/api/Auth/AuthenticateApiKey", 200},
		{"ps/api/auth/authenticateapikey", 200},
		{"PS/API/AUTH/AUTHENTICATEAPIKEY", 200},
		{"ps/api/Auth/AuthenticateApiKey/", 200},
		{"api/Auth/AuthenticateApiKey", 404},
		{"ps/api/Auth/NoSuchMethod", 404},
		{"ps/api/webservice/getcontainerlist", 401},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			c := *f.c
			c.base = root
			if st := c.post(tc.path, body, nil, nil); st != tc.want {
				t.Fatalf("status %d, want %d", st, tc.want)
			}
		})
	}
	if st, _ := f.c.do(http.MethodGet, "Auth/AuthenticateApiKey", nil, nil); st != http.StatusMethodNotAllowed {
		t.Fatalf("GET on a POST method: %d", st)
	}
}

func TestSessionChecks(t *testing.T) {
	f := newFixture(t, Options{})
	tests := []struct {
		name  string
		alter func(se *testSession)
	}{
		{"no headers", nil},
		{"unknown session", func(se *testSession) { se.sessionID = newGUID() }},
		{"wrong session key", func(se *testSession) { se.sessionKey = "x" }},
		{"wrong database", func(se *testSession) { se.db = "other" }},
		{"wrong ApiKeyToken", func(se *testSession) { se.jwt = se.jwt[:len(se.jwt)-2] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			se := f.c.login(f.key, true)
			var use *testSession
			if tc.alter != nil {
				cp := *se
				tc.alter(&cp)
				use = &cp
			}
			st, body := f.c.do(http.MethodPost, "WebService/GetContainerListFilter", map[string]any{}, use)
			if st != 401 || len(body) != 0 {
				t.Fatalf("got %d %q, want 401 with an empty body", st, body)
			}
			if st := f.c.post("WebService/GetContainerListFilter", map[string]any{}, se, nil); st != 200 {
				t.Fatalf("the genuine session stopped working: %d", st)
			}
		})
	}
	t.Run("ExpireSessions", func(t *testing.T) {
		se := f.c.login(f.key, true)
		f.srv.ExpireSessions()
		if st := f.c.post("WebService/GetContainerListFilter", map[string]any{}, se, nil); st != 401 {
			t.Fatalf("after ExpireSessions: %d, want 401", st)
		}
	})
	t.Run("SessionTTL", func(t *testing.T) {
		f.srv.SetSessionTTL(time.Second)
		defer f.srv.SetSessionTTL(0)
		se := f.c.login(f.key, true)
		if st := f.c.post("WebService/GetContainerListFilter", map[string]any{}, se, nil); st != 200 {
			t.Fatalf("fresh session: %d", st)
		}
		time.Sleep(1100 * time.Millisecond)
		if st := f.c.post("WebService/GetContainerListFilter", map[string]any{}, se, nil); st != 401 {
			t.Fatalf("after the TTL: %d, want 401", st)
		}
	})
}

func TestLoginFailures(t *testing.T) {
	f := newFixture(t, Options{})
	expired, err := f.srv.CreateAPIKey("NPS", "Read", "Passwords", -time.Minute)
	must(t, err)
	revoked, err := f.srv.CreateAPIKey("NPS", "Read", "Passwords", time.Hour)
	must(t, err)
	must(t, f.srv.RevokeAPIKey(revoked))
	other, err := New(Options{})
	must(t, err)
	must(t, other.AddUser("NPS"))
	foreign, err := other.CreateAPIKey("NPS", "Read", "Passwords", time.Hour)
	must(t, err)

	t.Run("malformed JWT", func(t *testing.T) {
		for _, jwt := range []string{"", "abc", strings.Split(foreign, ":")[0]} {
			status, body := f.c.do(http.MethodPost, "Auth/AuthenticateApiKey", map[string]any{"credential": map[string]any{"JsonWebToken": jwt}}, nil)
			var e map[string]any
			if status != 500 || json.Unmarshal(body, &e) != nil || e["ExceptionCode"] != float64(0) || e["message"] != "Malformed API key" {
				t.Fatalf("got %d %s", status, body)
			}
		}
	})
	for _, tc := range []struct{ name, key string }{{"expired key", expired}, {"revoked key", revoked}} {
		t.Run(tc.name, func(t *testing.T) {
			se, typ := f.c.tryLogin(tc.key, true, nil)
			if se != nil || !strings.Contains(typ, "AuthenticationResultLoginFailed") {
				t.Fatalf("login ended with %q", typ)
			}
		})
	}
	tampers := []struct {
		name string
		fn   func(map[string]any)
	}{
		{"bad signature", func(c map[string]any) { c["UserKeyChallengeSignature"] = c["ChallengeSignature"] }},
		{"other challenge", func(c map[string]any) { c["Challenge"] = "AAAA" }},
		{"forged challenge signature", func(c map[string]any) { c["ChallengeSignature"] = "AAAA" }},
		{"wrong database", func(c map[string]any) { c["Database"] = "x" }},
		{"wrong user", func(c map[string]any) { c["Username"] = "other" }},
		{"unknown session", func(c map[string]any) { c["SessionId"] = newGUID() }},
	}
	for _, tc := range tampers {
		t.Run(tc.name, func(t *testing.T) {
			se, typ := f.c.tryLogin(f.key, true, tc.fn)
			if se != nil || !strings.Contains(typ, "AuthenticationResultLoginFailed") {
				t.Fatalf("login ended with %q", typ)
			}
		})
	}
	t.Run("user name is case-insensitive", func(t *testing.T) {
		se, typ := f.c.tryLogin(f.key, true, func(c map[string]any) { c["Username"] = "nps" })
		if se == nil {
			t.Fatalf("login ended with %q", typ)
		}
	})
	t.Run("challenge is single use", func(t *testing.T) {
		var saved map[string]any
		if se, _ := f.c.tryLogin(f.key, true, func(c map[string]any) { saved = c }); se == nil {
			t.Fatal("first login failed")
		}
		var r map[string]any
		f.c.post("Auth/AuthenticateUserKeySignatureCredential", map[string]any{"credential": saved}, nil, &r)
		if !strings.Contains(r["$type"].(string), "LoginFailed") {
			t.Fatalf("replayed step 2 gave %v", r["$type"])
		}
	})
	t.Run("extra requirement", func(t *testing.T) {
		f.srv.SetExtraRequirement(true)
		defer f.srv.SetExtraRequirement(false)
		r := f.c.step1(strings.Split(f.key, ":")[0], true)
		if !strings.Contains(r["$type"].(string), "PossibleAuthCredentialRequirements") || r["SessionId"] == "" {
			t.Fatalf("got %v", r)
		}
		if _, ok := r["PossibleAuthenticationCredentialRequirements"].([]any); !ok {
			t.Fatal("PossibleAuthenticationCredentialRequirements is not an array")
		}
	})
	t.Run("per-user requirement", func(t *testing.T) {
		f.srv.SetUserRequirement("NPS", true)
		defer f.srv.SetUserRequirement("NPS", false)
		if se, typ := f.c.tryLogin(f.key, false, nil); se != nil || !strings.Contains(typ, "PossibleAuthCredentialRequirements") {
			t.Fatalf("login ended with %q", typ)
		}
	})
}

func TestFailNextAndLatency(t *testing.T) {
	f := newFixture(t, Options{})
	se := f.c.login(f.key, true)
	call := func() int {
		t.Helper()
		return f.c.post("WebService/GetContainerListFilter", map[string]any{}, se, nil)
	}
	tests := []struct {
		name   string
		status int
		n      int
	}{{"401 on the next call", 401, 1}, {"502 on the next 3 calls", 502, 3}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.srv.FailNext(tc.status, tc.n)
			for i := 0; i < tc.n; i++ {
				if st := call(); st != tc.status {
					t.Fatalf("call %d: %d, want %d", i, st, tc.status)
				}
			}
			if st := call(); st != 200 {
				t.Fatalf("after the faults: %d", st)
			}
		})
	}
	t.Run("latency", func(t *testing.T) {
		f.srv.SetLatency(120 * time.Millisecond)
		defer f.srv.SetLatency(0)
		start := time.Now()
		call()
		if d := time.Since(start); d < 120*time.Millisecond {
			t.Fatalf("the call took %v, want at least 120ms", d)
		}
	})
}

func TestReadDenials(t *testing.T) {
	f := newFixture(t, Options{})
	_, err := f.srv.AddEntry(Entry{Domain: "CORP", Username: "adm-dup", Password: "1", Readers: []string{"NPS"}})
	must(t, err)
	_, err = f.srv.AddEntry(Entry{Domain: "corp", Username: "ADM-DUP", Password: "2", Readers: []string{"PAM"}})
	must(t, err)
	_, err = f.srv.AddEntry(Entry{Domain: "CORP", Username: "adm-sealed", Password: "s", Readers: []string{"NPS"}, Sealed: true})
	must(t, err)
	_, err = f.srv.AddEntry(Entry{Domain: "CORP", Username: "adm-noread", Password: "n", ListOnly: []string{"NPS"}})
	must(t, err)
	se := f.c.login(f.key, true)

	if n := len(f.c.search(se, "adm-dup", true)); n != 2 {
		t.Fatalf("duplicate entries: search found %d, want 2", n)
	}
	t.Run("sealed", func(t *testing.T) {
		cont := f.find(t, se, "adm-sealed")
		var rights []map[string]any
		f.c.post("WebService/GetLegitimateDataRights", map[string]any{"dataId": itemOf(cont, "Password")["Id"]}, se, &rights)
		if len(rights) == 0 || rights[0]["SealId"] == nil {
			t.Fatalf("rights of a sealed entry carry no SealId: %v", rights)
		}
		if _, st, code := f.c.readPassword(se, cont, "r"); st != 500 || code != 60020 {
			t.Fatalf("got %d/%d, want 500/60020", st, code)
		}
		must(t, f.srv.SealEntry("CORP", "adm-sealed", false))
		if pw, st, _ := f.c.readPassword(se, cont, "r"); st != 200 || pw != "s" {
			t.Fatalf("after unsealing: %d", st)
		}
	})
	t.Run("no Read right", func(t *testing.T) {
		if _, st, code := f.c.readPassword(se, f.find(t, se, "adm-noread"), "r"); st != 500 || code != 30003 {
			t.Fatalf("got %d/%d, want 500/30003", st, code)
		}
		must(t, f.srv.RemoveReadRight("CORP", "adm-alice", "NPS"))
		if _, st, code := f.c.readPassword(se, f.find(t, se, "adm-alice"), "r"); st != 500 || code != 30003 {
			t.Fatalf("after RemoveReadRight: %d/%d, want 500/30003", st, code)
		}
	})
	t.Run("reason required", func(t *testing.T) {
		if _, st, _ := f.c.readPassword(se, f.find(t, se, "adm-bob"), " "); st != 500 {
			t.Fatalf("empty reason: %d, want 500", st)
		}
	})
	t.Run("missing scope", func(t *testing.T) {
		formsKey, err := f.srv.CreateAPIKey("NPS", "Read", "Forms", time.Hour)
		must(t, err)
		fse := f.c.login(formsKey, true)
		if n := len(f.c.search(fse, "adm-alice", true)); n != 0 {
			t.Fatalf("a key without the Passwords scope listed %d entries", n)
		}
		if _, st, code := f.c.readPassword(fse, f.find(t, se, "adm-bob"), "r"); st != 500 || code != 30003 {
			t.Fatalf("read with a Forms key: %d/%d, want 500/30003", st, code)
		}
	})
	denied := 0
	for _, e := range f.srv.Logbook() {
		if !e.Granted {
			denied++
			if e.Denial == "" {
				t.Errorf("denied logbook entry without a reason: %+v", e)
			}
		}
	}
	if denied < 5 {
		t.Fatalf("logbook records %d denials, want at least 5", denied)
	}
}

func TestSearch(t *testing.T) {
	f := newFixture(t, Options{})
	_, err := f.srv.AddEntry(Entry{Domain: "CORP", Username: "adm-alice2", Password: "x", Readers: []string{"NPS"}})
	must(t, err)
	_, err = f.srv.AddEntry(Entry{Domain: "CORP", Username: "adm-gone", Password: "x", Readers: []string{"NPS"}, Deleted: true})
	must(t, err)
	se := f.c.login(f.key, true)
	tests := []struct {
		search string
		exact  bool
		want   int
	}{
		{"adm-alice", true, 1},
		{"ADM-ALICE", true, 1},
		{"adm-alice", false, 2},
		{"corp", false, 3}, // alice, alice2, bob: the domain value matches
		{"adm-gone", true, 0},
		{"nobody", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.search, func(t *testing.T) {
			if n := len(f.c.search(se, tc.search, tc.exact)); n != tc.want {
				t.Fatalf("found %d, want %d", n, tc.want)
			}
		})
	}
	t.Run("inactive search lists everything visible", func(t *testing.T) {
		var list []any
		f.c.post("WebService/GetContainerList", map[string]any{"containerType": 0, "filter": nil}, se, &list)
		if len(list) != 3 {
			t.Fatalf("found %d, want 3", len(list))
		}
	})
	t.Run("Go port's own filter", func(t *testing.T) {
		filter := map[string]any{"$type": "ContainerListFilter", "DataStates": 1, "FilterGroups": []any{map[string]any{
			"$type": "ListFilterGroupContent", "SearchList": []any{map[string]any{"Search": "adm-bob", "FilterActive": true, "ExactSearch": true}}}}}
		var list []any
		f.c.post("WebService/GetContainerList", map[string]any{"containerType": 0, "filter": filter}, se, &list)
		if len(list) != 1 {
			t.Fatalf("found %d, want 1", len(list))
		}
	})
	t.Run("forms and GetContainer", func(t *testing.T) {
		var forms []map[string]any
		f.c.post("WebService/GetContainerList", map[string]any{"containerType": 1}, se, &forms)
		if len(forms) != 1 || forms[0]["ContainerType"] != float64(1) {
			t.Fatalf("forms: %v", forms)
		}
		cont := f.find(t, se, "adm-alice")
		if cont["BaseContainerId"] != forms[0]["Id"] {
			t.Fatal("BaseContainerId is not the AD User form")
		}
		var got map[string]any
		if st := f.c.post("WebService/GetContainer", map[string]any{"id": cont["Id"]}, se, &got); st != 200 || got["Id"] != cont["Id"] {
			t.Fatalf("GetContainer: %d", st)
		}
		if st := f.c.post("WebService/GetContainer", map[string]any{"id": newGUID()}, se, nil); st != 500 {
			t.Fatalf("GetContainer of an unknown id: %d, want 500", st)
		}
	})
}

func TestBOMAndShortTypes(t *testing.T) {
	f := newFixture(t, Options{BOM: true, ShortTypes: true})
	jwt, _, _ := strings.Cut(f.key, ":")
	_, body := f.c.do(http.MethodPost, "Auth/AuthenticateApiKey", map[string]any{"credential": map[string]any{"JsonWebToken": jwt}}, nil)
	// do strips the BOM, so ask the raw transport.
	req, _ := http.NewRequest(http.MethodPost, f.c.base+"Auth/AuthenticateApiKey", strings.NewReader(`{"credential":{"JsonWebToken":"`+jwt+`"}}`))
	resp, err := f.c.http.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var raw bytes.Buffer
	raw.ReadFrom(resp.Body)
	if !bytes.HasPrefix(raw.Bytes(), []byte("\xef\xbb\xbf{")) {
		t.Fatalf("no BOM before the JSON")
	}
	if !bytes.Contains(body, []byte(`"$type":"AuthenticationUserKeySignatureRequirement"`)) {
		t.Fatalf("short $type missing: %s", body)
	}
	se := f.c.login(f.key, false) // the whole flow works with short types
	if pw, st, _ := f.c.readPassword(se, f.find(t, se, "adm-alice"), "r"); st != 200 || pw != "alice-pw-Ω" {
		t.Fatalf("read: %d", st)
	}
}

func TestLogsHaveNoSecrets(t *testing.T) {
	var buf logbuffer.Buffer
	f := newFixture(t, Options{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	se := f.c.login(f.key, true)
	f.c.readPassword(se, f.find(t, se, "adm-alice"), "reason-text")
	f.c.tryLogin(f.key, true, func(c map[string]any) { c["Username"] = "other" })
	logs := buf.String()
	if !strings.Contains(logs, "WebService/GetContainerItemWithSecretValue") {
		t.Fatalf("the log does not record requests: %q", logs)
	}
	jwt, priv, _ := strings.Cut(f.key, ":")
	for name, secret := range map[string]string{"JWT": jwt, "API private key": priv, "password": "alice-pw-Ω",
		"session key": se.sessionKey, "session id": se.sessionID} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
}

func TestSeedFile(t *testing.T) {
	seedJSON := `{
	  "database": "psdb",
	  "roles": [{"name": "PAM readers"}],
	  "users": [{"name": "NPS", "roles": ["PAM readers"]}, {"name": "mfa", "pending_requirement": true}],
	  "api_keys": [{"name": "nps", "user": "NPS"}, {"name": "old", "user": "NPS", "expires": "-1h"},
	               {"name": "mfa", "user": "mfa"}],
	  "entries": [{"domain": "CORP", "username": "adm-alice", "password": "S3cret!", "readers": ["PAM readers"]}]
	}`
	seed, err := ParseSeed([]byte(seedJSON))
	must(t, err)
	srv, c := startServer(t, Options{Seed: seed})
	keys := srv.SeedAPIKeys()
	if srv.Database() != "psdb" || len(keys) != 3 {
		t.Fatalf("database %q, %d keys", srv.Database(), len(keys))
	}
	f := &fixture{srv: srv, c: c}
	se := c.login(keys["nps"], true)
	if pw, st, _ := c.readPassword(se, f.find(t, se, "adm-alice"), "r"); st != 200 || pw != "S3cret!" {
		t.Fatalf("read: %d", st)
	}
	if se, typ := c.tryLogin(keys["old"], true, nil); se != nil || !strings.Contains(typ, "LoginFailed") {
		t.Fatalf("expired seed key: %q", typ)
	}
	if se, typ := c.tryLogin(keys["mfa"], true, nil); se != nil || !strings.Contains(typ, "PossibleAuthCredentialRequirements") {
		t.Fatalf("pending requirement: %q", typ)
	}

	t.Run("a key minted by another process from the same seed file works", func(t *testing.T) {
		other, err := New(Options{Seed: seed})
		must(t, err)
		key, err := other.CreateAPIKey("NPS", "Read", "Passwords", time.Hour)
		must(t, err)
		c.login(key, true)
	})
	t.Run("invalid seeds are refused", func(t *testing.T) {
		for _, bad := range []string{`{"userz": []}`, `{"users": [{"name": "a", "roles": ["missing"]}]}`,
			`{"entries": [{"domain": "D", "username": "u", "readers": ["nobody"]}]}`, `{"api_keys": [{"user": "ghost"}]}`, `[`} {
			s, err := ParseSeed([]byte(bad))
			if err == nil {
				_, err = New(Options{Seed: s})
			}
			if err == nil {
				t.Errorf("seed %s was accepted", bad)
			}
		}
	})
}
