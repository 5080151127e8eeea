package connectortest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/sdk"
)

// instanceID names the instance every case works with.
const instanceID = "connectortest"

// kitSession is the session context the kit's calls carry.
var kitSession = sdk.SessionContext{SessionID: "connectortest-session", Requester: "connectortest", Resource: "connectortest-resource", Activity: "connectortest-activity"}

// env is one transport's run: the client, the seeded fixture and what the
// cases saw, for the secrets case at the end.
type env struct {
	h         Harness
	transport string
	client    *sdk.Client
	logger    hclog.Logger // in process only: the logger instances get
	binary    string       // the binary's file name, process only
	fx        Fixture
	meta      sdk.Metadata
	logs      *logBuffer

	mu        sync.Mutex
	texts     []string // every error message, hint and finding the cases saw
	extra     []labelled
	skipNotes map[string]string
}

type labelled struct {
	label  string
	secret string
}

type kitCase struct {
	name string
	run  func(t tester, e *env)
}

// table is the kit's cases, in the order of Cases.
var table = []kitCase{
	{CaseMetadata, caseMetadata},
	{CaseConfigureRequired, caseConfigureRequired},
	{CaseCheckoutFound, caseCheckoutFound},
	{CaseCheckoutNotFound, caseCheckoutNotFound},
	{CaseCheckoutAmbiguous, caseCheckoutAmbiguous},
	{CaseContext, caseContext},
	{CaseConcurrency, caseConcurrency},
	{CaseCheck, caseCheck},
	{CaseCapabilityCheckin, caseCapabilityCheckin},
	{CaseCapabilityAccounts, caseCapabilityAccounts},
	{CaseSecrets, caseSecrets},
}

func runTransport(t tester, h Harness, tr transport, rep *report) {
	t.Helper()
	fx, err := h.Seed(t)
	if err != nil {
		t.Fatalf("connectortest: Harness.Seed failed: %v", err)
	}
	switch {
	case fx.Found.IsZero():
		t.Fatalf("connectortest: Fixture.Found is empty; Seed must store an account and name it there")
	case fx.FoundSecret == "":
		t.Fatalf("connectortest: Fixture.FoundSecret is empty; set it to the password Seed stored for Fixture.Found")
	case fx.Absent.IsZero():
		t.Fatalf("connectortest: Fixture.Absent is empty; name an account that is not in the vault")
	}
	e := &env{h: h, transport: tr.name(), fx: fx, logs: &logBuffer{}, skipNotes: map[string]string{}}
	// From here on every text the kit prints may quote the connector's
	// errors or log; a leaked secret is the secrets case's to report, not
	// to be printed by the cases before it.
	t = redactingT{t, e.redact}
	e.client, e.logger, e.binary = tr.start(t, h, e.logs)

	ctx, cancel := context.WithTimeout(context.Background(), h.callTimeout())
	defer cancel()
	if e.meta, err = e.client.Metadata(ctx); err != nil {
		t.Fatalf("connectortest: GetMetadata failed: %v", err)
	}
	if err := e.client.Configure(ctx, instanceID, fx.Config, fx.ServiceAccount); err != nil {
		e.saw(err)
		t.Fatalf("connectortest: Configure with the Fixture's config failed with code %s: %v\nSeed must return the config of a working instance; fix Seed or Configure", sdk.CodeOf(err), err)
	}

	for _, c := range table {
		if reason, ok := h.Skip[c.name]; ok {
			rep.skip(c.name, reason)
			t.Run(c.name, func(t tester) { t.Skip("skipped by Harness.Skip: " + reason) })
			continue
		}
		t.Run(c.name, func(t tester) {
			defer func() {
				if note, ok := e.skipNote(c.name); ok {
					rep.skip(c.name, note)
					return
				}
				rep.add(c.name, t)
			}()
			c.run(t, e)
		})
	}
}

// skip skips a case that does not apply to this connector or transport.
func (e *env) skip(t tester, name, reason string) {
	e.mu.Lock()
	e.skipNotes[name] = reason
	e.mu.Unlock()
	t.Skip(reason)
}

func (e *env) skipNote(name string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n, ok := e.skipNotes[name]
	return n, ok
}

// saw records an error's text and hint for the secrets case.
func (e *env) saw(err error) {
	if err == nil {
		return
	}
	e.note(err.Error(), sdk.HintOf(err))
}

