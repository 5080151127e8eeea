package sdk

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"
)

// AttributeType is the type of a config attribute.
type AttributeType string

const (
	TypeString   AttributeType = "string"
	TypeNumber   AttributeType = "number"
	TypeBool     AttributeType = "bool"
	TypeDuration AttributeType = "duration" // a string such as "30s" or "5m"
	TypeList     AttributeType = "list(string)"
)

// Attribute declares one attribute of a connector's `config {}` block. The
// host decodes the block against these declarations and reports mistakes at
// their line in the operator's file.
type Attribute struct {
	Name     string
	Type     AttributeType
	Required bool
	// Sensitive attributes are never logged or shown by the host.
	Sensitive   bool
	Description string
	// Default is used when the attribute is absent: a string, float64, bool,
	// duration string or []string, matching Type. Nil means no default.
	Default any
}

var attributeName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Config holds an instance's configuration values: string, float64, bool,
// time.Duration or []string, by attribute type. Values have been checked
// against the schema, so the getters below need no error result.
type Config map[string]any

// String returns a string attribute, or "" when it is unset.
func (c Config) String(name string) string { s, _ := c[name].(string); return s }

// Bool returns a bool attribute, or false when it is unset.
func (c Config) Bool(name string) bool { b, _ := c[name].(bool); return b }

// Number returns a number attribute, or 0 when it is unset.
func (c Config) Number(name string) float64 { f, _ := c[name].(float64); return f }

// Duration returns a duration attribute, or 0 when it is unset.
func (c Config) Duration(name string) time.Duration {
	d, _ := c[name].(time.Duration)
	return d
}

// Strings returns a list attribute, or nil when it is unset.
func (c Config) Strings(name string) []string { l, _ := c[name].([]string); return l }

// Has reports whether the attribute has a value.
func (c Config) Has(name string) bool { _, ok := c[name]; return ok }

// ValidateSchema checks the declarations themselves: names, types and
// defaults. The SDK calls it when a connector starts, so an author sees a
// mistake at once rather than when an operator configures the connector.
func ValidateSchema(schema []Attribute) error {
	seen := map[string]bool{}
	for _, a := range schema {
		if !attributeName.MatchString(a.Name) {
			return fmt.Errorf("config attribute %q: a name must be lower-case letters, digits and underscores, starting with a letter", a.Name)
		}
		if seen[a.Name] {
			return fmt.Errorf("config attribute %q is declared twice", a.Name)
		}
		seen[a.Name] = true
		switch a.Type {
		case TypeString, TypeNumber, TypeBool, TypeDuration, TypeList:
		default:
			return fmt.Errorf("config attribute %q has unknown type %q; use one of string, number, bool, duration, list(string)", a.Name, a.Type)
		}
		if a.Default != nil {
			if a.Required {
				return fmt.Errorf("config attribute %q is required and also has a default; drop one of them", a.Name)
			}
			if _, err := convertValue(a, a.Default); err != nil {
				return fmt.Errorf("config attribute %q: default: %w", a.Name, err)
			}
		}
	}
	return nil
}

// DecodeConfig checks raw values (as decoded from JSON) against schema and
// returns them typed, with defaults filled in. Every problem is reported, one
// per line, so an operator can fix them in one pass.
func DecodeConfig(schema []Attribute, raw map[string]any) (Config, error) {
	out := Config{}
	var problems []string
	known := map[string]bool{}
	for _, a := range schema {
		known[a.Name] = true
		v, present := raw[a.Name]
		if !present || v == nil {
			if a.Required {
				problems = append(problems, fmt.Sprintf("the required attribute %q is missing (%s)", a.Name, a.Description))
				continue
			}
			if a.Default == nil {
				continue
			}
			v = a.Default
		}
		typed, err := convertValue(a, v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("attribute %q: %v", a.Name, err))
			continue
		}
		out[a.Name] = typed
	}
	var unknown []string
	for name := range raw {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		problems = append(problems, fmt.Sprintf("unknown attribute %q; this connector accepts: %s", name, attributeNames(schema)))
	}
	if len(problems) > 0 {
		return nil, &Error{Code: CodeInvalidConfig, Message: "invalid connector config: " + strings.Join(problems, "; "),
			Hint: "fix the connector's config {} block"}
	}
	return out, nil
}

func attributeNames(schema []Attribute) string {
	names := make([]string, 0, len(schema))
	for _, a := range schema {
		names = append(names, a.Name)
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

// convertValue turns a JSON-decoded value into the Go type of a.Type. The
// error never quotes the value: it may be a secret.
func convertValue(a Attribute, v any) (any, error) {
	wrong := func() error { return fmt.Errorf("want a %s, got a %s", a.Type, jsonKind(v)) }
	switch a.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return nil, wrong()
		}
		return s, nil
	case TypeBool:
		b, ok := v.(bool)
		if !ok {
			return nil, wrong()
		}
		return b, nil
	case TypeNumber:
		switch n := v.(type) {
		case float64:
			if math.IsNaN(n) || math.IsInf(n, 0) {
				return nil, fmt.Errorf("want a finite number")
			}
			return n, nil
		case int:
			return float64(n), nil
		case json.Number:
			return n.Float64()
		}
		return nil, wrong()
	case TypeDuration:
		switch d := v.(type) {
		case time.Duration:
			return d, nil
		case string:
			parsed, err := time.ParseDuration(d)
			if err != nil {
				return nil, fmt.Errorf("not a duration; write it like \"30s\", \"5m\" or \"1h30m\"")
			}
			if parsed < 0 {
				return nil, fmt.Errorf("a duration must not be negative")
			}
			return parsed, nil
		}
		return nil, wrong()
	case TypeList:
		switch l := v.(type) {
		case []string:
			return append([]string(nil), l...), nil
		case []any:
			out := make([]string, 0, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("element %d: want a string, got a %s", i, jsonKind(e))
				}
				out = append(out, s)
			}
			return out, nil
		}
		return nil, wrong()
	}
	return nil, fmt.Errorf("unknown type %q", a.Type)
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case float64, int, json.Number:
		return "number"
	case []any, []string:
		return "list"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// configToJSON encodes typed config values for the wire; durations travel as
// their string form so that DecodeConfig reads them back.
func configToJSON(c Config) ([]byte, error) {
	plain := make(map[string]any, len(c))
	for k, v := range c {
		if d, ok := v.(time.Duration); ok {
			v = d.String()
		}
		plain[k] = v
	}
	return json.Marshal(plain)
}
