package psr

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/byov/byov/plugins/passwordsecure/pscrypto"
)

// Password is a secret value. It prints as "[redacted]" with every fmt verb,
// so a Credential passed to a logger leaks nothing; Reveal returns it.
type Password string

func (p Password) Reveal() string             { return string(p) }
func (Password) String() string               { return "[redacted]" }
func (Password) GoString() string             { return "[redacted]" }
func (Password) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Credential is the result of a checkout.
type Credential struct {
	// EntryID and EntryName identify the Password Secure entry, for audits.
	EntryID, EntryName string
	// ItemID is the id of the password field of the entry.
	ItemID string
	// Domain and Username are the values the entry holds.
	Domain, Username string
	Password         Password
}

// Entry is what Lookup finds, without the password.
type Entry struct {
	ID, Name, ItemID string
	Domain, Username string
}

// right is an MtoDataRight (§5.1).
type right struct {
	LegitimateID string `json:"LegitimateId"`
	RightKey     string
	Rights       int
	SealID       *string `json:"SealId"`
}

func (r right) sealed() bool {
	if r.SealID == nil {
		return false
	}
	s := strings.TrimSpace(*r.SealID)
	return s != "" && s != "00000000-0000-0000-0000-000000000000"
}

type cacheEntry struct {
	e       *entry
	expires time.Time
}

// checkScope refuses, before any search, a key whose claims say it cannot
// read passwords. Without this a key lacking the Password scope would get
// an empty search result and look like a missing entry.
func (c *Client) checkScope() error {
	if c.keyErr != nil {
		return c.keyErr
	}
	k := c.key
	if k.RightsText != "" && !k.CanRead() {
		return newError(KindPermission, nil, "edit the API key in Password Secure: its access rights must include Read",
			"the API key of user %q lacks the Read access right (it has %q)", k.User, k.RightsText)
	}
	if k.ScopesText != "" && !k.CanReadPasswords() {
		return newError(KindPermission, nil, "edit the API key in Password Secure: its access scope must include Password",
			"the API key of user %q lacks the Password scope (it has %q)", k.User, k.ScopesText)
	}
	return nil
}

// Checkout returns the password of the AD User entry of a. The reason is
// sent with the read and lands in Password Secure's logbook; it must not be
// empty. The entry and its item key may come from the cache; the password
// never does.
func (c *Client) Checkout(ctx context.Context, a Account, reason string) (*Credential, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(reason) == "" {
		return nil, newError(KindConfig, nil, "pass the byov session, requester and activity as the reason", "a checkout needs a reason for Password Secure's logbook")
	}
	if err := c.checkScope(); err != nil {
		return nil, err
	}
	key := a.cacheKey()
	if e := c.cached(key); e != nil {
		c.cacheHits.Add(1)
		cred, err := c.readSecret(ctx, e, reason)
		if err == nil {
			return cred, nil
		}
		// Whatever changed (entry deleted, rights or key rotated, sealed),
		// a cached answer is no longer trusted: look the account up afresh.
		c.forget(key)
		if !freshLookupMayHelp(err) {
			return nil, err
		}
		c.log.Debug("a cached Password Secure entry failed; looking it up again", "account", a.String(), "entry", e.containerID, "error", err)
	}
	e, err := c.flight.do(ctx, key, func(ctx context.Context) (*entry, error) {
		e, err := c.resolve(ctx, a)
		if err == nil && c.opts.CacheTTL > 0 {
			c.cacheMu.Lock()
			c.cache[key] = cacheEntry{e: e, expires: time.Now().Add(c.opts.CacheTTL)}
			c.cacheMu.Unlock()
		}
		return e, err
	})
	if err != nil {
		return nil, err
	}
	cred, err := c.readSecret(ctx, e, reason)
	if err != nil {
		c.forget(key)
		return nil, err
	}
	return cred, nil
}

// Lookup finds the entry of a and checks that the key's user can decrypt
// its item key, without reading the password (so without a logbook entry).
// Check uses it for its test lookup; it neither reads nor fills the cache.
func (c *Client) Lookup(ctx context.Context, a Account) (*Entry, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	if err := c.checkScope(); err != nil {
		return nil, err
	}
	e, err := c.resolve(ctx, a)
	if err != nil {
		return nil, err
	}
	return &Entry{ID: e.containerID, Name: e.name, ItemID: e.itemID, Domain: e.domain, Username: e.username}, nil
}

// freshLookupMayHelp tells whether a failure with a cached entry could be
// caused by the cache being stale. Failures of the connection or the login
// would only repeat.
func freshLookupMayHelp(err error) bool {
	switch KindOf(err) {
	case KindPermission, KindSealed, KindNotFound, KindInternal:
		return true
	case KindUnavailable:
		var e *Error
		return errors.As(err, &e) && !e.transient && e.status != 0
	}
	return false
}

func (c *Client) cached(key string) *entry {
	if c.opts.CacheTTL <= 0 {
		return nil
	}
	c.cacheMu.Lock()
	defer c.cacheMu.Unlock()
	ce, ok := c.cache[key]
	if !ok {
		return nil
	}
	if time.Now().After(ce.expires) {
		delete(c.cache, key)
		return nil
	}
	return ce.e
}

