package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/plugins/passwordsecure/psr"
	"github.com/byov/byov/sdk"
)

// Version is the connector's version, reported in Metadata and sent to
// Password Secure as the client version; a build may set it with
// -ldflags "-X main.Version=1.1.0".
var Version = "1.0.0"

const connectorType = "passwordsecure"

// Config attribute names.
const (
	attrAPIURL        = "api_url"
	attrCAFile        = "ca_file"
	attrSkipCertCheck = "skip_cert_check"
	attrTimeout       = "timeout"
	attrCacheTTL      = "cache_ttl"
	attrForm          = "form"
	attrDomainField   = "domain_field"
	attrUsernameField = "username_field"
	attrPasswordField = "password_field"
)

type connector struct{}

func (connector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		Type:        connectorType,
		Version:     Version,
		Description: `Netwrix Password Secure: checks out "AD User" entries by DOMAIN\username with an API key`,
		ConfigSchema: []sdk.Attribute{
			{Name: attrAPIURL, Type: sdk.TypeString, Required: true,
				Description: "the Password Secure web API, e.g. https://ps.example.com/api (any port and path)"},
			{Name: attrCAFile, Type: sdk.TypeString,
				Description: "PEM file of the CA that issued the server's certificate, trusted beside the system's CAs"},
			{Name: attrSkipCertCheck, Type: sdk.TypeBool, Default: false,
				Description: "do not verify the server's certificate (tests only; warned about at every start)"},
			{Name: attrTimeout, Type: sdk.TypeDuration, Default: "30s",
				Description: "deadline of each HTTP call to Password Secure"},
			{Name: attrCacheTTL, Type: sdk.TypeDuration, Default: "1m",
				Description: "how long the entry and key found for an account are reused (never the password); 0s turns it off"},
			{Name: attrForm, Type: sdk.TypeString, Default: psr.DefaultForm,
				Description: "name of the form of the entries to look up"},
			{Name: attrDomainField, Type: sdk.TypeString, Default: psr.DefaultDomainField,
				Description: "name of the field that holds the domain"},
			{Name: attrUsernameField, Type: sdk.TypeString, Default: psr.DefaultUsernameField,
				Description: "name of the field that holds the user name"},
			{Name: attrPasswordField, Type: sdk.TypeString, Default: psr.DefaultPasswordField,
				Description: "name of the field that holds the password"},
		},
	}
}

