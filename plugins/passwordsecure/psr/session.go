package psr

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byov/byov/plugins/passwordsecure/pscrypto"
)

// session is a logged-in server session and the keyring it unlocked (§3.5).
type session struct {
	userID string
	// token2 is the ready-made header value (§1.5); it holds the session key.
	token2 string
	// ended is set by the first endSession, so a session is closed once.
	ended atomic.Bool

	// mu guards keys, which maps a legitimate (user or role) id, in lower
	// case, to its private key bytes; nil once forgotten. A session can be
	// forgotten while a lookup still holds it (Login replaces sessions).
	mu   sync.RWMutex
	keys map[string][]byte
}

// forget overwrites the private keys, so that a closed session does not
// leave them in memory longer than the garbage collector would.
func (s *session) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		clear(k)
	}
	s.keys = nil
}

// forgotten reports whether forget has run.
func (s *session) forgotten() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys == nil
}

// holds reports whether the keyring has the key of a user or role.
func (s *session) holds(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.keys[strings.ToLower(id)]
	return ok
}

// decrypt decrypts key material with the key of a user or role.
func (s *session) decrypt(id string, blob []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[strings.ToLower(id)]
	if !ok {
		return nil, errors.New("the keyring holds no key for this legitimate")
	}
	return pscrypto.DecryptWithKey(k, blob)
}

// clientInformation is the ClientInformation object of both login requests
// (§3.1); ClientMacAdress is the vendor's spelling.
type clientInformation struct {
	ClientComputerName *string
	ClientUser         *string
	ClientType         string
	ClientVersion      string
	ClientMacAdress    *string
	ClientInstanceId   string //nolint:revive // wire name
	OS                 *string
	Browser            *string
}

type apiKeyCredential struct {
	AuthType               int    `json:"AuthType"`
	Type                   string `json:"$type"`
	JsonWebToken           string //nolint:revive // wire name
	RequiredFieldsFromUser struct {
		AuthenticationFields struct{} `json:"AuthenticationFields"`
	}
	Database          *string
	Username          *string
	SessionId         *string //nolint:revive // wire name
	OperationMode     int
	ClientInformation clientInformation
}

type userKeySignatureCredential struct {
	Type                      string `json:"$type"`
	UserKeyChallengeSignature string
	Challenge                 string
	ChallengeSignature        string
	Database                  string
	Username                  string
	SessionId                 string //nolint:revive // wire name
	OperationMode             int
	ClientInformation         clientInformation
}

// authResult holds the fields of every answer either login step can give
// (§3.2, §3.5, §3.6); $type says which one it is.
type authResult struct {
	Type                  string `json:"$type"`
	Challenge             string
	ChallengeSignature    string
	SessionId             string //nolint:revive // wire name
	EncryptionVersion     int
	UserKey               *string
	UserId                string //nolint:revive // wire name
	SessionKey            string
	Database              string
	IsCompleted           bool
	EncryptedRoleRightKey map[string]json.RawMessage
	LoginLock             json.RawMessage
}

func (r *authResult) is(name string) bool { return strings.Contains(r.Type, name) }

const (
	authAPIKey           = "Auth/AuthenticateApiKey"
	authUserKeySignature = "Auth/AuthenticateUserKeySignatureCredential"
	apiKeyAuthType       = 14
)

// currentSession returns the live session, logging in when there is none.
func (c *Client) currentSession(ctx context.Context) (*session, error) {
	c.sessMu.Lock()
	s := c.sess
	c.sessMu.Unlock()
	if s != nil {
		return s, nil
	}
	return c.relogin(ctx, nil)
}

// loginCall is a login in progress; callers that arrive while it runs wait
// for it and share its result, error included.
type loginCall struct {
	done chan struct{}
	s    *session
	err  error
	// abandoned is set when the login failed because its caller's context
	// ended: that says nothing about the key, so a waiter tries again.
	abandoned bool
}

// relogin replaces the session stale (nil: none yet) with a new one. Callers
// that saw the same stale session, or that arrive while a login runs, share
// one login and its outcome instead of each starting their own: N concurrent
// checkouts with a revoked key cost one failed login, not N (failed logins
// may lock the user).
func (c *Client) relogin(ctx context.Context, stale *session) (*session, error) {
	for {
		c.sessMu.Lock()
		if c.closed {
			c.sessMu.Unlock()
			return nil, errClosed()
		}
		if cur := c.sess; cur != nil && cur != stale {
			c.sessMu.Unlock()
			return cur, nil // someone else logged in meanwhile
		}
		if lc := c.loginCall; lc != nil {
			c.sessMu.Unlock()
			select {
			case <-lc.done:
			case <-ctx.Done():
				return nil, newError(KindUnavailable, ctx.Err(), "", "waiting for the login to Password Secure was abandoned: %v", ctx.Err())
			}
			if lc.abandoned && ctx.Err() == nil {
				continue
			}
			return lc.s, lc.err
		}
		lc := &loginCall{done: make(chan struct{})}
		c.loginCall = lc
		c.sessMu.Unlock()

		s, err := c.login(ctx)
		c.sessMu.Lock()
		c.loginCall = nil
		var orphan *session
		switch {
		case err == nil && c.closed:
			// Close ran during the login: the session must not outlive it.
			orphan, s, err = s, nil, errClosed()
		case err == nil:
			c.sess = s
		}
		lc.s, lc.err, lc.abandoned = s, err, err != nil && ctx.Err() != nil
		c.sessMu.Unlock()
		close(lc.done)
		if orphan != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
			c.endSession(cctx, orphan)
			cancel()
		}
		return s, err
	}
}

