package psemu

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/byov/byov/plugins/passwordsecure/pscrypto"
)

const (
	authResultNS = "PsrAuthenticationObjectLib.Authentication.AuthResult."
	authLib      = ", PsrAuthenticationObjectLib"
)

// jwtClaims are the claims of §2, plus two of the emulator's own: jti names
// the key (for revocation) and apk carries the public half of the key's
// private part, so a key minted by `psemu key create` in another process is
// usable by a running emulator that shares only the signing secret.
type jwtClaims struct {
	Usrn string `json:"usrn"`
	Dbn  string `json:"dbn"`
	Iat  int64  `json:"iat"`
	Exp  int64  `json:"exp"`
	Acr  string `json:"acr"`
	Acs  string `json:"acs"`
	Jti  string `json:"jti"`
	Apk  string `json:"apk"`
}

func (s *Server) signJWT(c jwtClaims) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload, _ := json.Marshal(c)
	signing := head + "." + enc.EncodeToString(payload)
	return signing + "." + enc.EncodeToString(s.mac("jwt", []byte(signing)))
}

func (s *Server) mac(purpose string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(purpose))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write(p)
	}
	return m.Sum(nil)
}

// parseJWT checks the HS256 signature and returns the claims.
func (s *Server) parseJWT(token string) (*jwtClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("the JWT does not have three parts")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.mac("jwt", []byte(parts[0]+"."+parts[1]))) {
		return nil, fmt.Errorf("the JWT signature is not the emulator's")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("the JWT payload is not base64url")
	}
	var c jwtClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("the JWT payload is not JSON")
	}
	return &c, nil
}

// CreateAPIKey issues an API key for user, in the `<JWT>:<base64 private
// key>` form of §2, as the Password Secure UI shows it once. rights and scopes
// are enum names joined by ", " ("Read", "Passwords, Forms"); expiry is the
// lifetime from now (0 means one year; negative gives an already expired key).
func (s *Server) CreateAPIKey(user, rights, scopes string, expiry time.Duration) (string, error) {
	acr, err := parseFlags(rights, accessRightNames)
	if err != nil {
		return "", fmt.Errorf("the access rights are not valid: %w", err)
	}
	acs, err := parseFlags(scopes, accessScopeNames)
	if err != nil {
		return "", fmt.Errorf("the access scopes are not valid: %w", err)
	}
	s.mu.Lock()
	u := s.userByName(user)
	s.mu.Unlock()
	if u == nil {
		return "", fmt.Errorf("there is no user %q in the emulator; add it first", user)
	}
	priv, pub, err := pscrypto.GenerateECCKey()
	if err != nil {
		return "", fmt.Errorf("generating the API key pair: %w", err)
	}
	if expiry == 0 {
		expiry = 365 * 24 * time.Hour
	}
	now := time.Now()
	c := jwtClaims{Usrn: u.name, Dbn: s.database, Iat: now.Unix(), Exp: now.Add(expiry).Unix(),
		Acr: rights, Acs: scopes, Jti: newGUID(), Apk: base64.StdEncoding.EncodeToString(pub)}
	jwt := s.signJWT(c)
	s.mu.Lock()
	s.keys[c.Jti] = &apiKey{id: c.Jti, userID: u.id, pub: pub, rights: acr, scopes: acs, expires: time.Unix(c.Exp, 0), jwt: jwt}
	s.mu.Unlock()
	return jwt + ":" + base64.StdEncoding.EncodeToString(priv), nil
}

// RevokeAPIKey revokes a key given as the full key string or its JWT part.
// Logins with it then fail; sessions already open stay valid, as they hold
// their own session key.
func (s *Server) RevokeAPIKey(key string) error {
	jwt, _, _ := strings.Cut(key, ":")
	c, err := s.parseJWT(jwt)
	if err != nil {
		return fmt.Errorf("the key to revoke is not one this emulator issued: %w", err)
	}
	s.mu.Lock()
	s.revoked[c.Jti] = true
	s.mu.Unlock()
	return nil
}

