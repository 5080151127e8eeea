package config

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// ref reads a single reference such as connector.ps-prod from attr and
// records it for resolution; it returns the name, or "" when the expression
// is not a reference of the wanted kind (which it reports).
func (l *loader) ref(attr *hcl.Attribute, kind string) string {
	r, ok := l.parseRef(attr.Name, attr.Expr, kind)
	if !ok {
		return ""
	}
	l.refs = append(l.refs, r)
	return r.name
}

// refList reads a list of references, such as [resource.srv01, resource.srv02].
func (l *loader) refList(attr *hcl.Attribute, kind string) []ref {
	elems, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		l.errorf(attr.Expr.Range(), "Invalid list", "%s must be a list of references written out in brackets, like [%s.NAME].", attr.Name, kind)
		return nil
	}
	var out []ref
	for _, e := range elems {
		if r, ok := l.parseRef(attr.Name, e, kind); ok {
			l.refs = append(l.refs, r)
			out = append(out, r)
		}
	}
	return l.dedupe(attr.Name, out)
}

// dedupe drops repeated entries of a list with a warning: harmless, but
// usually a copy-and-paste slip where another name was meant.
func (l *loader) dedupe(list string, refs []ref) []ref {
	seen := map[string]hcl.Range{}
	out := refs[:0]
	for _, r := range refs {
		key := r.kind + "." + r.name
		if first, dup := seen[key]; dup {
			l.warnf(r.rng, "Duplicate entry", "%s lists %q twice (first at %s); was another name meant?", list, r.name, rangeString(first))
			continue
		}
		seen[key] = r.rng
		out = append(out, r)
	}
	return out
}

func (l *loader) parseRef(attrName string, expr hcl.Expression, kind string) (ref, bool) {
	rng := expr.Range()
	trav, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() {
		detail := fmt.Sprintf("%s takes a reference to a %s block, like %s.NAME.", attrName, kind, kind)
		// Quoting the name is the likely mistake; say how to write it.
		if v, d := expr.Value(nil); !d.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			detail += fmt.Sprintf(" Write %s.%s, without quotes.", kind, v.AsString())
		}
		l.errorf(rng, "Invalid reference", "%s", detail)
		return ref{}, false
	}
	root := trav.RootName()
	if root != kind {
		if human, known := refKinds[root]; known {
			l.errorf(rng, "Wrong kind of reference", "%s takes a reference to a %s block, but this refers to a %s block.", attrName, kind, human)
		} else {
			l.errorf(rng, "Invalid reference", "%s takes a reference to a %s block, like %s.NAME; there is no block type %q.%s", attrName, kind, kind, root, didYouMean(root, []string{kind}))
		}
		return ref{}, false
	}
	step, isAttr := trav[len(trav)-1].(hcl.TraverseAttr)
	if len(trav) != 2 || !isAttr {
		l.errorf(rng, "Invalid reference", "A reference to a %s is %s.NAME, with nothing after the name.", refKinds[kind], kind)
		return ref{}, false
	}
	return ref{kind: kind, name: step.Name, rng: rng}, true
}

// resolveRefs reports references to blocks that are not declared.
func (l *loader) resolveRefs() {
	for _, r := range l.refs {
		names := l.declared[r.kind]
		if _, ok := names[r.name]; ok {
			continue
		}
		l.errorf(r.rng, "Reference to undeclared "+refKinds[r.kind], "There is no %s block named %q.%s", r.kind, r.name, didYouMean(r.name, keys(names)))
	}
}

func (l *loader) isDeclared(kind, name string) bool {
	_, ok := l.declared[kind][name]
	return ok
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// didYouMean returns " Did you mean "x"?" for the closest candidate, in the
// manner of hcl's own suggestions, or "" when none is close.
func didYouMean(given string, candidates []string) string {
	best, bestDist := "", 3 // hcl's threshold: farther than this is noise
	for _, c := range candidates {
		if d := editDistance(given, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