func (e *env) note(texts ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.texts = append(e.texts, texts...)
}

func (e *env) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), e.h.callTimeout())
}

func (e *env) checkout(acct sdk.Account) (*sdk.Credential, error) {
	ctx, cancel := e.ctx()
	defer cancel()
	cred, err := e.client.Checkout(ctx, instanceID, sdk.CheckoutRequest{Account: acct, Session: kitSession, Reason: "byov connectortest"})
	e.saw(err)
	return cred, err
}

// describe renders an error with its code for messages.
func describe(err error) string {
	if err == nil {
		return "no error"
	}
	return fmt.Sprintf("code %s (%v)", sdk.CodeOf(err), err)
}

// caseMetadata checks what sdk.ValidateMetadata leaves to the author: the
// connector could not have started with a bad type, version, capability or
// schema (Serve and the in-process probe refuse them).
func caseMetadata(t tester, e *env) {
	m := e.meta
	if strings.TrimSpace(m.Description) == "" {
		t.Errorf("Metadata().Description is empty; write the one line `byov plugin list` shows, such as \"Acme Vault: checks out accounts by DOMAIN\\\\user\"")
	}
	for _, a := range m.ConfigSchema {
		if strings.TrimSpace(a.Description) == "" {
			t.Errorf("config attribute %q has no Description; operators read it in config errors (\"the required attribute %q is missing (<Description>)\"), so say what the value is", a.Name, a.Name)
		}
	}
	if _, err := sdk.DecodeConfig(m.ConfigSchema, e.fx.Config); err != nil {
		t.Errorf("the Fixture's Config does not fit the connector's schema: %v; fix Harness.Seed", err)
	}
	if e.binary != "" {
		if rest, ok := strings.CutPrefix(e.binary, "byov-connector-"); ok {
			typ, ver, hasVer := strings.Cut(rest, "_")
			if typ != m.Type {
				t.Errorf("the binary is named %s but Metadata().Type is %q; the host refuses it — name the binary byov-connector-%s_%s, or fix Type", e.binary, m.Type, m.Type, m.Version)
			}
			if hasVer && strings.TrimPrefix(ver, "v") != m.Version {
				t.Errorf("the binary is named %s but Metadata().Version is %q; the host refuses it — name the binary byov-connector-%s_%s, or fix Version", e.binary, m.Version, m.Type, m.Version)
			}
		}
	}
	if e.h.Connector != nil {
		if a, b := e.h.Connector.Metadata(), e.h.Connector.Metadata(); !reflect.DeepEqual(a, b) {
			t.Errorf("Metadata() returned different values on two calls; it must describe the connector the same way every time (build it from constants)")
		}
	}
}

func caseConfigureRequired(t tester, e *env) {
	var required []sdk.Attribute
	for _, a := range e.meta.ConfigSchema {
		if a.Required {
			required = append(required, a)
		}
	}
	if len(required) == 0 {
		e.skip(t, CaseConfigureRequired, "the connector declares no required config attribute")
	}
	const id = "connectortest-required"
	for _, a := range required {
		cfg := copyConfig(e.fx.Config)
		delete(cfg, a.Name)
		err := e.configure(id, cfg, e.fx.ServiceAccount)
		switch {
		case err == nil:
			t.Errorf("Configure without the required attribute %q succeeded; declare it with Required: true in the schema the binary was built with", a.Name)
		case sdk.CodeOf(err) != sdk.CodeInvalidConfig:
			t.Errorf("Configure without the required attribute %q returned %s; it must be refused with code InvalidConfig", a.Name, describe(err))
		case !strings.Contains(err.Error(), a.Name):
			t.Errorf("Configure without the required attribute %q was refused, but the message does not name it: %q", a.Name, err.Error())
		}
		if a.Type != sdk.TypeString {
			continue
		}
		// The SDK cannot tell an empty string from a value; the connector
		// must, or it runs on "" (the current directory, an empty URL).
		cfg[a.Name] = ""
		err = e.configure(id, cfg, e.fx.ServiceAccount)
		switch {
		case err == nil:
			t.Errorf("Configure with the required attribute %q set to \"\" succeeded; refuse an empty value in Configure: return sdk.Errorf(sdk.CodeInvalidConfig, \"set %s in the connector's config block\", \"%s is empty\")", a.Name, a.Name, a.Name)
		case sdk.CodeOf(err) != sdk.CodeInvalidConfig:
			t.Errorf("Configure with the required attribute %q set to \"\" returned %s; return code InvalidConfig with a message that names %s", a.Name, describe(err), a.Name)
		case !strings.Contains(err.Error(), a.Name):
			t.Errorf("Configure with the required attribute %q set to \"\" was refused, but the message does not name it: %q; say which attribute is wrong", a.Name, err.Error())
		}
	}
	ctx, cancel := e.ctx()
	defer cancel()
	_ = e.client.Unconfigure(ctx, id)
}

