package psr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Account is an Active Directory account, DOMAIN\username.
type Account struct {
	Domain, Username string
}

func (a Account) String() string { return a.Domain + `\` + a.Username }

// cacheKey folds case, because AD names are case-insensitive (§4.8).
func (a Account) cacheKey() string {
	return strings.ToLower(strings.TrimSpace(a.Domain)) + `\` + strings.ToLower(strings.TrimSpace(a.Username))
}

// ParseAccount splits DOMAIN\username at the first backslash; both parts are
// required (§4.8).
func ParseAccount(s string) (Account, error) {
	d, u, ok := strings.Cut(s, `\`)
	a := Account{Domain: strings.TrimSpace(d), Username: strings.TrimSpace(u)}
	if !ok || a.Domain == "" || a.Username == "" {
		return Account{}, newError(KindConfig, nil, `write the account as DOMAIN\username, e.g. CORP\administrator`, "%q is not an account of the form DOMAIN\\username", s)
	}
	return a, nil
}

func (a Account) validate() error {
	if strings.TrimSpace(a.Domain) == "" || strings.TrimSpace(a.Username) == "" {
		return newError(KindConfig, nil, `an AD User entry is found by DOMAIN\username; give both parts`,
			"the account %q lacks a domain or a user name", a.String())
	}
	return nil
}

// Wire shapes of §4.3. Only the fields this client reads are declared.
type container struct {
	ID              string `json:"Id"`
	ContainerType   int
	BaseContainerID string `json:"BaseContainerId"`
	DataStates      int
	Info            *struct {
		ContainerName     string
		BaseContainerName string
	}
	Items []containerItem
}

type containerItem struct {
	ID                        string `json:"Id"`
	Name                      string
	ContainerItemType         int
	Value                     *string
	SecretValueRequiredReason bool
}

func (it containerItem) value() string {
	if it.Value == nil {
		return ""
	}
	return strings.TrimSpace(*it.Value)
}

// Container and item enums (§4.1).
const (
	containerTypePassword = 0
	dataStateActive       = 1
	itemTypePassword      = 1
	itemTypePasswordMemo  = 10
	itemTypeOtp           = 16

	// maxContainerFetches bounds the GetContainer calls of one search.
	maxContainerFetches = 25
)

func isEncrypted(t int) bool {
	return t == itemTypePassword || t == itemTypePasswordMemo || t == itemTypeOtp
}

func (c *container) item(name string) (containerItem, bool) {
	for _, it := range c.Items {
		if strings.EqualFold(strings.TrimSpace(it.Name), name) {
			return it, true
		}
	}
	return containerItem{}, false
}

func (c *container) name() string {
	if c.Info != nil {
		return c.Info.ContainerName
	}
	return ""
}

// defaultFilter returns the server's default ContainerListFilter, fetched
// once per client: it depends on the server, not on the session (§4.4).
func (c *Client) defaultFilter(ctx context.Context) ([]byte, error) {
	c.filterMu.Lock()
	f := c.filter
	c.filterMu.Unlock()
	if f != nil {
		return f, nil
	}
	var raw json.RawMessage
	if err := c.call(ctx, "WebService/GetContainerListFilter", map[string]any{"containerType": containerTypePassword, "defaultFilter": true}, &raw); err != nil {
		return nil, err
	}
	c.filterMu.Lock()
	c.filter = raw
	c.filterMu.Unlock()
	return raw, nil
}

// searchFilter sets the content search of the default filter to text and
// leaves every other property as the server sent it, the approach of the
// vendor's PowerShell module. When the default filter has no content group
// it falls back to the minimal filter of the Go port (§4.5).
func searchFilter(def []byte, text string) any {
	var f map[string]any
	dec := json.NewDecoder(bytes.NewReader(def))
	dec.UseNumber() // keep integers such as page sizes exactly as sent
	if dec.Decode(&f) == nil && f != nil {
		groups, _ := f["FilterGroups"].([]any)
		for _, g := range groups {
			group, ok := g.(map[string]any)
			if !ok || !isContentGroup(group) {
				continue
			}
			list, _ := group["SearchList"].([]any)
			var obj map[string]any
			if len(list) > 0 {
				obj, _ = list[0].(map[string]any)
			}
			if obj == nil {
				obj = map[string]any{"SearchTags": false, "ExactSearch": false, "SearchOrganisationUnits": false}
				list = append([]any{obj}, list...)
			}
			obj["Search"] = text
			obj["FilterActive"] = true
			group["SearchList"] = list
			return f
		}
	}
	return map[string]any{
		"$type": "ContainerListFilter", "ContainerType": containerTypePassword, "DataStates": dataStateActive,
		"FilterGroups": []any{map[string]any{
			"$type": "ListFilterGroupContent", "__type": "ListFilterGroupContent",
			"SearchList": []any{map[string]any{"Search": text, "FilterActive": true, "ExactSearch": false, "SearchTags": false, "SearchOrganisationUnits": false}},
		}},
	}
}

func isContentGroup(g map[string]any) bool {
	for _, k := range []string{"$type", "__type"} {
		if s, _ := g[k].(string); strings.Contains(s, "ListFilterGroupContent") {
			return true
		}
	}
	return false
}

// entry is what a lookup finds for an account: the entry, its password item
// and the item key that decrypts it. It is what the account cache holds.
type entry struct {
	containerID, name, itemID string
	domain, username          string
	itemKey                   []byte
}

// find searches for the AD User entry of a and applies the matching rules
// of §4.8: exactly one match, compared after trimming and case folding.
func (c *Client) find(ctx context.Context, a Account) (*container, error) {
	def, err := c.defaultFilter(ctx)
	if err != nil {
		return nil, err
	}
	var list []container
	body := map[string]any{"containerType": containerTypePassword, "filter": searchFilter(def, strings.TrimSpace(a.Username)), "behaviours": nil}
	if err := c.call(ctx, "WebService/GetContainerList", body, &list); err != nil {
		return nil, err
	}
	var matches []*container
	fetched := 0
	for i := range list {
		ct := &list[i]
		if ct.ContainerType != containerTypePassword || ct.DataStates&dataStateActive == 0 {
			continue
		}
		if len(ct.Items) == 0 {
			// The list left the fields out; only the full entry can say.
			// A bound keeps a server that answers a search with its whole
			// database from turning one checkout into thousands of calls.
			if fetched++; fetched > maxContainerFetches {
				return nil, newError(KindInternal, nil, "narrow the search: check that the server supports the content filter, or rename entries so the user name is distinctive",
					"the search for %s returned more than %d entries without their fields", a, maxContainerFetches)
			}
			full, err := c.getContainer(ctx, ct.ID)
			if err != nil {
				return nil, err
			}
			ct = full
		}
		if c.matches(ct, a) {
			matches = append(matches, ct)
		}
	}
	switch len(matches) {
	case 0:
		return nil, newError(KindNotFound, nil,
			fmt.Sprintf("check the spelling, that an %q entry exists for it with fields %q and %q, and that the key's user may see it", c.opts.Form, c.opts.DomainField, c.opts.UsernameField),
			"Password Secure has no %s entry for %s", c.opts.Form, a)
	case 1:
		return matches[0], nil
	}
	ids := make([]string, len(matches))
	for i, m := range matches {
		ids[i] = m.ID
	}
	sort.Strings(ids)
	e := newError(KindAmbiguous, nil, "remove or rename the duplicates in Password Secure so that exactly one entry has this domain and user name",
		"%d %s entries match %s: %s", len(ids), c.opts.Form, a, strings.Join(ids, ", "))
	e.Candidates = ids
	return nil, e
}

func (c *Client) getContainer(ctx context.Context, id string) (*container, error) {
	var ct container
	if err := c.call(ctx, "WebService/GetContainer", map[string]any{"id": id}, &ct); err != nil {
		return nil, err
	}
	return &ct, nil
}

// matches applies §4.7 (is it an AD User entry?) and §4.8 (same domain and
// user name, case-insensitively).
func (c *Client) matches(ct *container, a Account) bool {
	if ct.ContainerType != containerTypePassword || ct.DataStates&dataStateActive == 0 {
		return false
	}
	dom, okD := ct.item(c.opts.DomainField)
	usr, okU := ct.item(c.opts.UsernameField)
	if !okD || !okU {
		return false
	}
	isForm := ct.Info != nil && strings.EqualFold(strings.TrimSpace(ct.Info.BaseContainerName), c.opts.Form)
	if !isForm {
		pw, ok := ct.item(c.opts.PasswordField)
		if !ok || pw.ContainerItemType != itemTypePassword {
			return false
		}
	}
	return strings.EqualFold(dom.value(), strings.TrimSpace(a.Domain)) &&
		strings.EqualFold(usr.value(), strings.TrimSpace(a.Username))
}
