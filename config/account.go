package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Requester is who asks for a session, as the account template sees it.
type Requester struct {
	Name   string
	Groups []string
}

// What an account template may read; checked at load time so that a typo is
// reported with the file rather than at the first session.
var (
	requesterAttrs = []string{"name", "groups"}
	resourceAttrs  = []string{"name", "platform", "address", "domain", "tags"}
)

// Account evaluates the activity's account template for one session and
// splits the result at the first backslash into domain and user name
// ("CORP\adm-alice" gives "CORP" and "adm-alice"; "root" gives "" and
// "root"). Without a template, the account is the requester's own name in the
// resource's domain. It is safe to call from many goroutines.
func (a *Activity) Account(requester Requester, resource *Resource) (domain, username string, diags hcl.Diagnostics) {
	if resource == nil {
		return "", "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No resource",
			Detail: fmt.Sprintf("The account of activity %q depends on the resource, and none was given.", a.Name)}}
	}
	if a.AccountTemplate == nil {
		if requester.Name == "" {
			return "", "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Empty account name",
				Detail: fmt.Sprintf("Activity %q uses the requester's name as the account, and the requester has no name.", a.Name), Subject: a.DeclRange.Ptr()}}
		}
		return resource.Domain, requester.Name, nil
	}
	ctx := accountContext(requesterValue(requester), resourceValue(resource))
	v, diags := a.AccountTemplate.Value(ctx)
	if diags.HasErrors() {
		return "", "", diags
	}
	domain, username, more := accountFromValue(a.Name, v, a.AccountTemplate.Range())
	return domain, username, append(diags, more...)
}

func accountContext(requester, resource cty.Value) *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{"requester": requester, "resource": resource},
		Functions: templateFunctions,
	}
}

func requesterValue(r Requester) cty.Value {
	groups := cty.ListValEmpty(cty.String)
	if len(r.Groups) > 0 {
		vals := make([]cty.Value, 0, len(r.Groups))
		for _, g := range r.Groups {
			vals = append(vals, cty.StringVal(g))
		}
		groups = cty.ListVal(vals)
	}
	return cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(r.Name), "groups": groups})
}

func resourceValue(r *Resource) cty.Value {
	tags := cty.MapValEmpty(cty.String)
	if len(r.Tags) > 0 {
		vals := make(map[string]cty.Value, len(r.Tags))
		for k, v := range r.Tags {
			vals[k] = cty.StringVal(v)
		}
		tags = cty.MapVal(vals)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"name":     cty.StringVal(r.Name),
		"platform": cty.StringVal(r.Platform),
		"address":  cty.StringVal(r.Address),
		"domain":   cty.StringVal(r.Domain),
		"tags":     tags,
	})
}

var (
	unknownRequester = cty.ObjectVal(map[string]cty.Value{
		"name":   cty.UnknownVal(cty.String),
		"groups": cty.UnknownVal(cty.List(cty.String)),
	})
	unknownResource = cty.ObjectVal(map[string]cty.Value{
		"name":     cty.UnknownVal(cty.String),
		"platform": cty.UnknownVal(cty.String),
		"address":  cty.UnknownVal(cty.String),
		"domain":   cty.UnknownVal(cty.String),
		"tags":     cty.UnknownVal(cty.Map(cty.String)),
	})
)

// accountFromValue turns the template's value into domain and user name.
func accountFromValue(activity string, v cty.Value, rng hcl.Range) (domain, username string, diags hcl.Diagnostics) {
	bad := func(summary, format string, args ...any) (string, string, hcl.Diagnostics) {
		return "", "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr()}}
	}
	s, err := convert.Convert(v, cty.String)
	switch {
	case err != nil:
		return bad("Incorrect attribute value type", "Inappropriate value for attribute \"account\" of activity %q: %s.", activity, err)
	case s.IsNull():
		return bad("Empty account name", "The account template of activity %q gave null.", activity)
	case !s.IsKnown():
		return bad("Account not known", "The account template of activity %q could not be worked out.", activity)
	}
	account := s.AsString()
	domain, username, found := strings.Cut(account, `\`)
	if !found {
		domain, username = "", account
	}
	if username == "" {
		return bad("Empty account name", "The account template of activity %q gave %q, which has no user name; write it as DOMAIN\\\\user or user.", activity, account)
	}
	return domain, username, nil
}

// checkAccountTemplate checks what can be checked without a session: the
// names the template reads, its functions and its type. It returns false
// when it reported an error.
func (l *loader) checkAccountTemplate(activity string, expr hcl.Expression) bool {
	ok := true
	for _, t := range expr.Variables() {
		root := t.RootName()
		var allowed []string
		switch root {
		case "requester":
			allowed = requesterAttrs
		case "resource":
			allowed = resourceAttrs
		default:
			l.errorf(t.SourceRange(), "Unknown variable",
				"An account template can use requester (%s) and resource (%s), not %q.%s",
				strings.Join(requesterAttrs, ", "), strings.Join(resourceAttrs, ", "), root, didYouMean(root, []string{"requester", "resource"}))
			ok = false
			continue
		}
		if len(t) < 2 {
			continue // the object itself; the type check below reports it
		}
		if step, isAttr := t[1].(hcl.TraverseAttr); isAttr && !slices.Contains(allowed, step.Name) {
			l.errorf(t.SourceRange(), "Unsupported attribute", "%s has no attribute %q; it has %s.%s",
				root, step.Name, strings.Join(allowed, ", "), didYouMean(step.Name, allowed))
			ok = false
		}
	}
	if !ok {
		return false
	}
	v, diags := expr.Value(accountContext(unknownRequester, unknownResource))
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return false
	}
	if !v.IsKnown() {
		if _, err := convert.Convert(v, cty.String); err != nil {
			l.errorf(expr.Range(), "Incorrect attribute value type", "Inappropriate value for attribute \"account\": %s.", err)
			return false
		}
		return true
	}
	_, _, diags = accountFromValue(activity, v, expr.Range())
	l.diags = append(l.diags, diags...)
	return !diags.HasErrors()
}

// checkAccountFor evaluates a template against a resource a policy pairs the
// activity with, so that, for example, a tag the resource lacks is reported
// now rather than when a session fails.
func (l *loader) checkAccountFor(act *Activity, res *Resource, p *AccessPolicy, at hcl.Range) {
	key := [2]string{act.Name, res.Name}
	if l.accountChecked[key] || l.badTemplates[act] {
		return
	}
	l.accountChecked[key] = true
	v, diags := act.AccountTemplate.Value(accountContext(unknownRequester, resourceValue(res)))
	if !diags.HasErrors() && v.IsWhollyKnown() {
		_, _, diags = accountFromValue(act.Name, v, act.AccountTemplate.Range())
	}
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		d.Detail += fmt.Sprintf(" This is for resource %q, which access policy %q (at %s) pairs with activity %q.", res.Name, p.Name, rangeString(at), act.Name)
		l.diags = append(l.diags, d)
	}
}