// configure configures a side instance and removes it again when it worked.
func (e *env) configure(id string, cfg map[string]any, sa sdk.ServiceAccount) error {
	ctx, cancel := e.ctx()
	defer cancel()
	err := e.client.Configure(ctx, id, cfg, sa)
	e.saw(err)
	if err == nil {
		_ = e.client.Unconfigure(ctx, id)
	}
	return err
}

func copyConfig(c map[string]any) map[string]any {
	out := make(map[string]any, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

func caseCheckoutFound(t tester, e *env) {
	cred, err := e.checkout(e.fx.Found)
	if err != nil {
		t.Fatalf("Checkout of the seeded account %s returned %s; Seed stored it, so the connector must find it", e.fx.Found, describe(err))
	}
	checkSecret(t, "Checkout of "+e.fx.Found.String(), cred, e.fx.FoundSecret)
	for k, v := range cred.Metadata {
		if strings.Contains(v, e.fx.FoundSecret.Reveal()) {
			t.Errorf("Credential.Metadata[%q] holds the secret; Metadata goes to the audit log, keep secrets out of it", k)
		}
	}
	if strings.Contains(cred.LeaseID, e.fx.FoundSecret.Reveal()) {
		t.Errorf("Credential.LeaseID holds the secret; the host stores and logs lease ids, keep secrets out of them")
	}
}

func checkSecret(t tester, what string, cred *sdk.Credential, want sdk.Secret) {
	t.Helper()
	got := cred.Secret.Reveal()
	if got == want.Reveal() {
		return
	}
	hint := "return the password exactly as the vault stores it"
	if strings.TrimSpace(got) == strings.TrimSpace(want.Reveal()) {
		hint = "it differs only in white space: trim the trailing newline or spaces the vault's format adds"
	}
	t.Errorf("%s returned a secret of %d characters, not the seeded one of %d characters; %s", what, len(got), len(want.Reveal()), hint)
}

func caseCheckoutNotFound(t tester, e *env) {
	_, err := e.checkout(e.fx.Absent)
	switch {
	case err == nil:
		t.Errorf("Checkout of the absent account %s returned a credential; when the vault has no entry, return sdk.Errorf(sdk.CodeNotFound, hint, \"no entry for %%s\", req.Account)", e.fx.Absent)
	case sdk.CodeOf(err) != sdk.CodeNotFound:
		t.Errorf("Checkout of an absent account (%s) returned %s; return sdk.Errorf(sdk.CodeNotFound, hint, \"no entry for %%s\", req.Account) — the host reports NotFound as a result the operator can fix, not as a connector fault", e.fx.Absent, describe(err))
	case !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(e.fx.Absent.Username)):
		t.Errorf("the NotFound message %q does not name the account; say which one is missing, e.g. \"no entry for %s\"", err.Error(), e.fx.Absent)
	}
}

func caseCheckoutAmbiguous(t tester, e *env) {
	if e.fx.Ambiguous.IsZero() {
		t.Fatalf("Fixture.Ambiguous is empty: seed two entries that both match one account and name it there, or, if the vault cannot hold such entries, set Harness.Skip[%q] to the reason", CaseCheckoutAmbiguous)
	}
	cred, err := e.checkout(e.fx.Ambiguous)
	switch {
	case err == nil:
		t.Errorf("Checkout of %s, which matches several entries, returned a credential (%s); return sdk.Errorf(sdk.CodeAmbiguous, hint, ...) instead of picking one — the wrong account's password is worse than none", e.fx.Ambiguous, cred.Username)
	case sdk.CodeOf(err) != sdk.CodeAmbiguous:
		t.Errorf("Checkout of %s, which matches several entries, returned %s; return sdk.Errorf(sdk.CodeAmbiguous, hint, ...)", e.fx.Ambiguous, describe(err))
	}
}

// caseContext calls an instance directly with a context that has already
// ended: over gRPC the client gives up on its own, so only a direct call
// shows whether the connector itself notices.
func caseContext(t tester, e *env) {
	if e.logger == nil {
		e.skip(t, CaseContext, "checked in the in-process run, which calls the instance directly")
	}
	cfg, err := sdk.DecodeConfig(e.meta.ConfigSchema, e.fx.Config)
	if err != nil {
		t.Fatalf("the Fixture's Config does not fit the connector's schema: %v; fix Harness.Seed", err)
	}
	ctx, cancel := e.ctx()
	defer cancel()
	inst, err := e.h.Connector.Configure(ctx, sdk.ConfigureRequest{InstanceID: "connectortest-context", Config: cfg, ServiceAccount: e.fx.ServiceAccount, Logger: e.logger.Named("connectortest-context")})
	if err != nil {
		e.saw(err)
		t.Fatalf("Configure, called directly with the Fixture's config, returned %s", describe(err))
	}
	defer inst.Close(context.Background())

	cancelled, stop := context.WithCancel(context.Background())
	stop()
	expired, stop2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer stop2()
	for _, tc := range []struct {
		state string
		ctx   context.Context
		want  error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"past its deadline", expired, context.DeadlineExceeded},
	} {
		type result struct {
			cred *sdk.Credential
			err  error
		}
		done := make(chan result, 1)
		go func() {
			cred, err := inst.Checkout(tc.ctx, sdk.CheckoutRequest{Account: e.fx.Found, Session: kitSession})
			done <- result{cred, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("Checkout with a context that was already %s had not returned after 5s; pass ctx to every call that can block (http.NewRequestWithContext, db.QueryContext) and check ctx.Err()", tc.state)
			continue
		}
		e.saw(r.err)
		var sdkErr *sdk.Error
		switch {
		case r.err == nil:
			t.Errorf("Checkout with a context that was already %s returned the credential; the host has given up on the call by then. Check ctx.Err() before the lookup and pass ctx to every call that can block", tc.state)
		case sdk.CodeOf(r.err) == sdk.CodeUnavailable:
		case errors.Is(r.err, tc.want) && !errors.As(r.err, &sdkErr):
		default:
			t.Errorf("Checkout with a context that was already %s returned %s; return ctx.Err() as it is (or wrapped with %%w, or as code Unavailable) so the host can tell a cancelled call from a fault", tc.state, describe(r.err))
		}
	}
}

func caseConcurrency(t tester, e *env) {
	const workers, calls = 8, 24
	var (
		mu       sync.Mutex
		failures int
		first    string
		wg       sync.WaitGroup
	)
	fail := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		if failures == 0 {
			first = msg
		}
		failures++
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				if i%4 == 3 {
					if _, err := e.checkout(e.fx.Absent); sdk.CodeOf(err) != sdk.CodeNotFound {
						fail(fmt.Sprintf("Checkout of the absent %s returned %s", e.fx.Absent, describe(err)))
					}
					continue
				}
				cred, err := e.checkout(e.fx.Found)
				switch {
				case err != nil:
					fail(fmt.Sprintf("Checkout of %s returned %s", e.fx.Found, describe(err)))
				case cred.Secret.Reveal() != e.fx.FoundSecret.Reveal():
					fail(fmt.Sprintf("Checkout of %s returned a wrong secret", e.fx.Found))
				}
			}
		}()
	}
	wg.Wait()
	if failures > 0 {
		t.Errorf("%d of %d concurrent checkouts went wrong; the first: %s. The host calls an instance from many sessions at once: guard shared state with a sync.Mutex and run the tests with -race", failures, workers*calls, first)
	}
	if e.transport != "process" {
		return
	}
	const raceMark = "WARNING: DATA RACE"
	if e.logs.waitFor(raceMark, 300*time.Millisecond) {
		t.Errorf("the plugin process reported a data race during concurrent checkouts; guard the state it names with a sync.Mutex:\n%s", section(e.logs.rawString(), raceMark, 40))
	}
	if out := e.logs.rawString(); strings.Contains(out, "fatal error: concurrent map") {
		t.Errorf("the plugin process crashed during concurrent checkouts:\n%s\nguard the map with a sync.Mutex", section(out, "fatal error:", 20))
	}
	if !raceEnabled {
		t.Log("run the tests with -race: the kit then builds the plugin with the race detector and reports data races in it")
	}
}

