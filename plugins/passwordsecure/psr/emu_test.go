package psr

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/internal/logbuffer"
	"github.com/byov/byov/plugins/passwordsecure/psemu"
)

// The fixture's accounts and passwords. The passwords are also what the
// secret scan looks for in logs and errors.
const (
	pwAdmin    = "Adm1n-Secret!x7"
	pwRoleOnly = "R0le-Secret!y8"
	pwDup      = "Dup-Secret!z9"
	pwSealed   = "Sealed-Secret!w0"
	pwNoRead   = "NoRead-Secret!v1"
	pwRotated  = "Rotated-Secret!u2"
)

var allPasswords = []string{pwAdmin, pwRoleOnly, pwDup, pwSealed, pwNoRead, pwRotated}

// fixture is a running emulator with users, entries and an API key, plus a
// trace-level log every client writes to and a record of every error text,
// both scanned for secrets when the test ends.
type fixture struct {
	srv    *psemu.Server
	key    string
	logs   *logbuffer.Buffer
	mu     sync.Mutex
	errors []string
	keys   []string // every API key handed to a client
	// sessionSecrets holds the session keys and token2 values seen while
	// the sessions were live (they are gone once the clients close).
	sessionSecrets map[string]bool
}

func newFixture(t testing.TB, opts psemu.Options) *fixture {
	t.Helper()
	srv, err := psemu.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(srv.AddRole("PAM readers"))
	must(srv.AddUser("NPS", "PAM readers"))
	must(srv.AddUser("other"))
	for _, e := range []psemu.Entry{
		{Domain: "CORP", Username: "administrator", Password: pwAdmin, Readers: []string{"NPS"}},
		{Domain: "CORP", Username: "administrator2", Password: "x", Readers: []string{"NPS"}},
		{Domain: "OTHER", Username: "administrator", Password: "y", Readers: []string{"NPS"}},
		{Domain: "CORP", Username: "svc-role", Password: pwRoleOnly, Readers: []string{"PAM readers"}},
		{Domain: "CORP", Username: "dup", Password: pwDup, Readers: []string{"NPS"}},
		{Domain: "CORP", Username: "dup", Password: pwDup, Readers: []string{"NPS"}},
		{Domain: "CORP", Username: "sealed", Password: pwSealed, Readers: []string{"NPS"}, Sealed: true},
		{Domain: "CORP", Username: "noread", Password: pwNoRead, Readers: []string{"other"}, ListOnly: []string{"NPS"}},
		{Domain: "CORP", Username: "gone", Password: "z", Readers: []string{"NPS"}, Deleted: true},
	} {
		_, err := srv.AddEntry(e)
		must(err)
	}
	key, err := srv.CreateAPIKey("NPS", "Read", "Passwords", 0)
	must(err)
	f := &fixture{srv: srv, key: key, logs: &logbuffer.Buffer{}}
	t.Cleanup(func() { f.assertNoSecrets(t) })
	return f
}

// client returns a client of the fixture's server; mod adjusts its options.
func (f *fixture) client(t testing.TB, mod func(*Options)) *Client {
	t.Helper()
	opts := Options{
		BaseURL:      f.srv.URL(),
		APIKey:       f.key,
		CACertPEM:    f.srv.CACertPEM(),
		Timeout:      5 * time.Second,
		CacheTTL:     time.Minute,
		RetryBackoff: 10 * time.Millisecond,
		Logger:       hclog.New(&hclog.LoggerOptions{Output: f.logs, Level: hclog.Trace}),
	}
	if mod != nil {
		mod(&opts)
	}
	f.mu.Lock()
	f.keys = append(f.keys, opts.APIKey)
	f.mu.Unlock()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.noteSessions(c)
		c.Close(context.Background())
	})
	return c
}

// noteSessions records the session material of the server's live sessions
// and of c's current session, for the secret scan.
func (f *fixture) noteSessions(c *Client) {
	found := f.srv.SessionKeys()
	c.sessMu.Lock()
	if c.sess != nil {
		found = append(found, c.sess.token2)
	}
	c.sessMu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sessionSecrets == nil {
		f.sessionSecrets = map[string]bool{}
	}
	for _, s := range found {
		f.sessionSecrets[s] = true
	}
}

