package psemu

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

const (
	dataLayer = ", PsrDataLayer"
	structNS  = "PsrDataLayer.Structure."
	filterNS  = "PsrDataLayer.FilterObjects."
)

type searchObject struct {
	FilterActive            *bool  `json:"FilterActive"`
	Search                  string `json:"Search"`
	SearchTags              bool   `json:"SearchTags"`
	ExactSearch             bool   `json:"ExactSearch"`
	SearchOrganisationUnits bool   `json:"SearchOrganisationUnits"`
	ExtendedSearch          any    `json:"ExtendedSearch"`
}

type filterGroup struct {
	Type           string         `json:"$type,omitempty"`
	ShortType      string         `json:"__type,omitempty"`
	Expanded       bool           `json:"Expanded"`
	AndLinkedGroup bool           `json:"AndLinkedGroup"`
	SearchList     []searchObject `json:"SearchList"`
}

type containerFilter struct {
	Type          string        `json:"$type,omitempty"`
	ContainerType int           `json:"ContainerType"`
	DataStates    *int          `json:"DataStates"`
	Page          int           `json:"Page"`
	PageSize      int           `json:"PageSize"`
	FilterGroups  []filterGroup `json:"FilterGroups"`
}

func (s *Server) getContainerListFilter(body []byte) (any, error) {
	var req struct {
		ContainerType int `json:"containerType"`
	}
	_ = json.Unmarshal(body, &req) // both parameters are optional
	off, active := false, dataStateActive
	return containerFilter{
		Type:          s.typeName(filterNS + "ContainerListFilter" + dataLayer),
		ContainerType: req.ContainerType,
		DataStates:    &active,
		FilterGroups: []filterGroup{{
			Type:           s.typeName(filterNS + "ListFilterGroupContent" + dataLayer),
			ShortType:      "ListFilterGroupContent",
			Expanded:       true,
			AndLinkedGroup: true,
			SearchList:     []searchObject{{FilterActive: &off}},
		}},
	}, nil
}

// visible reports whether the session's user, directly or through a role,
// holds any right on c. Call with s.mu held.
func (s *Server) holds(se *session, c *container, need int) *right {
	u := s.users[se.userID]
	if u == nil {
		return nil
	}
	ids := map[string]bool{u.id: true}
	for _, r := range u.roleIDs {
		ids[r] = true
	}
	var found *right
	for _, r := range c.rights {
		if ids[r.legitimateID] && r.rights&need == need {
			if found == nil || (found.sealID != "" && r.sealID == "") {
				found = r
			}
		}
	}
	return found
}