func caseCheck(t tester, e *env) {
	ctx, cancel := e.ctx()
	defer cancel()
	findings, err := e.client.Check(ctx, instanceID, sdk.CheckRequest{})
	e.saw(err)
	if err != nil {
		t.Fatalf("Check returned %s; an error means the check itself could not run — report a failed step as a Finding with OK false", describe(err))
	}
	if len(findings) == 0 {
		t.Fatalf("Check returned no findings; report each step it tests (vault reachable, login, ...) as an sdk.Finding so `byov connector check` shows the operator something")
	}
	for i, f := range findings {
		e.note(f.Step, f.Message, f.Hint)
		switch {
		case strings.TrimSpace(f.Step) == "":
			t.Errorf("Check finding %d has no Step; name the step it reports on", i)
		case strings.TrimSpace(f.Message) == "":
			t.Errorf("Check finding %q has no Message; say what the step found", f.Step)
		case !f.OK:
			t.Errorf("Check of the seeded, working vault reports step %q as failed: %s (hint: %s); either Seed's vault is not healthy or the step is wrong", f.Step, f.Message, f.Hint)
		}
	}
}

func caseCapabilityCheckin(t tester, e *env) {
	ctx, cancel := e.ctx()
	defer cancel()
	if !e.meta.Has(sdk.CapabilityCheckin) {
		err := e.client.Checkin(ctx, instanceID, sdk.CheckinRequest{Account: e.fx.Found, Session: kitSession})
		e.saw(err)
		if sdk.CodeOf(err) != sdk.CodeUnsupported {
			t.Errorf("Checkin on a connector that does not announce %q returned %s, want code Unsupported; the SDK refuses it by itself, so check the SDK version the binary was built with", sdk.CapabilityCheckin, describe(err))
		}
		return
	}
	cred, err := e.checkout(e.fx.Found)
	if err != nil {
		t.Fatalf("Checkout of %s, before Checkin, returned %s", e.fx.Found, describe(err))
	}
	err = e.client.Checkin(ctx, instanceID, sdk.CheckinRequest{Account: e.fx.Found, LeaseID: cred.LeaseID, Session: kitSession})
	e.saw(err)
	switch {
	case err == nil:
	case strings.Contains(err.Error(), "does not implement"):
		t.Errorf("the connector announces the %q capability but Checkin failed: %v; implement sdk.Checkiner (Checkin(ctx, sdk.CheckinRequest) error) on the type Configure returns, or drop sdk.CapabilityCheckin from Metadata().Capabilities", sdk.CapabilityCheckin, err)
	default:
		t.Errorf("Checkin of the lease Checkout just handed out returned %s; Checkin must accept what Checkout returned", describe(err))
	}
}

