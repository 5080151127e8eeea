package config

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/byov/byov/sdk"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// The checks below run once every block has been read, since they look
// across blocks.

func (l *loader) knownPluginTypes() (known map[string]bool, checkable bool) {
	known = map[string]bool{BuiltinPluginType: true}
	for t := range l.cfg.Plugins {
		known[t] = true
	}
	if l.opts.KnownPluginTypes == nil {
		return known, false
	}
	for _, t := range l.opts.KnownPluginTypes() {
		known[t] = true
	}
	return known, true
}

func (l *loader) checkConnector(pc pendingConnector, known map[string]bool, checkable bool) {
	c := pc.c
	if c.Plugin == "" {
		// Missing or wrong; already reported.
		return
	}
	if checkable && !known[c.Plugin] {
		l.errorf(pc.pluginRange, "Unknown plugin type",
			"Connector %q uses plugin type %q, but there is no plugin block for it and no binary byov-connector-%s in the plugin directory.%s",
			c.Name, c.Plugin, c.Plugin, didYouMean(c.Plugin, keys(known)))
		return
	}
	schema, ok := l.schema(c.Plugin, pc.pluginRange)
	if !ok {
		c.Config, c.ConfigRanges = l.unchecked(pc.config)
		return
	}
	c.Config, c.ConfigRanges = l.checked(c, schema, pc.config)
	c.ConfigChecked = true
}

type schemaResult struct {
	attrs []sdk.Attribute
	ok    bool
}

// schema asks for a plugin type's schema once, and warns once per type when
// it cannot be had: the config is then checked when the plugin starts.
func (l *loader) schema(pluginType string, at hcl.Range) ([]sdk.Attribute, bool) {
	if r, done := l.schemas[pluginType]; done {
		return r.attrs, r.ok
	}
	var r schemaResult
	switch {
	case l.opts.SchemaFunc == nil:
		l.warnf(at, "Connector config not checked",
			"The config blocks of %q connectors were not checked against the plugin's schema, because no plugins were consulted; the plugin checks them when byov configures it.", pluginType)
	default:
		attrs, err := l.opts.SchemaFunc(pluginType)
		if err != nil {
			l.warnf(at, "Connector config not checked",
				"The config blocks of %q connectors were not checked, because the plugin's schema could not be read: %v. The plugin checks them when byov configures it.", pluginType, err)
		} else {
			r = schemaResult{attrs: attrs, ok: true}
		}
	}
	l.schemas[pluginType] = r
	return r.attrs, r.ok
}

// unchecked turns a config block into JSON-compatible values without a
// schema, refusing only what no schema could accept.
func (l *loader) unchecked(block *hcl.Block) (map[string]any, map[string]hcl.Range) {
	values, ranges := map[string]any{}, map[string]hcl.Range{}
	if block == nil {
		return values, ranges
	}
	attrs, diags := block.Body.JustAttributes()
	l.diags = append(l.diags, diags...)
	for _, name := range keys(attrs) {
		attr := attrs[name]
		v, diags := attr.Expr.Value(l.ctx)
		l.diags = append(l.diags, diags...)
		if diags.HasErrors() || v.IsNull() {
			continue
		}
		var out any
		ty := v.Type()
		switch {
		case ty == cty.String || ty == cty.Bool || ty == cty.Number:
			out = l.jsonValue(attr, v, ty)
		case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
			out = l.jsonValue(attr, v, cty.List(cty.String))
		default:
			l.errorf(attr.Expr.Range(), "Incorrect attribute value type",
				"Inappropriate value for attribute %q: a connector config value is a string, number, bool or list of strings.", name)
		}
		if out != nil {
			values[name], ranges[name] = out, attr.Expr.Range()
		}
	}
	return values, ranges
}

// checked decodes a config block against the plugin's schema, reporting
// unknown, missing and mistyped attributes where they are.
func (l *loader) checked(c *Connector, schema []sdk.Attribute, block *hcl.Block) (map[string]any, map[string]hcl.Range) {
	values, ranges := map[string]any{}, map[string]hcl.Range{}
	var attrs hcl.Attributes
	missingAt := c.DeclRange
	if block != nil {
		bs := &hcl.BodySchema{}
		for _, a := range schema {
			bs.Attributes = append(bs.Attributes, hcl.AttributeSchema{Name: a.Name})
		}
		// hcl reports unknown attributes with its "Did you mean" suggestion.
		content, diags := block.Body.Content(bs)
		l.diags = append(l.diags, diags...)
		attrs = content.Attributes
		missingAt = block.DefRange
	}
	for _, a := range schema {
		attr, present := attrs[a.Name]
		var v cty.Value
		if present {
			var diags hcl.Diagnostics
			v, diags = attr.Expr.Value(l.ctx)
			l.diags = append(l.diags, diags...)
			if diags.HasErrors() {
				continue
			}
		}
		if !present || v.IsNull() {
			if a.Required {
				what := ""
				if a.Description != "" {
					what = fmt.Sprintf(" (%s)", strings.TrimSuffix(a.Description, "."))
				}
				l.errorf(missingAt, "Missing required config attribute",
					"The %s plugin needs %q%s in connector %q's config block.", c.Plugin, a.Name, what, c.Name)
			}
			continue
		}
		var out any
		switch a.Type {
		case sdk.TypeString:
			out = l.jsonValue(attr, v, cty.String)
		case sdk.TypeBool:
			out = l.jsonValue(attr, v, cty.Bool)
		case sdk.TypeNumber:
			out = l.jsonValue(attr, v, cty.Number)
		case sdk.TypeList:
			out = l.jsonValue(attr, v, cty.List(cty.String))
		case sdk.TypeDuration:
			if s, ok := l.jsonValue(attr, v, cty.String).(string); ok {
				if _, ok := l.parseDuration(a.Name, s, attr.Expr.Range(), true); ok {
					out = s
				}
			}
		default:
			l.warnf(attr.Expr.Range(), "Connector config not checked",
				"The %s plugin declares %q with type %q, which byov does not know; the plugin checks it when byov configures it.", c.Plugin, a.Name, a.Type)
			out = l.jsonValue(attr, v, v.Type())
		}
		if out == nil {
			continue
		}
		values[a.Name], ranges[a.Name] = out, attr.Expr.Range()
		if a.Sensitive {
			if s, ok := out.(string); ok {
				l.warnIfInline(attr, s)
			}
		}
	}
	return values, ranges
}