// dropSession forgets s if it is still the current session.
func (c *Client) dropSession(s *session) {
	c.sessMu.Lock()
	if c.sess == s {
		c.sess = nil
	}
	c.sessMu.Unlock()
}

// Login logs in now, replacing any session the client holds, which it
// closes on the server and forgets. Check uses it; checkouts log in on their
// own when they need to.
func (c *Client) Login(ctx context.Context) error {
	c.sessMu.Lock()
	stale := c.sess
	c.sessMu.Unlock()
	s, err := c.relogin(ctx, stale)
	if err != nil {
		return err
	}
	if stale != nil && s != stale {
		c.endSession(ctx, stale)
	}
	return nil
}

// endSession closes s on the server (CloseSession) and forgets its keys,
// once however often it is called. CloseSession answers with an empty body;
// a failure only means the session lingers until the server expires it.
func (c *Client) endSession(ctx context.Context, s *session) error {
	if !s.ended.CompareAndSwap(false, true) {
		return nil
	}
	defer s.forget()
	_, err := c.roundTrip(ctx, http.MethodGet, "WebService/CloseSession", nil, s)
	if err != nil {
		c.log.Debug("closing the Password Secure session failed; the server will expire it", "error", err)
	}
	return err
}

// login runs the two-step API-key login (§3) and builds the keyring.
func (c *Client) login(ctx context.Context) (*session, error) {
	if c.keyErr != nil {
		return nil, c.keyErr
	}
	k := c.key
	if err := k.CheckExpiry(time.Now()); err != nil {
		return nil, err
	}
	info := clientInformation{ClientType: c.opts.ClientType, ClientVersion: c.opts.ClientVersion, ClientInstanceId: c.instanceID}

	cred := apiKeyCredential{AuthType: apiKeyAuthType, Type: "AuthenticationApiKeyCredential", JsonWebToken: k.jwt, ClientInformation: info}
	data, err := c.roundTrip(ctx, http.MethodPost, authAPIKey, map[string]any{"credential": cred}, nil)
	if err != nil {
		return nil, c.loginError(err)
	}
	var step1 authResult
	if err := decodeJSON(authAPIKey, data, &step1); err != nil {
		return nil, err
	}
	// userPriv is the API key's own private key unless the server sends a
	// UserKey for it to unlock.
	userPriv, ownKey := k.privateKey, true
	final := &step1
	switch {
	case step1.is("AuthenticationResultCompleted") || step1.IsCompleted:
		// The server skipped the signature step (§3.5, last line).
	case step1.is("AuthenticationUserKeySignatureRequirement"):
		if step1.UserKey != nil && *step1.UserKey != "" {
			blob, err := base64.StdEncoding.DecodeString(*step1.UserKey)
			if err != nil {
				return nil, newError(KindInternal, err, "", "the server sent a user key that is not base64")
			}
			if userPriv, err = pscrypto.DecryptWithKey(k.privateKey, blob); err != nil {
				return nil, newError(KindAPIKey, err,
					"the private part of the API key does not match its token; paste the key exactly as Password Secure showed it, or create a new one",
					"the API key's private key cannot unlock the key of user %q", k.User)
			}
			ownKey = false
		}
		challenge, err := base64.StdEncoding.DecodeString(step1.Challenge)
		if err != nil {
			return nil, newError(KindInternal, err, "", "the server sent a login challenge that is not base64")
		}
		sig, err := pscrypto.Sign(userPriv, challenge)
		if err != nil {
			return nil, newError(KindAPIKey, err, "create a new API key; this one carries a key this client cannot sign with",
				"signing the login challenge with the key of user %q failed: %v", k.User, err)
		}
		cred2 := userKeySignatureCredential{
			Type:                      "AuthenticationUserKeySignatureCredential",
			UserKeyChallengeSignature: base64.StdEncoding.EncodeToString(sig),
			Challenge:                 step1.Challenge,
			ChallengeSignature:        step1.ChallengeSignature,
			Database:                  k.Database,
			Username:                  k.User,
			SessionId:                 step1.SessionId,
			ClientInformation:         info,
		}
		data, err := c.roundTrip(ctx, http.MethodPost, authUserKeySignature, map[string]any{"credential": cred2}, nil)
		if err != nil {
			return nil, c.loginError(err)
		}
		var step2 authResult
		if err := decodeJSON(authUserKeySignature, data, &step2); err != nil {
			return nil, err
		}
		if !step2.is("AuthenticationResultCompleted") && !step2.IsCompleted {
			return nil, c.unexpectedAuth(&step2)
		}
		final = &step2
	default:
		return nil, c.unexpectedAuth(&step1)
	}
	if final.SessionId == "" || final.SessionKey == "" || final.UserId == "" {
		return nil, newError(KindInternal, nil, "check that the server's version is supported", "the login completed without a session id, session key or user id")
	}
	db := final.Database
	if db == "" {
		db = k.Database
	}
	s := &session{userID: final.UserId, keys: map[string][]byte{}}
	tok, _ := json.Marshal(struct {
		Database   string
		SessionId  string //nolint:revive // wire name
		SessionKey string
	}{db, final.SessionId, final.SessionKey})
	s.token2 = base64.StdEncoding.EncodeToString(tok)

	skipped := 0
	for roleID, raw := range final.EncryptedRoleRightKey {
		if roleID == "$type" {
			continue
		}
		var enc string
		if json.Unmarshal(raw, &enc) != nil {
			skipped++
			continue
		}
		blob, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			skipped++
			continue
		}
		// A role key that does not decrypt only costs the entries shared
		// through that role; the vendor clients skip it too.
		roleKey, err := pscrypto.DecryptWithKey(userPriv, blob)
		if err != nil {
			skipped++
			continue
		}
		s.keys[strings.ToLower(roleID)] = roleKey
	}
	if ownKey {
		// forget() wipes the keyring; it must not wipe the API key, which
		// the next login needs.
		userPriv = bytes.Clone(userPriv)
	}
	s.keys[strings.ToLower(final.UserId)] = userPriv
	c.logins.Add(1)
	c.log.Debug("logged in to Password Secure", "user", k.User, "database", db, "roles", len(s.keys)-1, "roles_skipped", skipped)
	return s, nil
}