func caseCapabilityAccounts(t tester, e *env) {
	ctx, cancel := e.ctx()
	defer cancel()
	if !e.meta.Has(sdk.CapabilityAccounts) {
		_, putErr := e.client.Put(ctx, instanceID, sdk.PutRequest{Account: e.fx.Absent, Secret: "connectortest-unused"})
		delErr := e.client.Delete(ctx, instanceID, e.fx.Absent)
		_, listErr := e.client.List(ctx, instanceID, sdk.ListRequest{})
		for _, c := range []struct {
			call string
			err  error
		}{{"Put", putErr}, {"Delete", delErr}, {"List", listErr}} {
			e.saw(c.err)
			if sdk.CodeOf(c.err) != sdk.CodeUnsupported {
				t.Errorf("%s on a connector that does not announce %q returned %s, want code Unsupported; the SDK refuses it by itself, so check the SDK version the binary was built with", c.call, sdk.CapabilityAccounts, describe(c.err))
			}
		}
		return
	}
	const how = "implement sdk.AccountStore on the type Configure returns, or drop sdk.CapabilityAccounts from Metadata().Capabilities"
	acct := sdk.Account{Domain: e.fx.Found.Domain, Username: "connectortest-" + randomString(8, lower)}
	secret := sdk.Secret(randomString(24, lower+"ABCDEFGHJKLMNPQRSTUVWXYZ23456789-!#%"))
	e.mu.Lock()
	e.extra = append(e.extra, labelled{"the secret the kit stored with Put", secret.Reveal()})
	e.mu.Unlock()
	v, err := e.client.Put(ctx, instanceID, sdk.PutRequest{Account: acct, Secret: secret, Description: "stored by connectortest", Tags: map[string]string{"by": "connectortest"}})
	e.saw(err)
	if err != nil {
		t.Fatalf("the connector announces %q but Put of a new account %s returned %s; %s", sdk.CapabilityAccounts, acct, describe(err), how)
	}
	if v < 1 {
		t.Errorf("Put returned version %d; return the version it stored, starting at 1", v)
	}
	cred, err := e.checkout(acct)
	if err != nil {
		t.Fatalf("after Put, Checkout of %s returned %s; Checkout must find what Put stored", acct, describe(err))
	}
	checkSecret(t, "after Put, Checkout of "+acct.String(), cred, secret)
	listHas := func(req sdk.ListRequest) (bool, error) {
		infos, err := e.client.List(ctx, instanceID, req)
		e.saw(err)
		for _, in := range infos {
			e.note(in.Description)
			if strings.EqualFold(in.Account.Domain, acct.Domain) && strings.EqualFold(in.Account.Username, acct.Username) {
				return true, err
			}
		}
		return false, err
	}
	if ok, err := listHas(sdk.ListRequest{}); err != nil || !ok {
		t.Errorf("after Put, List returned %s and does not include %s; List must show every stored account", describe(err), acct)
	}
	if acct.Domain != "" {
		if ok, err := listHas(sdk.ListRequest{Domain: strings.ToLower(acct.Domain)}); err != nil || !ok {
			t.Errorf("after Put, List with Domain %q returned %s and does not include %s; filter on the domain case-insensitively", strings.ToLower(acct.Domain), describe(err), acct)
		}
	}
	if ok, _ := listHas(sdk.ListRequest{Domain: "connectortest-no-such-domain"}); ok {
		t.Errorf("List with Domain \"connectortest-no-such-domain\" includes %s; keep only the accounts of the requested domain", acct)
	}
	err = e.client.Delete(ctx, instanceID, acct)
	e.saw(err)
	if err != nil {
		t.Fatalf("Delete of %s, just stored with Put, returned %s", acct, describe(err))
	}
	if _, err := e.checkout(acct); sdk.CodeOf(err) != sdk.CodeNotFound {
		t.Errorf("after Delete, Checkout of %s returned %s; Delete must remove the account, and Checkout then return NotFound", acct, describe(err))
	}
	if ok, _ := listHas(sdk.ListRequest{}); ok {
		t.Errorf("after Delete, List still shows %s; Delete must remove the account", acct)
	}
}

