package psemu

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/byov/byov/plugins/passwordsecure/pscrypto"
)

// Seed is the content of a seed file (see the package documentation).
type Seed struct {
	Database  string       `json:"database"`
	JWTSecret string       `json:"jwt_secret"`
	Roles     []SeedRole   `json:"roles"`
	Users     []SeedUser   `json:"users"`
	APIKeys   []SeedAPIKey `json:"api_keys"`
	Entries   []Entry      `json:"entries"`
	fileHash  []byte
}

// SeedRole is a role; its key pair is generated when the seed is loaded.
type SeedRole struct {
	Name string `json:"name"`
}

// SeedUser is a user and the roles it belongs to.
type SeedUser struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// PendingRequirement makes logins of this user answer
	// PossibleAuthCredentialRequirements (MFA or a pending configuration).
	PendingRequirement bool `json:"pending_requirement"`
}

// SeedAPIKey is an API key created when the seed is loaded; SeedAPIKeys
// returns the key strings by name.
type SeedAPIKey struct {
	Name    string `json:"name"`
	User    string `json:"user"`
	Rights  string `json:"rights"`  // default "Read"
	Scopes  string `json:"scopes"`  // default "Passwords"
	Expires string `json:"expires"` // a Go duration from now, e.g. "720h"; negative for expired
	Revoked bool   `json:"revoked"`
}

// Entry is an "AD User" password entry.
type Entry struct {
	Description string `json:"description"` // the container name; default DOMAIN\username
	Domain      string `json:"domain"`
	Username    string `json:"username"`
	Password    string `json:"password"`
	// Readers are user or role names holding Read on the entry (a name is
	// looked up among users first). Empty means every user known when the
	// entry is added, except those in ListOnly.
	Readers []string `json:"readers"`
	// ListOnly are users or roles that see the entry and hold its key but
	// lack the Read right, to provoke RightInsufficientRight (30003).
	ListOnly []string `json:"list_only"`
	// ReasonRequired sets SecretValueRequiredReason on the password item.
	ReasonRequired bool `json:"reason_required"`
	// Sealed puts a seal on every right of the entry.
	Sealed bool `json:"sealed"`
	// Deleted marks the entry StateDeleted, so default searches skip it.
	Deleted bool `json:"deleted"`
}

// LoadSeed reads a JSON seed file.
func LoadSeed(path string) (*Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the seed file: %w", err)
	}
	seed, err := ParseSeed(data)
	if err != nil {
		return nil, fmt.Errorf("seed file %s: %w", path, err)
	}
	return seed, nil
}

// ParseSeed decodes a JSON seed, refusing unknown fields so typos show.
func ParseSeed(data []byte) (*Seed, error) {
	var seed Seed
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&seed); err != nil {
		return nil, fmt.Errorf("the seed is not valid JSON of the documented shape: %w", err)
	}
	h := sha256.Sum256(data)
	seed.fileHash = h[:]
	return &seed, nil
}

func (s *Server) applySeed(seed *Seed) error {
	for _, r := range seed.Roles {
		if err := s.AddRole(r.Name); err != nil {
			return err
		}
	}
	for _, u := range seed.Users {
		if err := s.AddUser(u.Name, u.Roles...); err != nil {
			return err
		}
		if u.PendingRequirement {
			s.SetUserRequirement(u.Name, true)
		}
	}
	for _, e := range seed.Entries {
		if _, err := s.AddEntry(e); err != nil {
			return err
		}
	}
	for i, k := range seed.APIKeys {
		name := k.Name
		if name == "" {
			name = fmt.Sprintf("key%d", i+1)
		}
		rights, scopes := k.Rights, k.Scopes
		if rights == "" {
			rights = "Read"
		}
		if scopes == "" {
			scopes = "Passwords"
		}
		var exp time.Duration
		if k.Expires != "" {
			d, err := time.ParseDuration(k.Expires)
			if err != nil {
				return fmt.Errorf("API key %q: expires %q is not a duration such as 720h: %w", name, k.Expires, err)
			}
			exp = d
		}
		key, err := s.CreateAPIKey(k.User, rights, scopes, exp)
		if err != nil {
			return fmt.Errorf("API key %q: %w", name, err)
		}
		if k.Revoked {
			if err := s.RevokeAPIKey(key); err != nil {
				return err
			}
		}
		s.mu.Lock()
		s.seedKeys[name] = key
		s.mu.Unlock()
	}
	return nil
}

// SeedAPIKeys returns the key strings of the seed's api_keys by name. They
// are secrets: hand them to the test, never to a log.
func (s *Server) SeedAPIKeys() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.seedKeys))
	for k, v := range s.seedKeys {
		out[k] = v
	}
	return out
}

// AddRole adds a role with a fresh P-521 key pair.
func (s *Server) AddRole(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("a role needs a name")
	}
	r, err := newLegitimate(name, true)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.roleByName(name) != nil {
		return fmt.Errorf("the role %q already exists", name)
	}
	s.roles[r.id] = r
	return nil
}

// AddUser adds a user with a fresh P-521 key pair, member of existing roles.
func (s *Server) AddUser(name string, roles ...string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("a user needs a name")
	}
	u, err := newLegitimate(name, false)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userByName(name) != nil {
		return fmt.Errorf("the user %q already exists", name)
	}
	for _, rn := range roles {
		r := s.roleByName(rn)
		if r == nil {
			return fmt.Errorf("user %q names role %q, which does not exist; add the role first", name, rn)
		}
		u.roleIDs = append(u.roleIDs, r.id)
	}
	s.users[u.id] = u
	return nil
}

