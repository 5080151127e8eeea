package psr

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeKey builds an API key string with the given claims and private-key
// bytes; the JWT signature is junk, since clients do not check it.
func fakeKey(t *testing.T, claims map[string]any, priv []byte) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	jwt := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc(payload) + "." + enc([]byte("signature"))
	return jwt + ":" + base64.StdEncoding.EncodeToString(priv)
}

func TestParseAPIKey(t *testing.T) {
	priv := []byte{0x93, 0xc4, 1, 2, 0xc4, 1, 3, 0xc4, 1, 4}
	exp := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	good := map[string]any{"usrn": "api", "dbn": "byov", "iat": 1700000000, "exp": exp.Unix(), "acr": "Read", "acs": "Passwords, Forms"}
	tests := []struct {
		name    string
		key     string
		wantErr string
		check   func(t *testing.T, k *APIKey)
	}{
		{name: "good", key: fakeKey(t, good, priv), check: func(t *testing.T, k *APIKey) {
			if k.User != "api" || k.Database != "byov" || !k.ExpiresAt.Equal(exp) {
				t.Errorf("claims: %+v", k)
			}
			if !k.CanRead() || !k.CanReadPasswords() || k.Scopes != ScopePasswords|ScopeForms {
				t.Errorf("rights %d scopes %d", k.Rights, k.Scopes)
			}
		}},
		{name: "numeric enums", key: fakeKey(t, map[string]any{"usrn": "a", "dbn": "d", "acr": 3, "acs": 1}, priv), check: func(t *testing.T, k *APIKey) {
			if !k.CanRead() || !k.CanReadPasswords() {
				t.Errorf("rights %d scopes %d", k.Rights, k.Scopes)
			}
		}},
		{name: "audit only", key: fakeKey(t, map[string]any{"usrn": "a", "dbn": "d", "acr": "Audit", "acs": "Forms"}, priv), check: func(t *testing.T, k *APIKey) {
			if k.CanRead() || k.CanReadPasswords() {
				t.Errorf("rights %d scopes %d", k.Rights, k.Scopes)
			}
		}},
		{name: "empty", key: "  ", wantErr: "the API key is empty"},
		{name: "no colon", key: "abc.def.ghi", wantErr: "no colon"},
		{name: "two segments", key: "abc.def:AAAA", wantErr: "2 dot-separated parts"},
		{name: "payload not base64", key: "a.!!!.c:AAAA", wantErr: "not base64url"},
		{name: "no user", key: fakeKey(t, map[string]any{"dbn": "d"}, priv), wantErr: "lacks the user"},
		{name: "bad exp", key: fakeKey(t, map[string]any{"usrn": "a", "dbn": "d", "exp": true}, priv), wantErr: "exp claim"},
		{name: "private key not base64", key: strings.Split(fakeKey(t, good, priv), ":")[0] + ":***", wantErr: "not a base64 private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseAPIKey(tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrAPIKey) {
					t.Errorf("error kind = %v, want api-key", KindOf(err))
				}
				if len(tt.key) > 8 && strings.Contains(err.Error(), strings.TrimSpace(tt.key)) {
					t.Errorf("the error quotes the key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, k)
			if s := k.String() + k.GoString(); strings.Contains(s, k.jwt) || strings.Contains(s, base64.StdEncoding.EncodeToString(priv)) {
				t.Errorf("String leaks the key: %s", s)
			}
		})
	}
}

func TestAPIKeyExpiry(t *testing.T) {
	exp := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	k, err := ParseAPIKey(fakeKey(t, map[string]any{"usrn": "api", "dbn": "d", "exp": exp.Unix()}, []byte{1}))
	if err != nil {
		t.Fatal(err)
	}
	err = k.CheckExpiry(exp.Add(time.Second))
	if err == nil || !strings.Contains(err.Error(), "expired on 2024-02-29 12:00:00 UTC") || KindOf(err) != KindAPIKey {
		t.Fatalf("error = %v", err)
	}
	if err := k.CheckExpiry(exp.Add(-time.Second)); err != nil {
		t.Fatalf("a key before its expiry: %v", err)
	}
}

