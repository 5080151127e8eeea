package psemu

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/byov/byov/plugins/passwordsecure/pscrypto"
)

// testClient is a minimal Password Secure client built from pscrypto and the
// protocol text, independent of the real client (psr), so the emulator is
// checked against the protocol and not against its own consumer.
type testClient struct {
	t    *testing.T
	base string
	http *http.Client
}

type testSession struct {
	jwt, db, userID, sessionID, sessionKey string
	keyring                                map[string][]byte
}

func startServer(t *testing.T, opts Options) (*Server, *testClient) {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CACertPEM()) {
		t.Fatal("CACertPEM is not a PEM certificate")
	}
	return srv, &testClient{t: t, base: srv.URL(), http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

// do sends a request and returns the status and the body without a BOM.
func (c *testClient) do(method, path string, body any, se *testSession) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if se != nil {
		tok, _ := json.Marshal(map[string]string{"Database": se.db, "SessionId": se.sessionID, "SessionKey": se.sessionKey})
		req.Header.Set("token2", base64.StdEncoding.EncodeToString(tok))
		req.Header.Set("ApiKeyToken", se.jwt)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
}

func (c *testClient) post(path string, body any, se *testSession, out any) int {
	c.t.Helper()
	status, b := c.do(http.MethodPost, path, body, se)
	if out != nil && status == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("POST %s: response is not JSON: %v", path, err)
		}
	}
	return status
}

func jwtClaimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("the JWT has %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// step1 sends AuthenticateApiKey in the full C# shape or the JS shape (§3.1).
func (c *testClient) step1(jwt string, full bool) map[string]any {
	c.t.Helper()
	cred := map[string]any{"JsonWebToken": jwt, "ClientInformation": map[string]any{"ClientType": "psemu-test", "ClientVersion": "1.0.0"}}
	if full {
		cred = map[string]any{"AuthType": 14, "$type": "AuthenticationApiKeyCredential", "JsonWebToken": jwt,
			"RequiredFieldsFromUser": map[string]any{"AuthenticationFields": map[string]any{}}, "Database": nil, "Username": nil,
			"SessionId": nil, "OperationMode": 0, "ClientInformation": map[string]any{"ClientComputerName": nil, "ClientUser": nil,
				"ClientType": "psemu-test", "ClientVersion": "1.0.0", "ClientMacAdress": nil, "ClientInstanceId": newGUID(), "OS": nil, "Browser": nil}}
	}
	var r map[string]any
	if st := c.post("Auth/AuthenticateApiKey", map[string]any{"credential": cred}, nil, &r); st != 200 {
		c.t.Fatalf("AuthenticateApiKey: status %d", st)
	}
	return r
}

// login runs §3 and builds the keyring; it fails the test unless it completes.
func (c *testClient) login(apiKey string, full bool) *testSession {
	c.t.Helper()
	se, typ := c.tryLogin(apiKey, full, nil)
	if se == nil {
		c.t.Fatalf("login ended with %s", typ)
	}
	return se
}

// tryLogin returns the session, or nil and the $type of the final answer.
// tamper, if set, alters step 2's credential.
func (c *testClient) tryLogin(apiKey string, full bool, tamper func(map[string]any)) (*testSession, string) {
	c.t.Helper()
	jwt, privB64, ok := strings.Cut(apiKey, ":")
	if !ok {
		c.t.Fatal("the API key has no ':'")
	}
	apiPriv, err := base64.StdEncoding.DecodeString(privB64)
	if err != nil {
		c.t.Fatal(err)
	}
	claims := jwtClaimsOf(c.t, jwt)
	r1 := c.step1(jwt, full)
	typ, _ := r1["$type"].(string)
	if !strings.Contains(typ, "AuthenticationUserKeySignatureRequirement") {
		return nil, typ
	}
	userKey, _ := base64.StdEncoding.DecodeString(r1["UserKey"].(string))
	userPriv, err := pscrypto.Decrypt(apiPriv, userKey)
	if err != nil {
		c.t.Fatalf("decrypting UserKey: %v", err)
	}
	challenge, _ := base64.StdEncoding.DecodeString(r1["Challenge"].(string))
	sig, err := pscrypto.Sign(userPriv, challenge)
	if err != nil {
		c.t.Fatal(err)
	}
	cred := map[string]any{"$type": "AuthenticationUserKeySignatureCredential",
		"UserKeyChallengeSignature": base64.StdEncoding.EncodeToString(sig), "Challenge": r1["Challenge"],
		"ChallengeSignature": r1["ChallengeSignature"], "Database": claims["dbn"], "Username": claims["usrn"],
		"SessionId": r1["SessionId"], "OperationMode": 0, "ClientInformation": map[string]any{"ClientType": "psemu-test"}}
	if tamper != nil {
		tamper(cred)
	}
	var r2 map[string]any
	if st := c.post("Auth/AuthenticateUserKeySignatureCredential", map[string]any{"credential": cred}, nil, &r2); st != 200 {
		c.t.Fatalf("AuthenticateUserKeySignatureCredential: status %d", st)
	}
	typ, _ = r2["$type"].(string)
	if !strings.Contains(typ, "AuthenticationResultCompleted") {
		return nil, typ
	}
	se := &testSession{jwt: jwt, db: claims["dbn"].(string), userID: r2["UserId"].(string),
		sessionID: r2["SessionId"].(string), sessionKey: r2["SessionKey"].(string), keyring: map[string][]byte{}}
	se.keyring[se.userID] = userPriv
	roleKeys, _ := r2["EncryptedRoleRightKey"].(map[string]any)
	if _, ok := roleKeys["$type"]; !ok {
		c.t.Error("EncryptedRoleRightKey has no $type entry")
	}
	for id, v := range roleKeys {
		if id == "$type" {
			continue
		}
		ct, _ := base64.StdEncoding.DecodeString(v.(string))
		k, err := pscrypto.Decrypt(userPriv, ct)
		if err != nil {
			c.t.Fatalf("decrypting the key of role %s: %v", id, err)
		}
		se.keyring[id] = k
	}
	return se, typ
}

func (c *testClient) search(se *testSession, text string, exact bool) []map[string]any {
	c.t.Helper()
	var filter map[string]any
	if st := c.post("WebService/GetContainerListFilter", map[string]any{"containerType": 0, "defaultFilter": true}, se, &filter); st != 200 {
		c.t.Fatalf("GetContainerListFilter: status %d", st)
	}
	group := filter["FilterGroups"].([]any)[0].(map[string]any)
	so := group["SearchList"].([]any)[0].(map[string]any)
	so["Search"], so["FilterActive"], so["ExactSearch"] = text, true, exact
	var list []map[string]any
	if st := c.post("WebService/GetContainerList", map[string]any{"containerType": 0, "filter": filter, "behaviours": nil}, se, &list); st != 200 {
		c.t.Fatalf("GetContainerList: status %d", st)
	}
	return list
}

func itemOf(c map[string]any, name string) map[string]any {
	for _, it := range c["Items"].([]any) {
		m := it.(map[string]any)
		if m["Name"] == name {
			return m
		}
	}
	return nil
}

// readPassword follows §5: rights, item key, secret value. It returns the
// password, or the HTTP status and ExceptionCode of the failing call.
func (c *testClient) readPassword(se *testSession, cont map[string]any, reason string) (string, int, int) {
	c.t.Helper()
	pw := itemOf(cont, "Password")
	var rights []map[string]any
	if st := c.post("WebService/GetLegitimateDataRights", map[string]any{"dataId": pw["Id"], "checkRights": false, "showDeletedNames": false}, se, &rights); st != 200 {
		return "", st, 0
	}
	var itemKey []byte
	for _, r := range rights {
		k, inRing := se.keyring[r["LegitimateId"].(string)]
		rk, _ := r["RightKey"].(string)
		if !inRing || rk == "" || r["SealId"] != nil {
			continue
		}
		ct, _ := base64.StdEncoding.DecodeString(rk)
		key, err := pscrypto.Decrypt(k, ct)
		if err != nil {
			c.t.Fatalf("decrypting RightKey: %v", err)
		}
		itemKey = key
		break
	}
	status, body := c.do(http.MethodPost, "WebService/GetContainerItemWithSecretValue", map[string]any{"itemId": pw["Id"], "reason": reason}, se)
	if status != 200 {
		var e struct{ ExceptionCode int }
		json.Unmarshal(body, &e)
		return "", status, e.ExceptionCode
	}
	if itemKey == nil {
		c.t.Fatal("the server revealed a secret but no right key was usable")
	}
	var it map[string]any
	if err := json.Unmarshal(body, &it); err != nil {
		c.t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(it["Value"].(string))
	pt, err := pscrypto.Decrypt(itemKey, ct)
	if err != nil {
		c.t.Fatalf("decrypting the value: %v", err)
	}
	return string(pt), 200, 0
}