// checkout runs a checkout and records the error text for the secret scan.
func (f *fixture) checkout(t *testing.T, c *Client, acct string, reason string) (*Credential, error) {
	t.Helper()
	a, err := ParseAccount(acct)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := c.Checkout(context.Background(), a, reason)
	f.record(err)
	f.noteSessions(c)
	return cred, err
}

func (f *fixture) record(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	f.errors = append(f.errors, err.Error(), fmt.Sprintf("%+v %#v", err, err))
	f.mu.Unlock()
}

// assertNoSecrets scans the logs and every error text for the API keys
// (whole, JWT part, private part), their session material and passwords.
func (f *fixture) assertNoSecrets(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	haystack := f.logs.String() + "\n" + strings.Join(f.errors, "\n")
	f.mu.Unlock()
	for _, n := range f.secretsIn(haystack) {
		t.Errorf("a secret (%d chars, starting %q) appears in a log line or error", len(n), n[:3])
	}
}

// secretsIn returns the secrets that occur in haystack.
func (f *fixture) secretsIn(haystack string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var needles, found []string
	for _, k := range f.keys {
		if jwt, priv, ok := strings.Cut(k, ":"); ok {
			needles = append(needles, jwt, priv)
			if raw, err := base64.StdEncoding.DecodeString(priv); err == nil && len(raw) > 0 {
				// The private key as fmt prints a []byte field.
				needles = append(needles, fmt.Sprint(raw), fmt.Sprintf("%#v", raw), fmt.Sprintf("%x", raw))
			}
			if segs := strings.Split(jwt, "."); len(segs) == 3 {
				needles = append(needles, segs[1], segs[2])
			}
		}
	}
	for secret := range f.sessionSecrets {
		needles = append(needles, secret)
	}
	needles = append(needles, allPasswords...)
	for _, n := range needles {
		if len(n) >= 6 && strings.Contains(haystack, n) {
			found = append(found, n)
		}
	}
	return found
}

func reasonFor(session string) string {
	return "byov session " + session + ": requester alice, resource srv01, activity domain-admin"
}