func (c *Client) forget(key string) {
	c.cacheMu.Lock()
	delete(c.cache, key)
	c.cacheMu.Unlock()
}

func (c *Client) dropCache() {
	c.cacheMu.Lock()
	clear(c.cache)
	c.cacheMu.Unlock()
}

// resolve finds the entry and unlocks its item key: search, match, rights,
// decrypt (§4.8, §5.1, §5.2). Sealed rights are reported, never used.
func (c *Client) resolve(ctx context.Context, a Account) (*entry, error) {
	ct, err := c.find(ctx, a)
	if err != nil {
		return nil, err
	}
	pw, ok := ct.item(c.opts.PasswordField)
	if !ok || !isEncrypted(pw.ContainerItemType) {
		return nil, newError(KindConfig, nil, "if your site renamed the password field, set password_field in the connector's config",
			"the %s entry %s (%s) has no password field named %q", c.opts.Form, ct.ID, a, c.opts.PasswordField)
	}
	dom, _ := ct.item(c.opts.DomainField)
	usr, _ := ct.item(c.opts.UsernameField)
	e := &entry{containerID: ct.ID, name: ct.name(), itemID: pw.ID, domain: dom.value(), username: usr.value()}

	var rights []right
	if err := c.call(ctx, "WebService/GetLegitimateDataRights", map[string]any{"dataId": pw.ID, "checkRights": false, "showDeletedNames": false}, &rights); err != nil {
		return nil, err
	}
	sealed := false
	for _, r := range rights {
		sealed = sealed || r.sealed()
	}
	// The session's keyring may be forgotten under us when Login replaces
	// the session; the replacement then gets one more try.
	for attempt := 0; attempt < 2; attempt++ {
		s, err := c.currentSession(ctx)
		if err != nil {
			return nil, err
		}
		if e.itemKey = c.unlockItemKey(s, rights, ct.ID); e.itemKey != nil {
			return e, nil
		}
		if !s.forgotten() {
			break
		}
	}
	if sealed {
		return nil, newError(KindSealed, nil, "request a release of the seal in Password Secure and retry once it is granted; byov never breaks a seal",
			"the %s entry for %s (%s) is sealed; release required", c.opts.Form, a, ct.ID)
	}
	return nil, newError(KindPermission, nil, "give the API key's user, or one of its roles, the Read right on the entry in Password Secure",
		"the API key's user %q holds no right key for the %s entry for %s (%s)", c.key.User, c.opts.Form, a, ct.ID)
}

// unlockItemKey decrypts the item key with the first right the keyring can
// open. Rights with Read come first, as in the vendor clients; sealed rights
// are never used.
func (c *Client) unlockItemKey(s *session, rights []right, containerID string) []byte {
	var usable []right
	for _, r := range rights {
		if !r.sealed() && r.RightKey != "" && s.holds(r.LegitimateID) {
			usable = append(usable, r)
		}
	}
	sortReadFirst(usable)
	for _, r := range usable {
		blob, err := base64.StdEncoding.DecodeString(r.RightKey)
		if err != nil {
			continue
		}
		k, err := s.decrypt(r.LegitimateID, blob)
		if err != nil {
			c.log.Debug("a right key of a Password Secure entry did not decrypt; trying the next right", "entry", containerID, "legitimate", r.LegitimateID)
			continue
		}
		return k
	}
	return nil
}

func sortReadFirst(rs []right) {
	// A stable partition keeps the server's order within each group.
	read := rs[:0:0]
	var other []right
	for _, r := range rs {
		if r.Rights&RightRead != 0 {
			read = append(read, r)
		} else {
			other = append(other, r)
		}
	}
	copy(rs, append(read, other...))
}

// readSecret fetches the password item with the reason and decrypts it
// (§5.3). Every checkout does this, so the server's logbook sees every read.
func (c *Client) readSecret(ctx context.Context, e *entry, reason string) (*Credential, error) {
	var it containerItem
	if err := c.call(ctx, "WebService/GetContainerItemWithSecretValue", map[string]any{"itemId": e.itemID, "reason": reason}, &it); err != nil {
		return nil, err
	}
	cred := &Credential{EntryID: e.containerID, EntryName: e.name, ItemID: e.itemID, Domain: e.domain, Username: e.username}
	if it.Value == nil || *it.Value == "" {
		return cred, nil // an empty password (§5.3)
	}
	blob, err := base64.StdEncoding.DecodeString(*it.Value)
	if err != nil {
		return nil, newError(KindInternal, err, "", "the password of entry %s is not base64 on the wire", e.containerID)
	}
	plain, err := pscrypto.DecryptWithKey(e.itemKey, blob)
	if err != nil {
		return nil, newError(KindInternal, err, "the entry's key may have changed; if this persists, check the entry in Password Secure",
			"the password of entry %s does not decrypt with its item key", e.containerID)
	}
	cred.Password = Password(plain)
	clear(plain)
	return cred, nil
}