// jsonValue converts v to ty and then to the Go value encoding/json would
// produce; nil means the conversion failed and was reported.
func (l *loader) jsonValue(attr *hcl.Attribute, v cty.Value, ty cty.Type) any {
	v, ok := l.convert(attr.Name, attr.Expr.Range(), v, ty)
	if !ok {
		return nil
	}
	switch {
	case ty == cty.String:
		return v.AsString()
	case ty == cty.Bool:
		return v.True()
	case ty == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		if math.IsInf(f, 0) {
			l.errorf(attr.Expr.Range(), "Number out of range", "The value of %q is too large for a number.", attr.Name)
			return nil
		}
		return f
	case ty.IsListType() && ty.ElementType() == cty.String:
		out := []any{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, e.AsString())
		}
		return out
	}
	l.errorf(attr.Expr.Range(), "Incorrect attribute value type",
		"Inappropriate value for attribute %q: a connector config value is a string, number, bool or list of strings.", attr.Name)
	return nil
}

func (l *loader) checkActivity(pa pendingActivity) {
	a := pa.a
	if pa.unsure || a.Connector != "" && !l.isDeclared("connector", a.Connector) {
		return // already reported
	}
	at := a.DeclRange
	if pa.loginAccountRange != nil {
		at = *pa.loginAccountRange
	}
	switch a.LoginAccount {
	case LoginVault:
		if a.Connector == "" {
			l.errorf(at, "Missing connector",
				"Activity %q has login_account = \"vault\", so it needs a connector to check the account out of: add connector = connector.NAME, or set login_account = \"requester\".", a.Name)
		}
		if a.AccountTemplate == nil {
			l.errorf(at, "Missing account",
				"Activity %q has login_account = \"vault\", so it needs the account to check out: add, for example, account = \"${resource.domain}\\\\adm-${requester.name}\".", a.Name)
		}
	case LoginRequester:
		if a.Connector != "" {
			l.warnf(at, "Connector not used",
				"Activity %q has login_account = \"requester\", so nothing is checked out of connector %q; remove the connector or set login_account = \"vault\".", a.Name, a.Connector)
		}
	}
}

func (l *loader) checkPolicy(pp pendingPolicy) {
	p := pp.p
	cfg := l.cfg
	for _, u := range pp.users {
		switch u.kind {
		case "group":
			if !l.groupHasMembers(u.name) {
				l.warnf(u.rng, "Group with no members", "No user block lists group %q, so this entry lets nobody in.%s", u.name, didYouMean(u.name, l.groups()))
			}
		default:
			if _, ok := cfg.Users[u.name]; !ok {
				l.errorf(u.rng, "Reference to undeclared user", "There is no user block named %q; declare the user, or write a group as \"group:NAME\".%s", u.name, didYouMean(u.name, keys(cfg.Users)))
			}
		}
	}
	// A pair whose platforms differ can never start a session; that is a
	// mistake in the policy, reported at the resource that does not fit.
	// Case is ignored: "Windows" and "windows" are the same platform.
	for _, r := range pp.resources {
		res, ok := cfg.Resources[r.name]
		if !ok {
			continue
		}
		for _, ar := range pp.activities {
			act, ok := cfg.Activities[ar.name]
			if !ok || act.Platform == "" || res.Platform == "" || strings.EqualFold(act.Platform, res.Platform) {
				continue
			}
			l.errorf(r.rng, "Platform mismatch",
				"Access policy %q pairs activity %q (platform %q) with resource %q (platform %q); an activity runs only on resources of its platform. Move the resource to a policy with a %s activity, or fix the platform.",
				p.Name, act.Name, act.Platform, res.Name, res.Platform, res.Platform)
		}
	}
	for _, ar := range pp.activities {
		if act, ok := cfg.Activities[ar.name]; ok && act.AccountTemplate != nil {
			for _, r := range pp.resources {
				if res, ok := cfg.Resources[r.name]; ok {
					l.checkAccountFor(act, res, p, r.rng)
				}
			}
		}
	}
}

func (l *loader) groupHasMembers(group string) bool {
	for _, u := range l.cfg.Users {
		for _, g := range u.Groups {
			if g == group {
				return true
			}
		}
	}
	return false
}

func (l *loader) groups() []string {
	seen := map[string]bool{}
	for _, u := range l.cfg.Users {
		for _, g := range u.Groups {
			seen[g] = true
		}
	}
	out := keys(seen)
	sort.Strings(out)
	return out
}