// loginError words an HTTP failure of a login step. A 401, 403 or 500 at
// this point is the server rejecting the key (§3.6).
func (c *Client) loginError(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case e.status == http.StatusUnauthorized || e.status == http.StatusForbidden || e.status == http.StatusInternalServerError:
		return &Error{Kind: KindAPIKey, status: e.status, cause: err,
			Message: "Password Secure rejected the API key of user " + quote(c.key.User) + ": " + e.Message,
			Hint:    "the key may be revoked, belong to another database, or have been mistyped; create a new API key and update the service account's secret"}
	}
	return err
}

// unexpectedAuth explains a login answer that is not a success.
func (c *Client) unexpectedAuth(r *authResult) error {
	user := quote(c.key.User)
	switch {
	case r.is("LoginFailed"):
		msg := "Password Secure rejected the login of user " + user + " with the API key (LoginFailed)"
		if lock := strings.TrimSpace(string(r.LoginLock)); lock != "" && lock != "null" {
			if r := []rune(lock); len(r) > maxServerMessageRunes {
				lock = string(r[:maxServerMessageRunes]) + "…"
			}
			msg += "; login lock: " + lock
		}
		return newError(KindAPIKey, nil,
			"the key may be revoked, expired on the server or locked after failed logins; create a new API key, and do not retry in a loop (failed logins lock the user)", "%s", msg)
	case r.is("PossibleAuthCredentialRequirements") || r.is("PossibleAuthConfigurationRequirements"):
		kind := "another login requirement"
		if r.is("Configuration") {
			kind = "a pending configuration"
		}
		return newError(KindExtraRequirement, nil,
			"the key's user has multi-factor authentication enforced or a pending setup (such as a first-login password change), which an API key cannot satisfy; use a dedicated API user without MFA and finish its setup by logging in once interactively",
			"Password Secure asks user %s for %s (%s) that an API key cannot satisfy", user, kind, shortType(r.Type))
	}
	t := shortType(r.Type)
	if t == "" {
		t = "an answer without $type"
	}
	return newError(KindAPIKey, nil, "check that the server's Password Secure version supports API keys",
		"Password Secure answered the login of user %s with %s instead of completing it", user, t)
}

// shortType reduces "Ns.Class, Assembly" to "Class".
func shortType(t string) string {
	t, _, _ = strings.Cut(t, ",")
	if i := strings.LastIndex(t, "."); i >= 0 {
		t = t[i+1:]
	}
	return strings.TrimSpace(t)
}

func quote(s string) string { return `"` + s + `"` }