// UserID returns the GUID of a user ("" if unknown).
func (s *Server) UserID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.userByName(name); u != nil {
		return u.id
	}
	return ""
}

// SetUserRequirement makes one user's logins answer
// PossibleAuthCredentialRequirements, or stops it.
func (s *Server) SetUserRequirement(user string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.userByName(user); u != nil {
		u.pendingReq = on
	}
}

// AddEntry adds an "AD User" entry (§8.2, §8.3): a random item key K,
// Value = chain 6 of the password under K, and for each reader a right whose
// RightKey is K encrypted (chain 2) to the reader's public key. It returns
// the container Id. Adding the same DOMAIN\username twice makes a duplicate.
func (s *Server) AddEntry(e Entry) (string, error) {
	if e.Domain == "" || e.Username == "" {
		return "", fmt.Errorf("an AD User entry needs a domain and a username")
	}
	if e.Description == "" {
		e.Description = e.Domain + `\` + e.Username
	}
	key := pscrypto.GenerateSymmetricKey()
	secret, err := pscrypto.EncryptWithKey(key, []byte(e.Password))
	if err != nil {
		return "", fmt.Errorf("encrypting the password of %s: %w", e.Description, err)
	}
	c := &container{id: newGUID(), name: e.Description, formID: s.formID, dataStates: dataStateActive, itemKey: key}
	if e.Deleted {
		c.dataStates = dataStateDeleted
	}
	for i, f := range []struct {
		name, value string
		typ         int
	}{{"Description", e.Description, itemText}, {"Domain", e.Domain, itemText}, {"Username", e.Username, itemUserName}, {"Password", "", itemPassword}} {
		it := &item{id: newGUID(), containerID: c.id, name: f.name, typ: f.typ, position: i, value: f.value}
		if f.typ == itemPassword {
			it.secret, it.reasonRequired = secret, e.ReasonRequired
		}
		c.items = append(c.items, it)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	readers := e.Readers
	if len(readers) == 0 {
		for _, u := range s.users {
			listOnly := false
			for _, n := range e.ListOnly {
				listOnly = listOnly || strings.EqualFold(n, u.name)
			}
			if !listOnly {
				readers = append(readers, u.name)
			}
		}
	}
	sealID := ""
	if e.Sealed {
		sealID = newGUID()
	}
	add := func(names []string, rights int) error {
		for _, n := range names {
			l := s.userByName(n)
			if l == nil {
				l = s.roleByName(n)
			}
			if l == nil {
				return fmt.Errorf("entry %s names %q, which is neither a user nor a role", e.Description, n)
			}
			wrapped, err := pscrypto.EncryptWithPublicKey(l.pub, key)
			if err != nil {
				return fmt.Errorf("wrapping the item key of %s: %w", e.Description, err)
			}
			c.rights = append(c.rights, &right{id: newGUID(), legitimateID: l.id, dataID: c.id, rightKey: wrapped, rights: rights, sealID: sealID})
		}
		return nil
	}
	if err := add(readers, rightRead|2|4); err != nil { // Read, Write, Delete
		return "", err
	}
	if err := add(e.ListOnly, 2); err != nil { // Write without Read
		return "", err
	}
	s.conts = append(s.conts, c)
	return c.id, nil
}

// findEntries returns the entries for DOMAIN\username. Call with s.mu held.
func (s *Server) findEntries(domain, username string) []*container {
	var out []*container
	for _, c := range s.conts {
		d, u := c.itemNamed("Domain"), c.itemNamed("Username")
		if d != nil && u != nil && strings.EqualFold(d.value, domain) && strings.EqualFold(u.value, username) {
			out = append(out, c)
		}
	}
	return out
}

// SetPassword re-encrypts the password of every entry for DOMAIN\username,
// as a rotation in Password Secure would.
func (s *Server) SetPassword(domain, username, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.findEntries(domain, username)
	if len(cs) == 0 {
		return fmt.Errorf("there is no entry for %s\\%s", domain, username)
	}
	for _, c := range cs {
		secret, err := pscrypto.EncryptWithKey(c.itemKey, []byte(password))
		if err != nil {
			return fmt.Errorf("encrypting the new password: %w", err)
		}
		c.itemNamed("Password").secret = secret
	}
	return nil
}

// SealEntry puts (on) or lifts (off) a seal on every right of the entries
// for DOMAIN\username.
func (s *Server) SealEntry(domain, username string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.findEntries(domain, username)
	if len(cs) == 0 {
		return fmt.Errorf("there is no entry for %s\\%s", domain, username)
	}
	for _, c := range cs {
		seal := ""
		if on {
			seal = newGUID()
		}
		for _, r := range c.rights {
			r.sealID = seal
		}
	}
	return nil
}

// RemoveReadRight takes the Read right on the entries for DOMAIN\username
// away from a user or role, leaving it able to see them (and their keys).
func (s *Server) RemoveReadRight(domain, username, legitimate string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.userByName(legitimate)
	if l == nil {
		l = s.roleByName(legitimate)
	}
	if l == nil {
		return fmt.Errorf("%q is neither a user nor a role", legitimate)
	}
	cs := s.findEntries(domain, username)
	if len(cs) == 0 {
		return fmt.Errorf("there is no entry for %s\\%s", domain, username)
	}
	for _, c := range cs {
		for _, r := range c.rights {
			if r.legitimateID == l.id {
				r.rights &^= rightRead
			}
		}
	}
	return nil
}