// wrongSecret is the service account secret the secrets case logs in with.
func (e *env) wrongSecret() sdk.Secret {
	return sdk.Secret(e.fx.ServiceAccount.Secret.Reveal() + "-connectortest-wrong")
}

// secrets lists every secret the kit knows of, with what it is. schema
// names the sensitive config attributes.
func (e *env) secrets(schema []sdk.Attribute) []labelled {
	secrets := []labelled{
		{"Fixture.FoundSecret", e.fx.FoundSecret.Reveal()},
		{"the service account's secret", e.fx.ServiceAccount.Secret.Reveal()},
		{"the wrong service account secret the kit tried", e.wrongSecret().Reveal()},
	}
	for _, a := range schema {
		if s, ok := e.fx.Config[a.Name].(string); ok && a.Sensitive {
			secrets = append(secrets, labelled{fmt.Sprintf("the sensitive config attribute %q", a.Name), s})
		}
	}
	for i, s := range e.fx.Secrets {
		secrets = append(secrets, labelled{fmt.Sprintf("Fixture.Secrets[%d]", i), s.Reveal()})
	}
	e.mu.Lock()
	secrets = append(secrets, e.extra...)
	e.mu.Unlock()
	return secrets
}

// redact replaces every secret the kit knows of, as it is and as JSON
// escapes it, with [redacted]. Before the connector's metadata has been
// fetched, the sensitive attributes are those of Harness.Connector.
func (e *env) redact(text string) string {
	schema := e.meta.ConfigSchema
	if e.meta.Type == "" {
		schema = e.h.Connector.Metadata().ConfigSchema
	}
	var forms []string
	for _, s := range e.secrets(schema) {
		if s.secret != "" {
			forms = append(forms, secretForms(s.secret)...)
		}
	}
	// Longest first, so that a secret containing another goes whole.
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	for _, f := range forms {
		text = strings.ReplaceAll(text, f, "[redacted]")
	}
	return text
}