// Configure builds an instance. Mistakes in the operator's config block are
// refused here; a bad API key is not, so that Check can show it as a step
// and checkouts report it with its hint.
func (connector) Configure(_ context.Context, req sdk.ConfigureRequest) (sdk.Instance, error) {
	log := req.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg := req.Config
	opts := psr.Options{
		BaseURL:       cfg.String(attrAPIURL),
		APIKey:        req.ServiceAccount.Secret.Reveal(),
		SkipCertCheck: cfg.Bool(attrSkipCertCheck),
		Timeout:       cfg.Duration(attrTimeout),
		CacheTTL:      cfg.Duration(attrCacheTTL),
		Form:          strings.TrimSpace(cfg.String(attrForm)),
		DomainField:   strings.TrimSpace(cfg.String(attrDomainField)),
		UsernameField: strings.TrimSpace(cfg.String(attrUsernameField)),
		PasswordField: strings.TrimSpace(cfg.String(attrPasswordField)),
		ClientType:    "byov",
		ClientVersion: Version,
		Logger:        log,
	}
	if f := cfg.String(attrCAFile); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, sdk.Wrap(err, sdk.CodeInvalidConfig,
				"give ca_file as a path the connector process can read (an absolute path is safest)",
				fmt.Sprintf("cannot read ca_file %q: %v", f, errors.Unwrap(err)))
		}
		opts.CACertPEM = pem
	}
	if opts.SkipCertCheck {
		log.Warn("skip_cert_check is on: the Password Secure server's certificate is not verified, so anyone on the path can read the API key and the passwords; set ca_file instead",
			"instance", req.InstanceID, "api_url", opts.BaseURL)
	}
	client, err := psr.New(opts)
	if err != nil {
		return nil, toSDK(err)
	}
	if key, err := client.APIKey(); err != nil {
		log.Warn("the service account's API key cannot be used; checkouts will fail until it is replaced", "instance", req.InstanceID, "error", err.Error())
	} else if err := key.CheckExpiry(time.Now()); err != nil {
		log.Warn("the service account's API key has expired; checkouts will fail until it is replaced", "instance", req.InstanceID, "error", err.Error())
	} else if !key.ExpiresAt.IsZero() && time.Until(key.ExpiresAt) < 14*24*time.Hour {
		log.Warn("the service account's API key expires soon; create a new one in Password Secure", "instance", req.InstanceID, "expires", key.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return &instance{id: req.InstanceID, client: client, log: log}, nil
}

type instance struct {
	id     string
	client *psr.Client
	log    hclog.Logger
}

// Checkout reads the password of the AD User entry of the account. The
// reason that Password Secure logs names the byov session, requester,
// resource and activity.
func (in *instance) Checkout(ctx context.Context, req sdk.CheckoutRequest) (*sdk.Credential, error) {
	acct := psr.Account{Domain: req.Account.Domain, Username: req.Account.Username}
	cred, err := in.client.Checkout(ctx, acct, checkoutReason(req))
	if err != nil {
		in.log.Debug("checkout failed", "account", acct.String(), "session", req.Session.SessionID, "error", err.Error())
		return nil, toSDK(err)
	}
	in.log.Debug("checked out", "account", acct.String(), "entry", cred.EntryID, "session", req.Session.SessionID)
	return &sdk.Credential{
		Username: cred.Username,
		Secret:   sdk.Secret(cred.Password.Reveal()),
		Metadata: map[string]string{
			"entry_id":   cred.EntryID,
			"entry_name": cred.EntryName,
			"item_id":    cred.ItemID,
			"domain":     cred.Domain,
		},
	}, nil
}

// checkoutReason says who takes the password and why, for Password Secure's
// logbook. The host's own reason, when it sent one, is appended.
func checkoutReason(req sdk.CheckoutRequest) string {
	s := req.Session
	or := func(v string) string {
		if strings.TrimSpace(v) == "" {
			return "(unknown)"
		}
		return v
	}
	reason := fmt.Sprintf("byov session %s: requester %s, resource %s, activity %s",
		or(s.SessionID), or(s.Requester), or(s.Resource), or(s.Activity))
	if r := strings.TrimSpace(req.Reason); r != "" && !strings.Contains(reason, r) {
		reason += "; " + r
	}
	const max = 1000
	if r := []rune(reason); len(r) > max {
		reason = string(r[:max])
	}
	return reason
}

// checkSteps gives each psr diagnosis step the name shown to operators.
var checkSteps = map[string]string{
	"url": "url", "dns": "dns", "tcp": "tcp", "tls": "tls", "http": "http path",
	"api-key": "api key", "login": "login", "scope": "rights and scope", "lookup": "test lookup",
}

// Check reports each layer between byov and the entry as its own finding.
func (in *instance) Check(ctx context.Context, req sdk.CheckRequest) ([]sdk.Finding, error) {
	var acct *psr.Account
	if !req.TestAccount.IsZero() {
		acct = &psr.Account{Domain: req.TestAccount.Domain, Username: req.TestAccount.Username}
	}
	var out []sdk.Finding
	for _, st := range in.client.Diagnose(ctx, acct) {
		name := checkSteps[st.Name]
		if name == "" {
			name = st.Name
		}
		out = append(out, sdk.Finding{Step: name, OK: st.OK, Message: st.Message, Hint: st.Hint})
	}
	return out, nil
}

// Close ends the Password Secure session.
func (in *instance) Close(ctx context.Context) error {
	if err := in.client.Close(ctx); err != nil {
		// The server expires the session on its own; nothing to act on.
		in.log.Debug("closing the Password Secure session failed", "error", err.Error())
	}
	return nil
}

// kindCodes maps psr failure kinds to the SDK's codes.
var kindCodes = map[psr.Kind]sdk.Code{
	psr.KindInternal:         sdk.CodeInternal,
	psr.KindConfig:           sdk.CodeInvalidConfig,
	psr.KindUnreachable:      sdk.CodeUnavailable,
	psr.KindUnavailable:      sdk.CodeUnavailable,
	psr.KindTLS:              sdk.CodeTLS,
	psr.KindHTTPPath:         sdk.CodeInvalidConfig,
	psr.KindAPIKey:           sdk.CodeUnauthenticated,
	psr.KindExtraRequirement: sdk.CodeUnauthenticated,
	psr.KindPermission:       sdk.CodePermissionDenied,
	psr.KindSealed:           sdk.CodePermissionDenied,
	psr.KindNotFound:         sdk.CodeNotFound,
	psr.KindAmbiguous:        sdk.CodeAmbiguous,
}

// toSDK turns a psr error into an *sdk.Error with the same message and hint.
func toSDK(err error) error {
	if err == nil {
		return nil
	}
	var e *psr.Error
	if !errors.As(err, &e) {
		return sdk.Wrap(err, sdk.CodeInternal, "", err.Error())
	}
	code, ok := kindCodes[e.Kind]
	if !ok {
		code = sdk.CodeInternal
	}
	return sdk.Wrap(err, code, e.Hint, e.Message)
}
