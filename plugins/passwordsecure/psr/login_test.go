package psr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/byov/byov/plugins/passwordsecure/pscrypto"
)

// fakeLogin is a server that answers the two login steps with fixed
// results, for the corners of §3.5 the emulator does not produce.
type fakeLogin struct {
	step1, step2 map[string]any
}

const fakeTypeNS = "PsrAuthenticationObjectLib.Authentication.AuthResult."

func completed() map[string]any {
	return map[string]any{"$type": fakeTypeNS + "AuthenticationResultCompleted, PsrAuthenticationObjectLib",
		"IsCompleted": true, "SessionId": "sid", "SessionKey": "skey", "UserId": "uid", "Database": "byov"}
}

func (f *fakeLogin) client(t *testing.T) *Client {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v any
		switch {
		case strings.HasSuffix(r.URL.Path, "/Auth/AuthenticateApiKey"):
			v = f.step1
		case strings.HasSuffix(r.URL.Path, "/Auth/AuthenticateUserKeySignatureCredential"):
			v = f.step2
		case strings.HasSuffix(r.URL.Path, "/WebService/CloseSession"):
			return
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(srv.Close)
	priv, _, err := pscrypto.GenerateECCKey()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{BaseURL: srv.URL + "/api", Transport: srv.Client().Transport, MaxAttempts: 1,
		APIKey: fakeKey(t, map[string]any{"usrn": "api", "dbn": "byov", "acr": "Read", "acs": "Passwords"}, priv)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The keyring's user key must be a copy when it is the API key's own private
// key (no UserKey, or no signature step): forgetting a session must not wipe
// the key the next login needs.
func TestForgetKeepsTheAPIKeysPrivateKey(t *testing.T) {
	requirement := map[string]any{"$type": fakeTypeNS + "AuthenticationUserKeySignatureRequirement, PsrAuthenticationObjectLib",
		"Challenge": base64.StdEncoding.EncodeToString([]byte("challenge")), "ChallengeSignature": "c2ln", "SessionId": "sid", "UserKey": nil}
	for name, f := range map[string]*fakeLogin{
		"step 1 completes": {step1: completed()},
		"no user key":      {step1: requirement, step2: completed()},
	} {
		t.Run(name, func(t *testing.T) {
			c := f.client(t)
			// Each Login forgets the session it replaces; Close the last.
			for i := 0; i < 3; i++ {
				if err := c.Login(context.Background()); err != nil {
					t.Fatalf("login %d: %v", i+1, err)
				}
				if pscrypto.KindOf(c.key.privateKey) != pscrypto.KeyECCPrivate {
					t.Fatalf("forgetting session %d wiped the API key's private key", i)
				}
			}
			if err := c.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if pscrypto.KindOf(c.key.privateKey) != pscrypto.KeyECCPrivate {
				t.Fatal("closing the last session wiped the API key's private key")
			}
		})
	}
}

// A user key sent in a password chain is refused from its first byte: the
// client never runs a password derivation on key material a server chose.
func TestUserKeyInAPasswordChainIsRefused(t *testing.T) {
	blob, err := pscrypto.EncryptChain(pscrypto.ChainPasswordGCM, []byte("password"), []byte("not a key"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeLogin{step1: map[string]any{"$type": fakeTypeNS + "AuthenticationUserKeySignatureRequirement, PsrAuthenticationObjectLib",
		"Challenge": "Y2g=", "ChallengeSignature": "c2ln", "SessionId": "sid", "UserKey": base64.StdEncoding.EncodeToString(blob)}}
	c := f.client(t)
	err = c.Login(context.Background())
	if KindOf(err) != KindAPIKey || !errors.Is(err, pscrypto.ErrKeyKind) {
		t.Fatalf("login with a password-chain user key: %v, want an API-key error wrapping ErrKeyKind", err)
	}
}

// A long LoginLock is cut by runes, so the message stays valid UTF-8.
func TestLoginLockIsCutByRunes(t *testing.T) {
	lock, _ := json.Marshal(strings.Repeat("é", maxServerMessageRunes+10))
	f := &fakeLogin{step1: map[string]any{"$type": fakeTypeNS + "AuthenticationResultLoginFailed, PsrAuthenticationObjectLib",
		"IsCompleted": false, "LoginLock": json.RawMessage(lock)}}
	c := f.client(t)
	err := c.Login(context.Background())
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "login lock") {
		t.Fatalf("login: %v", err)
	}
	if !utf8.ValidString(e.Message) || !strings.HasSuffix(e.Message, "…") {
		t.Errorf("the login lock was not cut at a rune boundary: %q", e.Message)
	}
}