func TestCheckout(t *testing.T) {
	for _, variant := range []psemu.Options{{BOM: true}, {ShortTypes: true}} {
		t.Run(fmt.Sprintf("bom=%v,short=%v", variant.BOM, variant.ShortTypes), func(t *testing.T) {
			f := newFixture(t, variant)
			c := f.client(t, nil)
			tests := []struct {
				account  string
				want     string
				wantKind Kind
				wantMsg  string
				wantHint string
			}{
				{account: `CORP\administrator`, want: pwAdmin},
				{account: `corp\ADMINISTRATOR`, want: pwAdmin},
				{account: ` Corp \ Administrator `, want: pwAdmin},
				{account: `CORP\svc-role`, want: pwRoleOnly}, // readable only through the role's key
				{account: `CORP\nobody`, wantKind: KindNotFound, wantMsg: `no AD User entry for CORP\nobody`, wantHint: "check the spelling"},
				{account: `CORP\gone`, wantKind: KindNotFound, wantMsg: "no AD User entry"},
				{account: `CORP\dup`, wantKind: KindAmbiguous, wantMsg: `2 AD User entries match CORP\dup`, wantHint: "duplicates"},
				{account: `CORP\sealed`, wantKind: KindSealed, wantMsg: "sealed; release required", wantHint: "never breaks a seal"},
				{account: `CORP\noread`, wantKind: KindPermission, wantMsg: "lack of rights (code 30003)", wantHint: "Read right"},
			}
			for _, tt := range tests {
				t.Run(tt.account, func(t *testing.T) {
					cred, err := f.checkout(t, c, tt.account, reasonFor("s-1"))
					if tt.want != "" {
						if err != nil {
							t.Fatal(err)
						}
						if cred.Password.Reveal() != tt.want {
							t.Fatalf("password mismatch for %s", tt.account)
						}
						if !strings.EqualFold(cred.Domain+`\`+cred.Username, strings.ReplaceAll(tt.account, " ", "")) {
							t.Errorf("credential names %s\\%s", cred.Domain, cred.Username)
						}
						if s := fmt.Sprintf("%v %+v %#v", cred, cred, cred.Password); strings.Contains(s, tt.want) {
							t.Errorf("formatting a credential shows the password")
						}
						return
					}
					if err == nil {
						t.Fatalf("checkout of %s succeeded, want %v", tt.account, tt.wantKind)
					}
					var e *Error
					if !errors.As(err, &e) || e.Kind != tt.wantKind {
						t.Fatalf("error %v has kind %v, want %v", err, KindOf(err), tt.wantKind)
					}
					if !strings.Contains(e.Message, tt.wantMsg) || !strings.Contains(e.Hint, tt.wantHint) {
						t.Errorf("message %q / hint %q, want %q / %q", e.Message, e.Hint, tt.wantMsg, tt.wantHint)
					}
					if tt.wantKind == KindAmbiguous && (len(e.Candidates) != 2 || !strings.Contains(e.Message, e.Candidates[0]) || !strings.Contains(e.Message, e.Candidates[1])) {
						t.Errorf("ambiguous error names candidates %v in %q", e.Candidates, e.Message)
					}
				})
			}
		})
	}
}

func TestSealedEntryIsNeverOpened(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	c := f.client(t, nil)
	for i := 0; i < 2; i++ {
		if _, err := f.checkout(t, c, `CORP\sealed`, reasonFor("s-sealed")); !errors.Is(err, ErrSealed) {
			t.Fatalf("attempt %d: %v, want sealed", i, err)
		}
	}
	// The client refused from the rights alone: it never asked for the
	// secret, so nothing could have broken the seal.
	for _, l := range f.srv.Logbook() {
		if strings.Contains(l.Entry, "sealed") {
			t.Errorf("the sealed entry was read: %+v", l)
		}
	}
	if _, err := c.Lookup(context.Background(), Account{"CORP", "sealed"}); !errors.Is(err, ErrSealed) {
		t.Errorf("the entry is no longer sealed: %v", err)
	}
}

func TestLogbookReason(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	c := f.client(t, nil)
	if _, err := f.checkout(t, c, `CORP\administrator`, reasonFor("sess-4711")); err != nil {
		t.Fatal(err)
	}
	book := f.srv.Logbook()
	if len(book) != 1 || !book[0].Granted || !strings.Contains(book[0].Reason, "sess-4711") || !strings.Contains(book[0].Reason, "alice") {
		t.Fatalf("logbook = %+v", book)
	}
	if _, err := f.checkout(t, c, `CORP\administrator`, "  "); KindOf(err) != KindConfig {
		t.Errorf("an empty reason: %v", err)
	}
}

func TestSessionReuse(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprintf("cache=%v", ttl), func(t *testing.T) {
			f := newFixture(t, psemu.Options{})
			c := f.client(t, func(o *Options) { o.CacheTTL = ttl })
			for i := 0; i < 20; i++ {
				if _, err := f.checkout(t, c, `CORP\administrator`, reasonFor(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			if n := f.srv.Calls("Auth/AuthenticateApiKey"); n != 1 {
				t.Errorf("20 checkouts cost %d logins, want 1", n)
			}
			if n := f.srv.Calls("WebService/GetContainerListFilter"); n != 1 {
				t.Errorf("the default filter was fetched %d times, want 1", n)
			}
			wantSearches := 20
			if ttl > 0 {
				wantSearches = 1
			}
			if n := f.srv.Calls("WebService/GetContainerList"); n != wantSearches {
				t.Errorf("searches = %d, want %d", n, wantSearches)
			}

			f.srv.ExpireSessions()
			cred, err := f.checkout(t, c, `CORP\administrator`, reasonFor("after-expiry"))
			if err != nil || cred.Password.Reveal() != pwAdmin {
				t.Fatalf("checkout after the session expired: %v", err)
			}
			if n := f.srv.Calls("Auth/AuthenticateApiKey"); n != 2 {
				t.Errorf("logins after expiry = %d, want 2", n)
			}

			if err := c.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := f.srv.SessionCount(); n != 0 {
				t.Errorf("%d sessions left open after Close", n)
			}
		})
	}
}

// Close cancels a lookup that outlived its checkout and waits for it, so
// nothing uses the session or logs in once Close has returned; a closed
// client refuses to log in again.
func TestCloseEndsRunningLookups(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	c := f.client(t, nil)
	f.srv.SetLatency(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Checkout(ctx, Account{"CORP", "administrator"}, reasonFor("impatient"))
	f.record(err)
	if KindOf(err) != KindUnavailable || !strings.Contains(err.Error(), "abandoned") {
		t.Fatalf("an impatient checkout: %v", err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	calls := f.srv.TotalCalls()
	time.Sleep(800 * time.Millisecond)
	if n := f.srv.TotalCalls() - calls; n != 0 {
		t.Errorf("the client made %d requests after Close returned", n)
	}
	if n := f.srv.SessionCount(); n != 0 {
		t.Errorf("%d sessions open after Close", n)
	}

	f.srv.SetLatency(0)
	logins := f.srv.Calls("Auth/AuthenticateApiKey")
	_, err = f.checkout(t, c, `CORP\administrator`, reasonFor("after close"))
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("a checkout after Close: %v", err)
	}
	if err := c.Login(context.Background()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Login after Close: %v", err)
	}
	if n := f.srv.Calls("Auth/AuthenticateApiKey") - logins; n != 0 {
		t.Errorf("a closed client logged in %d times", n)
	}
}

func TestUnauthorizedMidSessionLogsInOnce(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	c := f.client(t, nil)
	if _, err := f.checkout(t, c, `CORP\administrator`, reasonFor("1")); err != nil {
		t.Fatal(err)
	}
	f.srv.FailNext(401, 1)
	if _, err := f.checkout(t, c, `CORP\administrator`, reasonFor("2")); err != nil {
		t.Fatalf("a single 401 should cost one new login, not the checkout: %v", err)
	}
	if n := f.srv.Calls("Auth/AuthenticateApiKey"); n != 2 {
		t.Errorf("logins = %d, want 2", n)
	}
}

func TestCacheStaysFresh(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	c := f.client(t, func(o *Options) { o.CacheTTL = time.Hour })
	get := func() (string, error) {
		cred, err := f.checkout(t, c, `CORP\administrator`, reasonFor("cache"))
		if err != nil {
			return "", err
		}
		return cred.Password.Reveal(), nil
	}
	if _, err := get(); err != nil {
		t.Fatal(err)
	}
	// A rotation shows at once: the password itself is never cached.
	if err := f.srv.SetPassword("CORP", "administrator", pwRotated); err != nil {
		t.Fatal(err)
	}
	if pw, err := get(); err != nil || pw != pwRotated {
		t.Fatalf("after rotation: err %v, new password seen: %v", err, pw == pwRotated)
	}
	// A seal placed after caching is seen at once, and drops the cache.
	if err := f.srv.SealEntry("CORP", "administrator", true); err != nil {
		t.Fatal(err)
	}
	if _, err := get(); !errors.Is(err, ErrSealed) {
		t.Fatalf("after sealing: %v", err)
	}
	searches := f.srv.Calls("WebService/GetContainerList")
	if err := f.srv.SealEntry("CORP", "administrator", false); err != nil {
		t.Fatal(err)
	}
	if pw, err := get(); err != nil || pw != pwRotated {
		t.Fatalf("after unsealing: %v", err)
	}
	if f.srv.Calls("WebService/GetContainerList") != searches+1 {
		t.Errorf("the failed cache entry was reused instead of looked up again")
	}
}

func TestConcurrentLookupsCoalesce(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	f.srv.SetLatency(20 * time.Millisecond)
	c := f.client(t, nil)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cred, err := c.Checkout(context.Background(), Account{"CORP", "administrator"}, reasonFor(fmt.Sprint("c", i)))
			if err == nil && cred.Password.Reveal() != pwAdmin {
				err = errors.New("wrong password")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.srv.Calls("Auth/AuthenticateApiKey"); got != 1 {
		t.Errorf("%d concurrent checkouts logged in %d times, want 1", n, got)
	}
	if got := f.srv.Calls("WebService/GetContainerList"); got != 1 {
		t.Errorf("%d concurrent checkouts searched %d times, want 1", n, got)
	}
	if got := f.srv.Calls("WebService/GetContainerItemWithSecretValue"); got != n {
		t.Errorf("secret reads = %d, want one per checkout (%d), each with its reason", got, n)
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	c := f.client(t, nil)
	if _, err := f.checkout(t, c, `CORP\administrator`, reasonFor("warm")); err != nil {
		t.Fatal(err)
	}
	for _, status := range []int{502, 503} {
		before := f.srv.TotalCalls()
		f.srv.FailNext(status, 1)
		if _, err := f.checkout(t, c, `CORP\administrator`, reasonFor("retry")); err != nil {
			t.Fatalf("one %d should be retried: %v", status, err)
		}
		if got := f.srv.TotalCalls() - before; got != 2 {
			t.Errorf("%d then success took %d round trips, want 2", status, got)
		}
	}

	before := f.srv.TotalCalls()
	f.srv.FailNext(502, 10)
	_, err := f.checkout(t, c, `CORP\administrator`, reasonFor("down"))
	if KindOf(err) != KindUnavailable || !strings.Contains(err.Error(), "502") {
		t.Fatalf("a lasting 502: %v", err)
	}
	if got := f.srv.TotalCalls() - before; got != DefaultMaxAttempts {
		t.Errorf("a lasting 502 cost %d attempts, want %d", got, DefaultMaxAttempts)
	}
	f.srv.FailNext(502, 0)
}

func TestAuthenticationFailuresAreNotRetried(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	revoked, err := f.srv.CreateAPIKey("NPS", "Read", "Passwords", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.RevokeAPIKey(revoked); err != nil {
		t.Fatal(err)
	}
	c := f.client(t, func(o *Options) { o.APIKey = revoked })
	for i := 0; i < 2; i++ {
		_, err := f.checkout(t, c, `CORP\administrator`, reasonFor("revoked"))
		if KindOf(err) != KindAPIKey || !strings.Contains(err.Error(), "LoginFailed") || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("revoked key: %v", err)
		}
	}
	if n := f.srv.Calls("Auth/AuthenticateApiKey"); n != 2 {
		t.Errorf("two checkouts with a revoked key made %d login attempts, want 2 (no retries)", n)
	}

	fresh := f.client(t, nil)
	f.srv.FailNext(401, 1)
	before := f.srv.Calls("Auth/AuthenticateApiKey")
	_, err = f.checkout(t, fresh, `CORP\administrator`, reasonFor("401"))
	if KindOf(err) != KindAPIKey || !strings.Contains(err.Error(), "rejected the API key") {
		t.Fatalf("a 401 on login: %v", err)
	}
	if n := f.srv.Calls("Auth/AuthenticateApiKey") - before; n != 1 {
		t.Errorf("a refused login was tried %d times, want 1", n)
	}
}

// Checkouts that arrive while a login runs share its outcome: with a revoked
// key, a burst of checkouts of different accounts (so not coalesced by the
// lookup) costs one failed login, not one per checkout.
func TestConcurrentFailedLoginIsShared(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	revoked, err := f.srv.CreateAPIKey("NPS", "Read", "Passwords", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.RevokeAPIKey(revoked); err != nil {
		t.Fatal(err)
	}
	c := f.client(t, func(o *Options) { o.APIKey = revoked })
	f.srv.SetLatency(200 * time.Millisecond)
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := c.Checkout(context.Background(), Account{"CORP", fmt.Sprint("user", i)}, reasonFor("revoked"))
			f.record(err)
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if KindOf(err) != KindAPIKey || !strings.Contains(err.Error(), "LoginFailed") {
			t.Errorf("checkout with a revoked key: %v", err)
		}
	}
	if got := f.srv.Calls("Auth/AuthenticateApiKey"); got != 1 {
		t.Errorf("%d concurrent checkouts with a revoked key made %d login attempts, want 1", n, got)
	}
}

// freePort returns a local port nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

func TestFailuresExplainThemselves(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	mismatch, err := psemu.New(psemu.Options{Addr: "127.0.0.2:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := mismatch.Start(); err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { mismatch.Close() })

	newKey := func(user, rights, scopes string, expiry time.Duration) string {
		t.Helper()
		k, err := f.srv.CreateAPIKey(user, rights, scopes, expiry)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	expiredKey := newKey("NPS", "Read", "Passwords", -48*time.Hour)
	if err := f.srv.AddUser("mfa-user"); err != nil {
		t.Fatal(err)
	}
	f.srv.SetUserRequirement("mfa-user", true)

	tests := []struct {
		name     string
		mod      func(*Options)
		wantKind Kind
		wantStep string // the Diagnose step that fails
		wantMsg  []string
		wantHint []string
		noLogin  bool // the client must refuse before talking to the server
	}{
		{name: "wrong port", mod: func(o *Options) { o.BaseURL = "https://127.0.0.1:" + freePort(t) + "/api" },
			wantKind: KindUnreachable, wantStep: "tcp", wantMsg: []string{"127.0.0.1:", "refused"}, wantHint: []string{"wrong port", "not running"}},
		{name: "unresolvable host", mod: func(o *Options) { o.BaseURL = "https://ps.byov-test.invalid/api" },
			wantKind: KindUnreachable, wantStep: "dns", wantMsg: []string{`"ps.byov-test.invalid" does not resolve`}, wantHint: []string{"IP address", "hosts entry"}},
		{name: "untrusted certificate", mod: func(o *Options) { o.CACertPEM = nil },
			wantKind: KindTLS, wantStep: "tls", wantMsg: []string{"unknown authority"}, wantHint: []string{"ca_file"}},
		{name: "certificate name mismatch", mod: func(o *Options) { o.BaseURL = mismatch.URL(); o.CACertPEM = mismatch.CACertPEM() },
			wantKind: KindTLS, wantStep: "tls", wantMsg: []string{`not valid for the name "127.0.0.2"`}, wantHint: []string{"localhost", "127.0.0.1"}},
		{name: "api_url without /api", mod: func(o *Options) { o.BaseURL = strings.TrimSuffix(f.srv.URL(), "api/") },
			wantKind: KindHTTPPath, wantStep: "http", wantMsg: []string{"404"}, wantHint: []string{"/api missing from api_url"}},
		{name: "extra login requirement", mod: func(o *Options) { o.APIKey = newKey("mfa-user", "Read", "Passwords", 0) },
			wantKind: KindExtraRequirement, wantStep: "login", wantMsg: []string{`"mfa-user"`, "PossibleAuthCredentialRequirements"}, wantHint: []string{"multi-factor", "dedicated API user"}},
		{name: "expired key", mod: func(o *Options) { o.APIKey = expiredKey },
			wantKind: KindAPIKey, wantStep: "api-key", wantMsg: []string{"expired on " + time.Now().Add(-48*time.Hour).UTC().Format("2006-01-02")}, wantHint: []string{"create a new API key"}, noLogin: true},
		{name: "malformed key", mod: func(o *Options) { o.APIKey = "not-a-key" },
			wantKind: KindAPIKey, wantStep: "api-key", wantMsg: []string{"malformed"}, wantHint: []string{"JWT, a colon"}, noLogin: true},
		{name: "key without Password scope", mod: func(o *Options) { o.APIKey = newKey("NPS", "Read", "Forms", 0) },
			wantKind: KindPermission, wantStep: "scope", wantMsg: []string{"lacks the Password scope"}, wantHint: []string{"scope must include Password"}},
		{name: "key without Read", mod: func(o *Options) { o.APIKey = newKey("NPS", "Audit", "Passwords", 0) },
			wantKind: KindPermission, wantStep: "scope", wantMsg: []string{"lacks the Read access right"}, wantHint: []string{"must include Read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.client(t, tt.mod)
			logins := f.srv.Calls("Auth/AuthenticateApiKey")
			_, err := f.checkout(t, c, `CORP\administrator`, reasonFor("fail"))
			var e *Error
			if !errors.As(err, &e) || e.Kind != tt.wantKind {
				t.Fatalf("checkout: %v (kind %v), want kind %v", err, KindOf(err), tt.wantKind)
			}
			t.Logf("%v: %s\n\thint: %s", e.Kind, e.Message, e.Hint)
			for _, w := range tt.wantMsg {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q lacks %q", e.Message, w)
				}
			}
			for _, w := range tt.wantHint {
				if !strings.Contains(e.Hint, w) {
					t.Errorf("hint %q lacks %q", e.Hint, w)
				}
			}
			if tt.noLogin && f.srv.Calls("Auth/AuthenticateApiKey") != logins {
				t.Errorf("the key was sent to the server although it is refused locally")
			}

			steps := c.Diagnose(context.Background(), &Account{"CORP", "administrator"})
			last := steps[len(steps)-1]
			for _, st := range steps[:len(steps)-1] {
				if !st.OK {
					t.Errorf("step %s failed before the last: %s", st.Name, st.Message)
				}
			}
			f.record(last.Err)
			if last.OK || last.Name != tt.wantStep || KindOf(last.Err) != tt.wantKind || last.Hint == "" {
				t.Errorf("Diagnose ended with step %s ok=%v kind=%v (%s), want a failed %s", last.Name, last.OK, KindOf(last.Err), last.Message, tt.wantStep)
			}
		})
	}
}

func TestDiagnoseAllGood(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	c := f.client(t, nil)
	steps := c.Diagnose(context.Background(), &Account{"corp", "Administrator"})
	var names []string
	for _, st := range steps {
		names = append(names, st.Name)
		if !st.OK || st.Message == "" {
			t.Errorf("step %s: ok=%v %q %q", st.Name, st.OK, st.Message, st.Hint)
		}
	}
	if got := strings.Join(names, ","); got != "url,dns,tcp,tls,http,api-key,login,scope,lookup" {
		t.Errorf("steps = %s", got)
	}
	if n := len(f.srv.Logbook()); n != 0 {
		t.Errorf("Diagnose read %d secrets; a check must not touch the logbook", n)
	}
}

// Check logs in afresh each time; the session it replaces is closed on the
// server, not leaked, and checkouts running meanwhile move to the new one.
func TestLoginClosesTheReplacedSession(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	c := f.client(t, func(o *Options) { o.CacheTTL = 0 })
	if _, err := f.checkout(t, c, `CORP\administrator`, reasonFor("before")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		steps := c.Diagnose(context.Background(), &Account{"CORP", "administrator"})
		if last := steps[len(steps)-1]; !last.OK {
			t.Fatalf("Diagnose %d: %s failed: %s", i, last.Name, last.Message)
		}
		if n := f.srv.SessionCount(); n != 1 {
			t.Fatalf("after Diagnose %d the server holds %d sessions, want 1", i, n)
		}
	}
	if n := f.srv.Calls("Auth/AuthenticateApiKey"); n != 4 {
		t.Errorf("logins = %d, want 4 (one per checkout session and Diagnose)", n)
	}

	// Replacing the session while checkouts use its keyring is safe.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := f.checkout(t, c, `CORP\svc-role`, reasonFor("during")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 3; i++ {
		time.Sleep(20 * time.Millisecond)
		if err := c.Login(context.Background()); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if n := f.srv.SessionCount(); n != 1 {
		t.Errorf("the server holds %d sessions, want 1", n)
	}
}

func TestNoSecretsInLogsWhenFormatted(t *testing.T) {
	f := newFixture(t, psemu.Options{})
	c := f.client(t, nil)
	k, err := c.APIKey()
	if err != nil {
		t.Fatal(err)
	}
	// A careless caller logging the key or the client must leak nothing.
	log := hclog.New(&hclog.LoggerOptions{Output: f.logs, Level: hclog.Trace})
	log.Info("careless", "key", k, "key_v", fmt.Sprintf("%v %+v %#v", k, k, k),
		"key_value", fmt.Sprintf("%v %+v %#v", *k, *k, *k), "client", fmt.Sprintf("%+v %#v", c, c))
	if !strings.Contains(f.logs.String(), "careless") {
		t.Fatal("the log capture does not work")
	}
	// The scan itself must catch what it is meant to catch.
	_, priv, _ := strings.Cut(f.key, ":")
	if raw, _ := base64.StdEncoding.DecodeString(priv); len(raw) == 0 {
		t.Fatal("the fixture key has no private part")
	}
	if _, err := f.checkout(t, c, `CORP\administrator`, reasonFor("scan")); err != nil {
		t.Fatal(err)
	}
	sessionKeys := f.srv.SessionKeys()
	if len(sessionKeys) != 1 {
		t.Fatalf("the server holds %d live sessions, want 1", len(sessionKeys))
	}
	c.sessMu.Lock()
	token2 := c.sess.token2
	c.sessMu.Unlock()
	for _, planted := range []string{f.key, priv, pwAdmin, sessionKeys[0], token2} {
		if len(f.secretsIn("log line with "+planted)) == 0 {
			t.Errorf("the secret scan misses a planted secret of %d chars", len(planted))
		}
	}
}