// keyFor finds or, for keys minted elsewhere with the same secret, registers
// the key record. Call with s.mu held.
func (s *Server) keyFor(c *jwtClaims, jwt string) (*apiKey, error) {
	if k, ok := s.keys[c.Jti]; ok && c.Jti != "" {
		return k, nil
	}
	u := s.userByName(c.Usrn)
	pub, err := base64.StdEncoding.DecodeString(c.Apk)
	if u == nil || err != nil || pscrypto.KindOf(pub) != pscrypto.KeyECCPublic {
		return nil, fmt.Errorf("the key names an unknown user or carries no public key")
	}
	acr, err1 := parseFlags(c.Acr, accessRightNames)
	acs, err2 := parseFlags(c.Acs, accessScopeNames)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("the key's access claims are not valid")
	}
	k := &apiKey{id: c.Jti, userID: u.id, pub: pub, rights: acr, scopes: acs, expires: time.Unix(c.Exp, 0), jwt: jwt}
	s.keys[c.Jti] = k
	return k, nil
}

func (s *Server) userByName(name string) *legitimate {
	for _, u := range s.users {
		if strings.EqualFold(u.name, name) {
			return u
		}
	}
	return nil
}

func (s *Server) roleByName(name string) *legitimate {
	for _, r := range s.roles {
		if strings.EqualFold(r.name, name) {
			return r
		}
	}
	return nil
}

func (s *Server) loginFailed() map[string]any {
	return map[string]any{"$type": s.typeName(authResultNS + "AuthenticationResultLoginFailed" + authLib), "LoginLock": nil, "IsCompleted": false}
}

type credentialRequest struct {
	Credential struct {
		JSONWebToken              string `json:"JsonWebToken"`
		UserKeyChallengeSignature string `json:"UserKeyChallengeSignature"`
		Challenge                 string `json:"Challenge"`
		ChallengeSignature        string `json:"ChallengeSignature"`
		Database                  string `json:"Database"`
		Username                  string `json:"Username"`
		SessionID                 string `json:"SessionId"`
	} `json:"credential"`
}