// getContainerList applies the §4.5 rule: an active content search matches
// containers whose name or any plain item value contains the text
// (case-insensitively; equality with ExactSearch). FilterActive null excludes.
func (s *Server) getContainerList(se *session, body []byte) (any, error) {
	var req struct {
		ContainerType int              `json:"containerType"`
		Filter        *containerFilter `json:"filter"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fail(excNone, "The request body is not valid JSON.")
	}
	ctype := req.ContainerType
	states := dataStateActive
	var searches []searchObject
	var excludes []searchObject
	if f := req.Filter; f != nil {
		ctype = f.ContainerType
		if req.ContainerType != 0 {
			ctype = req.ContainerType
		}
		if f.DataStates != nil && *f.DataStates != 0 {
			states = *f.DataStates
		}
		for _, g := range f.FilterGroups {
			// The content group is recognised by its type name, or, when a
			// client sends none, by carrying a SearchList at all.
			if g.Type != "" && !strings.Contains(g.Type, "ListFilterGroupContent") && !strings.Contains(g.ShortType, "ListFilterGroupContent") {
				continue
			}
			for _, so := range g.SearchList {
				switch {
				case so.FilterActive == nil:
					excludes = append(excludes, so)
				case *so.FilterActive && so.Search != "":
					searches = append(searches, so)
				}
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	if ctype == containerTypeForm {
		return append(out, s.formJSON()), nil
	}
	if k := s.keys[se.keyID]; ctype != containerTypePassword || k == nil || k.scopes&scopePasswords == 0 {
		return out, nil
	}
	for _, c := range s.conts {
		if c.dataStates&states == 0 || s.holds(se, c, 0) == nil {
			continue
		}
		ok := true
		for _, so := range searches {
			ok = ok && matches(c, so)
		}
		for _, so := range excludes {
			ok = ok && (so.Search == "" || !matches(c, so))
		}
		if ok {
			out = append(out, s.containerJSON(c, se))
		}
	}
	return out, nil
}

func matches(c *container, so searchObject) bool {
	hit := func(v string) bool {
		if so.ExactSearch {
			return strings.EqualFold(strings.TrimSpace(v), strings.TrimSpace(so.Search))
		}
		return strings.Contains(strings.ToLower(v), strings.ToLower(so.Search))
	}
	if hit(c.name) {
		return true
	}
	for _, it := range c.items {
		if it.secret == nil && hit(it.value) {
			return true
		}
	}
	return false
}

func (s *Server) getContainer(se *session, body []byte) (any, error) {
	var req struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fail(excNone, "The request body is not valid JSON.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.EqualFold(req.ID, s.formID) {
		return s.formJSON(), nil
	}
	c := s.containerByID(req.ID)
	if c == nil {
		return nil, fail(excNone, "The object was not found.")
	}
	if s.holds(se, c, 0) == nil {
		return nil, fail(excInsufficientRight, "You do not have sufficient rights for this object.")
	}
	return s.containerJSON(c, se), nil
}

func (s *Server) getLegitimateDataRights(se *session, body []byte) (any, error) {
	var req struct {
		DataID string `json:"dataId"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fail(excNone, "The request body is not valid JSON.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, it := s.itemByID(req.DataID)
	if it == nil {
		return nil, fail(excNone, "The object was not found.")
	}
	if s.holds(se, c, 0) == nil {
		return nil, fail(excInsufficientRight, "You do not have sufficient rights for this object.")
	}
	out := []any{}
	for _, r := range c.rights {
		out = append(out, s.rightJSON(r, it.id))
	}
	return out, nil
}

func (s *Server) getItemWithSecret(se *session, body []byte) (any, error) {
	var req struct {
		ItemID string `json:"itemId"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fail(excNone, "The request body is not valid JSON.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, it := s.itemByID(req.ItemID)
	if it == nil {
		return nil, fail(excNone, "The object was not found.")
	}
	entry := LogbookEntry{Time: time.Now(), ItemID: it.id, ContainerID: c.id, Reason: req.Reason, Entry: entryName(c)}
	if u := s.users[se.userID]; u != nil {
		entry.User = u.name
	}
	deny := func(code int, msg string) (any, error) {
		entry.Denial = msg
		s.logbook = append(s.logbook, entry)
		return nil, fail(code, msg)
	}
	k := s.keys[se.keyID]
	switch r := s.holds(se, c, rightRead); {
	case k == nil || k.scopes&scopePasswords == 0:
		return deny(excInsufficientRight, "The API key's access scope does not include passwords.")
	case k.rights&accessRead == 0:
		return deny(excInsufficientRight, "The API key's access rights do not include Read.")
	case r == nil:
		return deny(excInsufficientRight, "You do not have the Read right on this password.")
	case r.sealID != "":
		return deny(excSealNotBroken, "The password is sealed; a release is required.")
	case it.reasonRequired && strings.TrimSpace(req.Reason) == "":
		return deny(excNone, "A reason is required to reveal this password.")
	}
	entry.Granted = true
	s.logbook = append(s.logbook, entry)
	return s.itemJSON(it, true), nil
}

func entryName(c *container) string {
	var d, u string
	if it := c.itemNamed("Domain"); it != nil {
		d = it.value
	}
	if it := c.itemNamed("Username"); it != nil {
		u = it.value
	}
	return d + `\` + u
}

func (s *Server) containerByID(id string) *container {
	for _, c := range s.conts {
		if strings.EqualFold(c.id, id) {
			return c
		}
	}
	return nil
}

func (s *Server) itemByID(id string) (*container, *item) {
	for _, c := range s.conts {
		for _, it := range c.items {
			if strings.EqualFold(it.id, id) {
				return c, it
			}
		}
	}
	return nil, nil
}

// --- JSON shapes of §4.3 and §5.1 ---

func (s *Server) itemJSON(it *item, withSecret bool) map[string]any {
	var value any = it.value
	if it.secret != nil {
		value = nil // secrets only travel through GetContainerItemWithSecretValue (§4.3)
		if withSecret {
			value = base64.StdEncoding.EncodeToString(it.secret)
		}
	}
	return map[string]any{
		"$type":                     s.typeName(structNS + "MtoContainerItem" + dataLayer),
		"Id":                        it.id,
		"ContainerId":               it.containerID,
		"BaseContainerItemId":       nil,
		"Name":                      it.name,
		"ContainerItemType":         it.typ,
		"Position":                  it.position,
		"Value":                     value,
		"PublicKey":                 nil,
		"SecretValueRequiredReason": it.reasonRequired,
		"NoPermission":              false,
		"DataStates":                dataStateActive,
		"EncryptionKeyType":         0,
	}
}

func (s *Server) containerJSON(c *container, se *session) map[string]any {
	items := make([]any, 0, len(c.items))
	for _, it := range c.items {
		items = append(items, s.itemJSON(it, false))
	}
	desc := ""
	if it := c.itemNamed("Description"); it != nil {
		desc = it.value
	}
	return map[string]any{
		"$type":           s.typeName(structNS + "MtoContainer" + dataLayer),
		"__type":          "MtoContainer",
		"Id":              c.id,
		"ContainerType":   containerTypePassword,
		"BaseContainerId": c.formID,
		"DataStates":      c.dataStates,
		"Info": map[string]any{
			"$type":               s.typeName(structNS + "MtoContainerInfo" + dataLayer),
			"ContainerName":       c.name,
			"BaseContainerName":   "AD User",
			"ContainerInfo":       desc,
			"ContainerInfoFields": nil,
		},
		"Items": items,
	}
}

// formJSON is the "AD User" form (container type 1) the entries derive from.
func (s *Server) formJSON() map[string]any {
	fields := []struct {
		name string
		typ  int
	}{{"Description", itemText}, {"Domain", itemText}, {"Username", itemUserName}, {"Password", itemPassword}}
	items := []any{}
	for i, f := range fields {
		items = append(items, s.itemJSON(&item{id: s.formID[:24] + formItemSuffix(i), containerID: s.formID, name: f.name, typ: f.typ, position: i}, false))
	}
	return map[string]any{
		"$type":           s.typeName(structNS + "MtoContainer" + dataLayer),
		"__type":          "MtoContainer",
		"Id":              s.formID,
		"ContainerType":   containerTypeForm,
		"BaseContainerId": nil,
		"DataStates":      dataStateActive,
		"Info": map[string]any{
			"$type":             s.typeName(structNS + "MtoContainerInfo" + dataLayer),
			"ContainerName":     "AD User",
			"BaseContainerName": nil,
		},
		"Items": items,
	}
}

func formItemSuffix(i int) string { return strings.Repeat("0", 11) + string(rune('1'+i)) }

func (s *Server) rightJSON(r *right, dataID string) map[string]any {
	var seal any
	if r.sealID != "" {
		seal = r.sealID
	}
	var pub any
	if l := s.legitimateByID(r.legitimateID); l != nil {
		pub = base64.StdEncoding.EncodeToString(l.pub)
	}
	var key any
	if r.rightKey != nil {
		key = base64.StdEncoding.EncodeToString(r.rightKey)
	}
	return map[string]any{
		"$type":               s.typeName(structNS + "MtoDataRight" + dataLayer),
		"Id":                  r.id,
		"LegitimateId":        r.legitimateID,
		"DataId":              dataID,
		"RightKey":            key,
		"LegitimatePublicKey": pub,
		"HasRightKey":         r.rightKey != nil,
		"Rights":              r.rights,
		"OwnerRight":          r.owner,
		"SealId":              seal,
		"SecuredData":         false,
		"IncludeDataRightKey": r.rightKey != nil,
		"ValidFromUtc":        nil,
		"ValidToUtc":          nil,
	}
}

func (s *Server) legitimateByID(id string) *legitimate {
	if u, ok := s.users[id]; ok {
		return u
	}
	return s.roles[id]
}
