package psemu

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/byov/byov/plugins/passwordsecure/pscrypto"
)

// Enum values of PROTOCOL.md §2 and §4.1.
const (
	rightRead = 1 // PsrRights.Read

	accessRead            = 1 // PsrApiKeyAccessRights.Read
	scopePasswords        = 1 // PsrApiKeyAccessScopes.Passwords
	containerTypePassword = 0
	containerTypeForm     = 1
	dataStateActive       = 1
	dataStateDeleted      = 4

	itemText     = 0
	itemPassword = 1
	itemUserName = 13
)

var accessRightNames = map[string]int{"audit": 0, "read": 1, "readwrite": 3, "readwritemanage": 7}
var accessScopeNames = map[string]int{"none": 0, "passwords": 1, "forms": 2, "documents": 4,
	"organisationalunits": 8, "roles": 16, "unrestricted": 2147483647}

// parseFlags ORs enum names joined by ", " (the JWT acr/acs claims, §2).
func parseFlags(s string, names map[string]int) (int, error) {
	v := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if part == "" {
			continue
		}
		n, ok := names[part]
		if !ok {
			return 0, fmt.Errorf("%q is not a known API-key access value", part)
		}
		v |= n
	}
	return v, nil
}

type legitimate struct {
	id         string
	name       string
	priv, pub  []byte
	isRole     bool
	roleIDs    []string // users only
	pendingReq bool     // users only: an extra login requirement is pending
}

type apiKey struct {
	id      string // the JWT's jti claim
	userID  string
	pub     []byte // public half of the key's private part
	rights  int
	scopes  int
	expires time.Time
	jwt     string
}

type item struct {
	id, containerID, name string
	typ, position         int
	value                 string // plain value of unencrypted items
	secret                []byte // ciphertext of encrypted items
	reasonRequired        bool
}

type right struct {
	id, legitimateID, dataID string
	rightKey                 []byte
	rights                   int
	sealID                   string
	owner                    bool
}

type container struct {
	id, name   string
	formID     string
	dataStates int
	items      []*item
	itemKey    []byte
	rights     []*right // rights on the container's data; returned per item
}

func (c *container) itemNamed(name string) *item {
	for _, it := range c.items {
		if strings.EqualFold(it.name, name) {
			return it
		}
	}
	return nil
}

type pendingLogin struct {
	challenge, challengeSig []byte
	keyID                   string
	userID                  string
	created                 time.Time
}

type session struct {
	id, key, userID, database, jwt string
	keyID                          string
	expires                        time.Time // zero: no expiry
}

func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newLegitimate(name string, isRole bool) (*legitimate, error) {
	priv, pub, err := pscrypto.GenerateECCKey()
	if err != nil {
		return nil, fmt.Errorf("generating the key pair of %q: %w", name, err)
	}
	return &legitimate{id: newGUID(), name: name, priv: priv, pub: pub, isRole: isRole}, nil
}