func TestNormalizeBaseURL(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "https://ps.example.com/api", want: "https://ps.example.com/api/"},
		{in: "https://ps.example.com/api///", want: "https://ps.example.com/api/"},
		{in: "ps.example.com:11016", want: "https://ps.example.com:11016/"},
		{in: " HTTPS://ps:5443/x/api/ ", want: "https://ps:5443/x/api/"},
		{in: "http://127.0.0.1:8080/api", want: "http://127.0.0.1:8080/api/"},
		{in: "", wantErr: "empty"},
		{in: "ftp://ps/api", wantErr: `scheme "ftp"`},
		{in: "https:///api", wantErr: "no host"},
		{in: "https://ps/api?x=1", wantErr: "query"},
		{in: "https://u:p@ps/api", wantErr: "user name or password"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := NormalizeBaseURL(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || KindOf(err) != KindConfig {
					t.Fatalf("error = %v, want config error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if got := u.JoinPath("Auth/AuthenticateApiKey").String(); got != tt.want+"Auth/AuthenticateApiKey" {
				t.Errorf("joined: %q", got)
			}
		})
	}
}

func TestParseAccount(t *testing.T) {
	tests := []struct {
		in      string
		want    Account
		wantErr bool
	}{
		{in: `CORP\administrator`, want: Account{"CORP", "administrator"}},
		{in: ` corp \ Admin `, want: Account{"corp", "Admin"}},
		{in: `CORP\odd\name`, want: Account{"CORP", `odd\name`}},
		{in: `administrator`, wantErr: true},
		{in: `\administrator`, wantErr: true},
		{in: `CORP\`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseAccount(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseAccount(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestSearchFilterKeepsTheServerFilter(t *testing.T) {
	def := []byte(`{"$type":"PsrDataLayer.FilterObjects.ContainerListFilter, PsrDataLayer","ContainerType":0,"DataStates":1,"PageSize":9007199254740993,
	 "FilterGroups":[{"__type":"ListFilterGroupForStringLists","StringListFilters":[]},
	 {"$type":"PsrDataLayer.FilterObjects.ListFilterGroupContent, PsrDataLayer","__type":"ListFilterGroupContent",
	  "SearchList":[{"FilterActive":false,"Search":"","ExactSearch":false}]}]}`)
	out, err := json.Marshal(searchFilter(def, "administrator"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{`"Search":"administrator"`, `"FilterActive":true`, `"PageSize":9007199254740993`, `"StringListFilters":[]`, `ListFilterGroupContent, PsrDataLayer`} {
		if !strings.Contains(s, want) {
			t.Errorf("filter %s lacks %s", s, want)
		}
	}
	fallback, _ := json.Marshal(searchFilter([]byte(`{"FilterGroups":[]}`), "x"))
	if !strings.Contains(string(fallback), `"Search":"x"`) || !strings.Contains(string(fallback), `"ListFilterGroupContent"`) {
		t.Errorf("fallback filter: %s", fallback)
	}
}

func TestMatches(t *testing.T) {
	c := &Client{opts: Options{Form: DefaultForm, DomainField: DefaultDomainField, UsernameField: DefaultUsernameField, PasswordField: DefaultPasswordField}}
	str := func(s string) *string { return &s }
	entry := func(form string, dataStates int, items ...containerItem) *container {
		ct := &container{ID: "1", DataStates: dataStates, Items: items}
		if form != "" {
			ct.Info = &struct{ ContainerName, BaseContainerName string }{"x", form}
		}
		return ct
	}
	dom := containerItem{Name: "Domain", Value: str(" corp ")}
	usr := containerItem{Name: "UserName", ContainerItemType: 13, Value: str("Administrator")}
	pw := containerItem{Name: "Password", ContainerItemType: 1}
	acct := Account{"CORP", "administrator"}
	tests := []struct {
		name string
		ct   *container
		want bool
	}{
		{"form by name", entry("ad user", 1, dom, usr), true},
		{"fields without form name", entry("", 1, dom, usr, pw), true},
		{"other form lacking a password item", entry("Website", 1, dom, usr), false},
		{"inactive", entry("AD User", 4, dom, usr, pw), false},
		{"other user", entry("AD User", 1, dom, containerItem{Name: "Username", Value: str("administrator2")}, pw), false},
		{"other domain", entry("AD User", 1, containerItem{Name: "Domain", Value: str("CORP2")}, usr, pw), false},
	}
	for _, tt := range tests {
		if got := c.matches(tt.ct, acct); got != tt.want {
			t.Errorf("%s: matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}
