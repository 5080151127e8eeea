package psr

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Access rights of an API key (PsrApiKeyAccessRights, §2). ReadWrite and
// ReadWriteManage include the Read bit.
const (
	RightAudit           = 0
	RightRead            = 1
	RightReadWrite       = 3
	RightReadWriteManage = 7
)

// Access scopes of an API key (PsrApiKeyAccessScopes, §2).
const (
	ScopeNone                = 0
	ScopePasswords           = 1
	ScopeForms               = 2
	ScopeDocuments           = 4
	ScopeOrganisationalUnits = 8
	ScopeRoles               = 16
	ScopeUnrestricted        = 2147483647
)

var rightNames = map[string]int{
	"audit": RightAudit, "read": RightRead, "readwrite": RightReadWrite, "readwritemanage": RightReadWriteManage,
}

var scopeNames = map[string]int{
	"none": ScopeNone, "passwords": ScopePasswords, "forms": ScopeForms, "documents": ScopeDocuments,
	"organisationalunits": ScopeOrganisationalUnits, "roles": ScopeRoles, "unrestricted": ScopeUnrestricted,
}

// APIKey is a parsed Password Secure API key. It never prints its secret
// parts: String and GoString show only the claims, so a key passed to a
// logger by mistake leaks nothing.
type APIKey struct {
	// jwt is sent verbatim as the ApiKeyToken header; privateKey decrypts the
	// user's key at login. Both are secrets.
	jwt        string
	privateKey []byte

	// User is the usrn claim: the Password Secure user the key acts as.
	User string
	// Database is the dbn claim.
	Database  string
	IssuedAt  time.Time
	ExpiresAt time.Time // zero when the key carries no exp claim
	// Rights and Scopes are the acr and acs claims, ORed together.
	Rights, Scopes int
	// RightsText and ScopesText are the claims as the server wrote them.
	RightsText, ScopesText string
}

// String and GoString have value receivers, so that formatting an APIKey
// value, not only a pointer, shows the claims and never the secrets. A nil
// *APIKey formats as <nil>.
func (k APIKey) String() string {
	exp := "no expiry"
	if !k.ExpiresAt.IsZero() {
		exp = "expires " + k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("API key of user %q in database %q (%s; rights %q, scopes %q)", k.User, k.Database, exp, k.RightsText, k.ScopesText)
}

func (k APIKey) GoString() string { return k.String() }

// CanRead reports whether the key's access rights include Read.
func (k *APIKey) CanRead() bool { return k.Rights&RightRead != 0 }

// CanReadPasswords reports whether the key's scope covers password entries.
func (k *APIKey) CanReadPasswords() bool { return k.Scopes&ScopePasswords != 0 }

// Expired reports whether the key's exp claim lies before now.
func (k *APIKey) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

const apiKeyHint = "paste the whole key as Password Secure showed it once at creation: the JWT, a colon, then the base64 private key"

// ParseAPIKey splits and decodes an API key of the form <JWT>:<base64 key>
// (§2). The JWT's signature is not checked: only the server can, and both
// vendor clients do the same. The error never quotes the key.
func ParseAPIKey(s string) (*APIKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, newError(KindAPIKey, nil, "set the service account's secret to the Password Secure API key", "the API key is empty")
	}
	jwt, priv, ok := strings.Cut(s, ":")
	if !ok {
		return nil, newError(KindAPIKey, nil, apiKeyHint, "the API key is malformed: it has no colon between the token and the private key")
	}
	segs := strings.Split(jwt, ".")
	if len(segs) != 3 {
		return nil, newError(KindAPIKey, nil, apiKeyHint, "the API key is malformed: its token has %d dot-separated parts instead of 3", len(segs))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(segs[1], "="))
	if err != nil {
		return nil, newError(KindAPIKey, err, apiKeyHint, "the API key is malformed: its token payload is not base64url")
	}
	var claims struct {
		Usrn string          `json:"usrn"`
		Dbn  string          `json:"dbn"`
		Iat  json.RawMessage `json:"iat"`
		Exp  json.RawMessage `json:"exp"`
		Acr  json.RawMessage `json:"acr"`
		Acs  json.RawMessage `json:"acs"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, newError(KindAPIKey, err, apiKeyHint, "the API key is malformed: its token payload is not a JSON object")
	}
	if claims.Usrn == "" || claims.Dbn == "" {
		return nil, newError(KindAPIKey, nil, apiKeyHint, "the API key is malformed: its token lacks the user (usrn) or database (dbn) claim")
	}
	key := &APIKey{jwt: jwt, User: claims.Usrn, Database: claims.Dbn}
	if key.IssuedAt, err = unixClaim(claims.Iat); err != nil {
		return nil, newError(KindAPIKey, err, apiKeyHint, "the API key is malformed: its iat claim is not a Unix time")
	}
	if key.ExpiresAt, err = unixClaim(claims.Exp); err != nil {
		return nil, newError(KindAPIKey, err, apiKeyHint, "the API key is malformed: its exp claim is not a Unix time")
	}
	if key.Rights, key.RightsText, err = enumClaim(claims.Acr, rightNames); err != nil {
		return nil, newError(KindAPIKey, err, apiKeyHint, "the API key is malformed: its access rights claim (acr): %v", err)
	}
	if key.Scopes, key.ScopesText, err = enumClaim(claims.Acs, scopeNames); err != nil {
		return nil, newError(KindAPIKey, err, apiKeyHint, "the API key is malformed: its access scopes claim (acs): %v", err)
	}
	key.privateKey, err = base64.StdEncoding.DecodeString(strings.TrimSpace(priv))
	if err != nil || len(key.privateKey) == 0 {
		return nil, newError(KindAPIKey, err, apiKeyHint, "the API key is malformed: the part after the colon is not a base64 private key")
	}
	return key, nil
}

// CheckExpiry refuses a key whose exp claim has passed, naming the date, so
// that an expired key never reaches the server (where failed logins may
// count towards a lockout).
func (k *APIKey) CheckExpiry(now time.Time) error {
	if k.Expired(now) {
		return newError(KindAPIKey, nil,
			"create a new API key for the user in Password Secure and put it in the service account's secret",
			"the API key of user %q expired on %s", k.User, k.ExpiresAt.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	return nil
}

// unixClaim reads a NumericDate, which may be an integer or a float.
func unixClaim(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return time.Time{}, err
		}
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return time.Time{}, err
		}
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
}

// enumClaim ORs the enum names of a claim such as "Passwords, Forms". A
// number (or numeric string) is taken as the flags themselves, since a
// server could serialise the enum either way.
func enumClaim(raw json.RawMessage, names map[string]int) (int, string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, "", nil
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n, strconv.Itoa(n), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, "", fmt.Errorf("not a string or number")
	}
	flags := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if v, err := strconv.Atoi(part); err == nil {
			flags |= v
			continue
		}
		// An unknown name (a newer server's enum) grants nothing this
		// client needs, so it is skipped rather than refused.
		flags |= names[strings.ToLower(part)]
	}
	return flags, s, nil
}