func (s *Server) authenticateAPIKey(body []byte) (any, error) {
	var req credentialRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fail(excNone, "Malformed API key")
	}
	jwt := req.Credential.JSONWebToken
	c, err := s.parseJWT(jwt)
	if err != nil || c.Dbn != s.database {
		return nil, fail(excNone, "Malformed API key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.keyFor(c, jwt)
	if err != nil || s.revoked[k.id] || !time.Now().Before(k.expires) {
		return s.loginFailed(), nil
	}
	u := s.users[k.userID]
	if u == nil {
		return s.loginFailed(), nil
	}
	sessionID := newGUID()
	if s.extraReq || u.pendingReq {
		return map[string]any{
			"$type":     s.typeName(authResultNS + "PossibleAuthCredentialRequirements" + authLib),
			"SessionId": sessionID, "PossibleAuthenticationCredentialRequirements": []any{}, "IsCompleted": false,
		}, nil
	}
	userKey, err := pscrypto.EncryptWithPublicKey(k.pub, u.priv)
	if err != nil {
		return nil, fmt.Errorf("the emulator cannot wrap the user key: %w", err)
	}
	challenge := make([]byte, 32)
	rand.Read(challenge)
	p := &pendingLogin{challenge: challenge, keyID: k.id, userID: u.id, created: time.Now()}
	p.challengeSig = s.mac("challenge", []byte(sessionID), challenge)
	s.pending[sessionID] = p
	b64 := base64.StdEncoding.EncodeToString
	return map[string]any{
		"$type":              s.typeName(authResultNS + "AuthenticationUserKeySignatureRequirement" + authLib),
		"Challenge":          b64(challenge),
		"ChallengeSignature": b64(p.challengeSig),
		"SessionId":          sessionID,
		"EncryptionVersion":  1,
		"UserKey":            b64(userKey),
		"UserName":           u.name,
		"IsCompleted":        false,
	}, nil
}

func (s *Server) authenticateSignature(body []byte) (any, error) {
	var req credentialRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return s.loginFailed(), nil
	}
	cr := req.Credential
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[cr.SessionID]
	delete(s.pending, cr.SessionID) // single use, whatever the outcome
	if !ok || time.Since(p.created) > 5*time.Minute {
		return s.loginFailed(), nil
	}
	dec := base64.StdEncoding.DecodeString
	challenge, err1 := dec(cr.Challenge)
	chSig, err2 := dec(cr.ChallengeSignature)
	userSig, err3 := dec(cr.UserKeyChallengeSignature)
	k, u := s.keys[p.keyID], s.users[p.userID]
	if err1 != nil || err2 != nil || err3 != nil || k == nil || u == nil ||
		subtle.ConstantTimeCompare(challenge, p.challenge) != 1 ||
		!hmac.Equal(chSig, s.mac("challenge", []byte(cr.SessionID), challenge)) ||
		cr.Database != s.database || !strings.EqualFold(cr.Username, u.name) ||
		s.revoked[k.id] || !time.Now().Before(k.expires) {
		return s.loginFailed(), nil
	}
	if err := pscrypto.Verify(u.pub, challenge, userSig); err != nil {
		return s.loginFailed(), nil
	}
	se := &session{id: cr.SessionID, key: randomToken(32), userID: u.id, database: s.database, jwt: k.jwt, keyID: k.id}
	if s.ttl > 0 {
		se.expires = time.Now().Add(s.ttl)
	}
	s.sessions[se.id] = se
	roleKeys := map[string]any{"$type": "System.Collections.Generic.Dictionary`2[[System.Guid, mscorlib],[System.String, mscorlib]], mscorlib"}
	for _, rid := range u.roleIDs {
		r := s.roles[rid]
		if r == nil {
			continue
		}
		wrapped, err := pscrypto.EncryptWithPublicKey(u.pub, r.priv)
		if err != nil {
			return nil, fmt.Errorf("the emulator cannot wrap a role key: %w", err)
		}
		roleKeys[r.id] = base64.StdEncoding.EncodeToString(wrapped)
	}
	return map[string]any{
		"$type":                 s.typeName(authResultNS + "AuthenticationResultCompleted" + authLib),
		"UserId":                u.id,
		"SessionId":             se.id,
		"SessionKey":            se.key,
		"Database":              s.database,
		"EncryptedRoleRightKey": roleKeys,
		"IsCompleted":           true,
	}, nil
}

// checkSession validates the §1.5 headers; any failure is a 401 with an
// empty body.
func (s *Server) checkSession(r *http.Request) (*session, error) {
	raw, err := base64.StdEncoding.DecodeString(r.Header.Get("token2"))
	if err != nil {
		return nil, errUnauthorized
	}
	var tok struct{ Database, SessionId, SessionKey string }
	if json.Unmarshal(raw, &tok) != nil {
		return nil, errUnauthorized
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.sessions[tok.SessionId]
	if !ok || subtle.ConstantTimeCompare([]byte(tok.SessionKey), []byte(se.key)) != 1 ||
		tok.Database != se.database || r.Header.Get("ApiKeyToken") != se.jwt {
		return nil, errUnauthorized
	}
	if !se.expires.IsZero() && !time.Now().Before(se.expires) {
		delete(s.sessions, se.id)
		return nil, errUnauthorized
	}
	return se, nil
}

func (s *Server) closeSession(r *http.Request) {
	se, err := s.checkSession(r)
	if err != nil {
		return
	}
	s.mu.Lock()
	delete(s.sessions, se.id)
	s.mu.Unlock()
}