// redactingT passes every text a case prints through redact.
type redactingT struct {
	tester
	redact func(string) string
}

func (r redactingT) sprintln(args []any) string {
	return r.redact(strings.TrimSuffix(fmt.Sprintln(args...), "\n"))
}

func (r redactingT) Log(args ...any) { r.tester.Helper(); r.tester.Log(r.sprintln(args)) }
func (r redactingT) Logf(format string, args ...any) {
	r.tester.Helper()
	r.tester.Log(r.redact(fmt.Sprintf(format, args...)))
}
func (r redactingT) Error(args ...any) { r.tester.Helper(); r.tester.Error(r.sprintln(args)) }
func (r redactingT) Errorf(format string, args ...any) {
	r.tester.Helper()
	r.tester.Error(r.redact(fmt.Sprintf(format, args...)))
}
func (r redactingT) Fatal(args ...any) { r.tester.Helper(); r.tester.Fatal(r.sprintln(args)) }
func (r redactingT) Fatalf(format string, args ...any) {
	r.tester.Helper()
	r.tester.Fatal(r.redact(fmt.Sprintf(format, args...)))
}
func (r redactingT) Skip(args ...any) { r.tester.Helper(); r.tester.Skip(r.sprintln(args)) }
func (r redactingT) Skipf(format string, args ...any) {
	r.tester.Helper()
	r.tester.Skip(r.redact(fmt.Sprintf(format, args...)))
}
func (r redactingT) Run(name string, f func(tester)) bool {
	return r.tester.Run(name, func(t tester) { f(redactingT{t, r.redact}) })
}

func caseSecrets(t tester, e *env) {
	// Provoke the errors most likely to quote a secret: a refused login,
	// and the lookups that fail.
	wrong := e.fx.ServiceAccount
	wrong.Secret = e.wrongSecret()
	_ = e.configure("connectortest-wrong-secret", e.fx.Config, wrong)
	_, _ = e.checkout(e.fx.Absent)
	if !e.fx.Ambiguous.IsZero() {
		_, _ = e.checkout(e.fx.Ambiguous)
	}

	secrets := e.secrets(e.meta.ConfigSchema)
	e.mu.Lock()
	places := map[string]string{"an error message, hint or Check finding": strings.Join(e.texts, "\n")}
	e.mu.Unlock()
	for k, v := range e.logs.texts() {
		places[k] = v
	}
	names := make([]string, 0, len(places))
	for k := range places {
		names = append(names, k)
	}
	sort.Strings(names)

	var short []string
	for _, s := range secrets {
		if len(s.secret) < 6 {
			if s.secret != "" {
				short = append(short, s.label)
			}
			continue
		}
		for _, where := range names {
			if at, ok := findSecret(places[where], s.secret); ok {
				t.Errorf("%s appears in %s: %q; never put a secret in an error, a hint or a log line — keep it in an sdk.Secret, which prints as [redacted]", s.label, where, at)
				break
			}
		}
	}
	if len(short) > 0 {
		t.Logf("not scanned, shorter than 6 characters (too many false matches): %s; seed longer secrets", strings.Join(short, ", "))
	}
}

// findSecret looks for a secret as it is and as JSON escapes it (the
// plugin's log lines are JSON), and returns the place with the secret masked.
func findSecret(text, secret string) (string, bool) {
	for _, form := range secretForms(secret) {
		i := strings.Index(text, form)
		if i < 0 {
			continue
		}
		start, end := max(0, i-50), min(len(text), i+len(form)+30)
		return strings.ReplaceAll(text[start:end], form, "<SECRET>"), true
	}
	return "", false
}

// secretForms are the ways a secret shows in text: as it is, and as JSON
// escapes it.
func secretForms(secret string) []string {
	b, _ := json.Marshal(secret)
	if escaped := strings.Trim(string(b), `"`); escaped != secret {
		return []string{secret, escaped}
	}
	return []string{secret}
}

const lower = "abcdefghijkmnopqrstuvwxyz"

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
