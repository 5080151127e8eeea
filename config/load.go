package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/byov/byov/sdk"
	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// SchemaFunc returns the config schema a plugin type declares. The host asks
// the plugin (GetMetadata); `byov config validate` may have no plugins at
// hand and pass nil.
type SchemaFunc func(pluginType string) ([]sdk.Attribute, error)

// LoadOptions are what the loader needs from outside the file. Every field is
// optional.
type LoadOptions struct {
	// SchemaFunc checks each connector's config {} block against its plugin's
	// schema. When it is nil or fails, the check is skipped with a warning.
	SchemaFunc SchemaFunc
	// KnownPluginTypes lists the connector types that have a binary in the
	// plugin directory. When it is nil, a connector whose plugin type has no
	// plugin block is not reported, since the binaries cannot be looked at.
	KnownPluginTypes func() []string
	// LookupEnv backs env(); it defaults to os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// BaseDir is where file() and the server's relative paths start; it
	// defaults to the config file's directory.
	BaseDir string
}

// BuiltinPluginType is the connector type that ships with byov; it is always
// known.
const BuiltinPluginType = "builtin"

// LoadFile reads and loads the configuration file at path.
func LoadFile(path string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read the configuration file",
			Detail:   fmt.Sprintf("%v. Pass the path of an HCL file such as byov.hcl.", err),
		}}
	}
	return Load(src, path, opts)
}

// Load loads a configuration from src; filename names it in diagnostics. It
// returns every problem it finds, errors and warnings sorted by position.
// The Config is nil when there is an error among them.
func Load(src []byte, filename string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		// A syntax error makes the rest of the tree guesswork; what follows
		// it would be reported wrongly more often than not.
		return nil, sortDiagnostics(diags)
	}
	l := newLoader(filename, opts)
	l.diags = diags
	l.load(file.Body)
	diags = sortDiagnostics(l.diags)
	if diags.HasErrors() {
		return nil, diags
	}
	return l.cfg, diags
}

func sortDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	return diags
}

// Block types that references name, with how messages call them.
var refKinds = map[string]string{
	"service_account":    "service account",
	"connector":          "connector",
	"connection_profile": "connection profile",
	"resource":           "resource",
	"activity":           "activity",
	"user":               "user",
	"access_policy":      "access policy",
	"plugin":             "plugin",
}

var rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "server"},
	{Type: "plugin", LabelNames: []string{"type"}},
	{Type: "service_account", LabelNames: []string{"name"}},
	{Type: "connector", LabelNames: []string{"name"}},
	{Type: "connection_profile", LabelNames: []string{"name"}},
	{Type: "resource", LabelNames: []string{"name"}},
	{Type: "user", LabelNames: []string{"name"}},
	{Type: "activity", LabelNames: []string{"name"}},
	{Type: "access_policy", LabelNames: []string{"name"}},
}}

// ref is a reference found in the file, resolved in a second pass once every
// block has been seen.
type ref struct {
	kind, name string
	rng        hcl.Range
}

type pendingConnector struct {
	c           *Connector
	pluginRange hcl.Range
	config      *hcl.Block
}

type pendingActivity struct {
	a                 *Activity
	loginAccountRange *hcl.Range
	// unsure is set when login_account or connector was written wrong: the
	// checks that depend on them would only repeat that mistake.
	unsure bool
}

type pendingPolicy struct {
	p          *AccessPolicy
	users      []ref // kind "user" or "group"
	activities []ref
	resources  []ref
}

type loader struct {
	opts     LoadOptions
	baseDir  string
	cfg      *Config
	ctx      *hcl.EvalContext
	diags    hcl.Diagnostics
	declared map[string]map[string]hcl.Range
	refs     []ref

	connectors []pendingConnector
	activities []pendingActivity
	policies   []pendingPolicy

	schemas map[string]schemaResult
	// accountChecked keeps one report per activity and resource when
	// several policies pair them.
	accountChecked map[[2]string]bool
	// badTemplates are account templates already reported as wrong.
	badTemplates map[*Activity]bool
}

func newLoader(filename string, opts LoadOptions) *loader {
	base := opts.BaseDir
	if base == "" {
		base = filepath.Dir(filename)
	}
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &loader{
		opts:    opts,
		baseDir: base,
		cfg: &Config{
			Filename:           filename,
			Plugins:            map[string]*Plugin{},
			ServiceAccounts:    map[string]*ServiceAccount{},
			Connectors:         map[string]*Connector{},
			ConnectionProfiles: map[string]*ConnectionProfile{},
			Resources:          map[string]*Resource{},
			Users:              map[string]*User{},
			Activities:         map[string]*Activity{},
		},
		ctx: &hcl.EvalContext{Functions: map[string]function.Function{
			"env":  envFunc(lookup),
			"file": fileFunc(base),
		}},
		declared:       map[string]map[string]hcl.Range{},
		schemas:        map[string]schemaResult{},
		accountChecked: map[[2]string]bool{},
		badTemplates:   map[*Activity]bool{},
	}
}

func (l *loader) errorf(rng hcl.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr()})
}

func (l *loader) warnf(rng hcl.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr()})
}

func (l *loader) load(body hcl.Body) {
	content, diags := body.Content(rootSchema)
	l.diags = append(l.diags, diags...)

	l.cfg.Server = l.defaultServer(body)
	var serverRange *hcl.Range
	for _, b := range content.Blocks {
		switch b.Type {
		case "server":
			if serverRange != nil {
				l.errorf(b.DefRange, "Duplicate server block", "There is already a server block at %s; merge the two.", rangeString(*serverRange))
				continue
			}
			serverRange = b.DefRange.Ptr()
			l.server(b)
		case "plugin":
			l.plugin(b)
		case "service_account":
			l.serviceAccount(b)
		case "connector":
			l.connector(b)
		case "connection_profile":
			l.connectionProfile(b)
		case "resource":
			l.resource(b)
		case "user":
			l.user(b)
		case "activity":
			l.activity(b)
		case "access_policy":
			l.accessPolicy(b)
		}
	}

	// Second pass: every block is known now.
	l.resolveRefs()
	// KnownPluginTypes may scan a directory: ask once.
	known, checkable := l.knownPluginTypes()
	for _, pc := range l.connectors {
		l.checkConnector(pc, known, checkable)
	}
	for _, pa := range l.activities {
		l.checkActivity(pa)
	}
	for _, pp := range l.policies {
		l.checkPolicy(pp)
	}
}

// declare registers a block name and reports a duplicate. A duplicate is
// still decoded, so the mistakes inside it are reported too.
func (l *loader) declare(b *hcl.Block) (string, bool) {
	kind, name, rng := b.Type, b.Labels[0], b.LabelRanges[0]
	switch kind {
	case "user":
		if strings.TrimSpace(name) == "" || strings.HasPrefix(name, GroupPrefix) {
			l.errorf(rng, "Invalid user name", "A user name must not be empty nor start with %q, which marks groups in access policies.", GroupPrefix)
			return name, false
		}
	case "plugin":
		if !pluginTypeName.MatchString(name) {
			l.errorf(rng, "Invalid plugin type", "%q is not a plugin type: a type is lower-case letters, digits and dashes, starting with a letter, as in the binary name byov-connector-<type>.", name)
			return name, false
		}
	default:
		if !hclsyntax.ValidIdentifier(name) {
			l.errorf(rng, "Invalid "+refKinds[kind]+" name", "%q cannot be referred to as %s.NAME: a name is letters, digits, underscores and dashes, starting with a letter.", name, kind)
			return name, false
		}
	}
	names := l.declared[kind]
	if names == nil {
		names = map[string]hcl.Range{}
		l.declared[kind] = names
	}
	if first, dup := names[name]; dup {
		l.errorf(rng, "Duplicate "+refKinds[kind]+" name", "A %s block named %q is already declared at %s; names must be unique within their kind.", kind, name, rangeString(first))
		return name, false
	}
	names[name] = b.DefRange
	return name, true
}

var pluginTypeName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

func rangeString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

func (l *loader) defaultServer(body hcl.Body) Server {
	return Server{
		Listen:               DefaultListen,
		DataDir:              filepath.Join(l.baseDir, DefaultDataDir),
		PluginDir:            filepath.Join(l.baseDir, DefaultPluginDir),
		PluginStartTimeout:   DefaultPluginStartTimeout,
		PluginDrainTimeout:   DefaultPluginDrainTimeout,
		PluginHealthInterval: DefaultPluginHealthInterval,
		CheckoutTimeout:      DefaultCheckoutTimeout,
		DeclRange:            body.MissingItemRange(),
	}
}

var serverSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "listen"},
	{Name: "data_dir"},
	{Name: "plugin_dir"},
	{Name: "tls_cert_file"},
	{Name: "tls_key_file"},
	{Name: "allow_plaintext_credentials"},
	{Name: "plugin_start_timeout"},
	{Name: "plugin_drain_timeout"},
	{Name: "plugin_health_interval"},
	{Name: "checkout_timeout"},
}}

func (l *loader) server(b *hcl.Block) {
	content, diags := b.Body.Content(serverSchema)
	l.diags = append(l.diags, diags...)
	a := content.Attributes
	s := &l.cfg.Server
	s.DeclRange = b.DefRange
	if v, attr := l.str(a, "listen"); attr != nil {
		if _, _, err := net.SplitHostPort(v); err != nil {
			l.errorf(attr.Expr.Range(), "Invalid listen address", "%q is not a host:port address (%v); write it like \"127.0.0.1:8443\" or \":8443\".", v, err)
		} else {
			s.Listen = v
		}
	}
	if v, attr := l.str(a, "data_dir"); attr != nil {
		s.DataDir = l.path(v)
	}
	if v, attr := l.str(a, "plugin_dir"); attr != nil {
		s.PluginDir = l.path(v)
	}
	cert, certAttr := l.str(a, "tls_cert_file")
	key, keyAttr := l.str(a, "tls_key_file")
	switch {
	case certAttr != nil && keyAttr == nil:
		l.errorf(certAttr.Range, "Missing tls_key_file", "tls_cert_file is set, so tls_key_file is needed too: TLS takes both files or neither.")
	case certAttr == nil && keyAttr != nil:
		l.errorf(keyAttr.Range, "Missing tls_cert_file", "tls_key_file is set, so tls_cert_file is needed too: TLS takes both files or neither.")
	case certAttr != nil:
		s.TLSCertFile, s.TLSKeyFile = l.path(cert), l.path(key)
	}
	s.AllowPlaintextCredentials = l.boolean(a, "allow_plaintext_credentials", false)
	s.PluginStartTimeout = l.duration(a, "plugin_start_timeout", DefaultPluginStartTimeout)
	s.PluginDrainTimeout = l.duration(a, "plugin_drain_timeout", DefaultPluginDrainTimeout)
	s.PluginHealthInterval = l.duration(a, "plugin_health_interval", DefaultPluginHealthInterval)
	s.CheckoutTimeout = l.duration(a, "checkout_timeout", DefaultCheckoutTimeout)
}

func (l *loader) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.baseDir, p)
}

var pluginSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "version"}}}

func (l *loader) plugin(b *hcl.Block) {
	name, ok := l.declare(b)
	content, diags := b.Body.Content(pluginSchema)
	l.diags = append(l.diags, diags...)
	p := &Plugin{Type: name, DeclRange: b.DefRange}
	if v, attr := l.str(content.Attributes, "version"); attr != nil && v != "" {
		c, err := version.NewConstraint(v)
		if err != nil {
			l.errorf(attr.Expr.Range(), "Invalid version constraint", "%q is not a version constraint (%v); write it like \">= 1.0.0\", \"~> 1.2\" or \">= 1.0, < 2.0\".", v, err)
		} else {
			p.Version, p.Constraints = v, c
		}
	}
	if ok {
		l.cfg.Plugins[name] = p
	}
}

var serviceAccountSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "username"},
	{Name: "secret"},
	{Name: "description"},
}}

func (l *loader) serviceAccount(b *hcl.Block) {
	name, ok := l.declare(b)
	content, diags := b.Body.Content(serviceAccountSchema)
	l.diags = append(l.diags, diags...)
	a := content.Attributes
	sa := &ServiceAccount{Name: name, DeclRange: b.DefRange}
	sa.Username, _ = l.str(a, "username")
	if v, attr := l.str(a, "secret"); attr != nil {
		sa.Secret, sa.SecretRange = sdk.Secret(v), attr.Expr.Range()
		l.warnIfInline(attr, v)
	}
	if ok {
		l.cfg.ServiceAccounts[name] = sa
	}
}

// warnIfInline warns about a secret written in the file itself, where it
// ends up in backups, diffs and screen shares.
func (l *loader) warnIfInline(attr *hcl.Attribute, value string) {
	if value == "" || !isLiteral(attr.Expr) {
		return
	}
	l.warnf(attr.Expr.Range(), "Secret written inline",
		"The value of %q is a secret written into the configuration file; use env(\"NAME\") or file(\"path\") so that it stays out of the file.", attr.Name)
}

// isLiteral reports whether expr is a constant: no references, no calls.
func isLiteral(expr hcl.Expression) bool {
	if len(expr.Variables()) > 0 {
		return false
	}
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return false
	}
	literal := true
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if _, call := n.(*hclsyntax.FunctionCallExpr); call {
			literal = false
		}
		return nil
	})
	return literal
}

var connectorSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "plugin", Required: true},
		{Name: "description"},
		{Name: "service_account"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "config"}},
}

func (l *loader) connector(b *hcl.Block) {
	name, ok := l.declare(b)
	content, diags := b.Body.Content(connectorSchema)
	l.diags = append(l.diags, diags...)
	a := content.Attributes
	c := &Connector{Name: name, DeclRange: b.DefRange}
	pc := pendingConnector{c: c}
	if v, attr := l.str(a, "plugin"); attr != nil {
		c.Plugin, pc.pluginRange = v, attr.Expr.Range()
	}
	c.Description, _ = l.str(a, "description")
	if attr, present := a["service_account"]; present {
		c.ServiceAccount = l.ref(attr, "service_account")
	}
	for _, cb := range content.Blocks {
		if pc.config != nil {
			l.errorf(cb.DefRange, "Duplicate config block", "Connector %q already has a config block at %s; merge the two.", name, rangeString(pc.config.DefRange))
			continue
		}
		pc.config = cb
	}
	if ok {
		l.cfg.Connectors[name] = c
	}
	l.connectors = append(l.connectors, pc)
}

var connectionProfileSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "description"},
	{Name: "max_session_duration"},
	{Name: "allow_password_access"},
	{Name: "require_reason"},
}}

func (l *loader) connectionProfile(b *hcl.Block) {
	name, ok := l.declare(b)
	content, diags := b.Body.Content(connectionProfileSchema)
	l.diags = append(l.diags, diags...)
	a := content.Attributes
	p := &ConnectionProfile{Name: name, DeclRange: b.DefRange}
	p.Description, _ = l.str(a, "description")
	p.MaxSessionDuration = l.duration(a, "max_session_duration", DefaultMaxSessionDuration)
	p.AllowPasswordAccess = l.boolean(a, "allow_password_access", false)
	p.RequireReason = l.boolean(a, "require_reason", false)
	if ok {
		l.cfg.ConnectionProfiles[name] = p
	}
}

var resourceSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "description"},
	{Name: "platform", Required: true},
	{Name: "address"},
	{Name: "domain"},
	{Name: "tags"},
}}

func (l *loader) resource(b *hcl.Block) {
	name, ok := l.declare(b)
	content, diags := b.Body.Content(resourceSchema)
	l.diags = append(l.diags, diags...)
	a := content.Attributes
	r := &Resource{Name: name, DeclRange: b.DefRange}
	r.Description, _ = l.str(a, "description")
	r.Platform = l.platform(a)
	r.Address, _ = l.str(a, "address")
	r.Domain, _ = l.str(a, "domain")
	r.Tags = l.strMap(a, "tags")
	if ok {
		l.cfg.Resources[name] = r
	}
}

func (l *loader) platform(a hcl.Attributes) string {
	v, attr := l.str(a, "platform")
	if attr != nil && strings.TrimSpace(v) == "" {
		l.errorf(attr.Expr.Range(), "Empty platform", "The platform must name a platform such as \"windows\" or \"linux\"; activities and resources are matched on it.")
	}
	return v
}

var userSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "groups"}}}

func (l *loader) user(b *hcl.Block) {
	name, ok := l.declare(b)
	content, diags := b.Body.Content(userSchema)
	l.diags = append(l.diags, diags...)
	u := &User{Name: name, DeclRange: b.DefRange}
	if attr, present := content.Attributes["groups"]; present {
		for _, e := range l.strListElems(attr) {
			if strings.TrimSpace(e.name) == "" {
				l.errorf(e.rng, "Empty group name", "A group name must not be empty.")
				continue
			}
			u.Groups = append(u.Groups, strings.TrimPrefix(e.name, GroupPrefix))
		}
	}
	if ok {
		l.cfg.Users[name] = u
	}
}

var activitySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "description"},
	{Name: "platform", Required: true},
	{Name: "login_account"},
	{Name: "type"},
	{Name: "connector"},
	{Name: "account"},
	{Name: "vault_options"},
}}

func (l *loader) activity(b *hcl.Block) {
	name, ok := l.declare(b)
	content, diags := b.Body.Content(activitySchema)
	l.diags = append(l.diags, diags...)
	a := content.Attributes
	act := &Activity{Name: name, LoginAccount: LoginVault, Type: "interactive", DeclRange: b.DefRange}
	pa := pendingActivity{a: act}
	act.Description, _ = l.str(a, "description")
	act.Platform = l.platform(a)
	if v, attr := l.str(a, "login_account"); attr != nil {
		switch LoginAccount(v) {
		case LoginVault, LoginRequester:
			act.LoginAccount = LoginAccount(v)
			pa.loginAccountRange = attr.Expr.Range().Ptr()
		default:
			pa.unsure = true
			l.errorf(attr.Expr.Range(), "Invalid login_account", "login_account is %q or %q, not %q: \"vault\" checks the account out of the activity's connector, \"requester\" uses the requester's own account.", LoginVault, LoginRequester, v)
		}
	}
	if v, attr := l.str(a, "type"); attr != nil && v != "" {
		act.Type = v
	}
	if attr, present := a["connector"]; present {
		act.Connector = l.ref(attr, "connector")
		pa.unsure = pa.unsure || act.Connector == ""
	}
	if attr, present := a["account"]; present {
		act.AccountTemplate = attr.Expr
		if !l.checkAccountTemplate(name, attr.Expr) {
			l.badTemplates[act] = true
		}
	}
	act.VaultOptions = l.strMap(a, "vault_options")
	if ok {
		l.cfg.Activities[name] = act
	}
	l.activities = append(l.activities, pa)
}

var accessPolicySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "description"},
	{Name: "type"},
	{Name: "connection_profile", Required: true},
	{Name: "users", Required: true},
	{Name: "activities", Required: true},
	{Name: "resources", Required: true},
}}

func (l *loader) accessPolicy(b *hcl.Block) {
	name, ok := l.declare(b)
	content, diags := b.Body.Content(accessPolicySchema)
	l.diags = append(l.diags, diags...)
	a := content.Attributes
	p := &AccessPolicy{Name: name, Type: "resource", DeclRange: b.DefRange}
	pp := pendingPolicy{p: p}
	if v, attr := l.str(a, "type"); attr != nil {
		if v != "resource" {
			l.errorf(attr.Expr.Range(), "Unsupported access policy type", "The only access policy type is \"resource\" (users × activities × resources), not %q.", v)
		}
	}
	if attr, present := a["connection_profile"]; present {
		p.ConnectionProfile = l.ref(attr, "connection_profile")
	}
	if attr, present := a["users"]; present {
		for _, e := range l.userElems(attr) {
			if g, isGroup := strings.CutPrefix(e.name, GroupPrefix); isGroup {
				if strings.TrimSpace(g) == "" {
					l.errorf(e.rng, "Empty group name", "Write a group as \"group:NAME\".")
					continue
				}
				pp.users = append(pp.users, ref{kind: "group", name: g, rng: e.rng})
			} else {
				if strings.TrimSpace(e.name) == "" {
					l.errorf(e.rng, "Empty user name", "Write a user name, or a group as \"group:NAME\".")
					continue
				}
				pp.users = append(pp.users, ref{kind: "user", name: e.name, rng: e.rng})
			}
			p.Users = append(p.Users, e.name)
		}
	}
	if attr, present := a["activities"]; present {
		pp.activities = l.refList(attr, "activity")
		p.Activities = names(pp.activities)
	}
	if attr, present := a["resources"]; present {
		pp.resources = l.refList(attr, "resource")
		p.Resources = names(pp.resources)
	}
	if a["users"] != nil && a["activities"] != nil && a["resources"] != nil &&
		(len(p.Users) == 0 || len(p.Activities) == 0 || len(p.Resources) == 0) {
		l.warnf(b.DefRange, "Access policy allows nothing", "Access policy %q needs at least one user, one activity and one resource to allow anything.", p.Name)
	}
	if ok {
		l.cfg.AccessPolicies = append(l.cfg.AccessPolicies, p)
	}
	l.policies = append(l.policies, pp)
}

func names(refs []ref) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.name)
	}
	return out
}

// Attribute values

// value evaluates an attribute and converts it to ty. It returns a nil
// attribute when the attribute is absent or null, or when its value is wrong
// (which it reports).
func (l *loader) value(attrs hcl.Attributes, name string, ty cty.Type) (cty.Value, *hcl.Attribute) {
	attr, present := attrs[name]
	if !present {
		return cty.NilVal, nil
	}
	v, diags := attr.Expr.Value(l.ctx)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, nil
	}
	v, ok := l.convert(attr.Name, attr.Expr.Range(), v, ty)
	if !ok {
		return cty.NilVal, nil
	}
	return v, attr
}

// convert converts v to ty, reporting a wrong type the way hcl's own decoder
// does. It also refuses null and unknown values nested in collections, which
// the callers could not turn into Go values.
func (l *loader) convert(name string, rng hcl.Range, v cty.Value, ty cty.Type) (cty.Value, bool) {
	cv, err := convert.Convert(v, ty)
	if err != nil {
		l.errorf(rng, "Incorrect attribute value type", "Inappropriate value for attribute %q: %s.", name, err)
		return cty.NilVal, false
	}
	if !cv.IsWhollyKnown() {
		l.errorf(rng, "Value not known", "The value of %q cannot be worked out when the configuration is loaded.", name)
		return cty.NilVal, false
	}
	if ty.IsCollectionType() {
		for it := cv.ElementIterator(); it.Next(); {
			if _, e := it.Element(); e.IsNull() {
				l.errorf(rng, "Null element", "The value of %q holds a null element; remove it.", name)
				return cty.NilVal, false
			}
		}
	}
	return cv, true
}

func (l *loader) str(attrs hcl.Attributes, name string) (string, *hcl.Attribute) {
	v, attr := l.value(attrs, name, cty.String)
	if attr == nil {
		return "", nil
	}
	return v.AsString(), attr
}

func (l *loader) boolean(attrs hcl.Attributes, name string, def bool) bool {
	v, attr := l.value(attrs, name, cty.Bool)
	if attr == nil {
		return def
	}
	return v.True()
}

func (l *loader) duration(attrs hcl.Attributes, name string, def time.Duration) time.Duration {
	s, attr := l.str(attrs, name)
	if attr == nil {
		return def
	}
	d, ok := l.parseDuration(name, s, attr.Expr.Range(), false)
	if !ok {
		return def
	}
	return d
}

// parseDuration parses a Go duration. Zero is refused where it would mean
// "never" or "at once" by accident (timeouts, session length); a connector's
// schema may give zero a meaning (cache_ttl = "0s" turns a cache off).
func (l *loader) parseDuration(name, s string, rng hcl.Range, allowZero bool) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	if err != nil {
		l.errorf(rng, "Invalid duration", "%q is not a duration for %s; write it like \"30s\", \"15m\" or \"2h30m\" (units ms, s, m, h).", s, name)
		return 0, false
	}
	switch {
	case d < 0:
		l.errorf(rng, "Invalid duration", "%s must not be negative, and %q is.", name, s)
		return 0, false
	case d == 0 && !allowZero:
		l.errorf(rng, "Invalid duration", "%s must be longer than zero.", name)
		return 0, false
	}
	return d, true
}

func (l *loader) strMap(attrs hcl.Attributes, name string) map[string]string {
	v, attr := l.value(attrs, name, cty.Map(cty.String))
	if attr == nil {
		return nil
	}
	out := map[string]string{}
	for k, e := range v.AsValueMap() {
		out[k] = e.AsString()
	}
	return out
}

// strListElems evaluates a list of strings element by element, so that a
// later check can point at the element it is about.
func (l *loader) strListElems(attr *hcl.Attribute) []ref {
	elems, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		l.errorf(attr.Expr.Range(), "Invalid list", "%s must be a list written out in brackets, like [\"a\", \"b\"].", attr.Name)
		return nil
	}
	var out []ref
	for _, e := range elems {
		if r, ok := l.strElem(attr.Name, e); ok {
			out = append(out, r)
		}
	}
	return l.dedupe(attr.Name, out)
}

func (l *loader) strElem(list string, e hcl.Expression) (ref, bool) {
	v, diags := e.Value(l.ctx)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return ref{}, false
	}
	if v.IsNull() {
		l.errorf(e.Range(), "Null element", "The list %q holds a null element; remove it.", list)
		return ref{}, false
	}
	v, ok := l.convert(list, e.Range(), v, cty.String)
	if !ok {
		return ref{}, false
	}
	return ref{name: v.AsString(), rng: e.Range()}, true
}

// userElems reads the users of an access policy: names and "group:NAME"
// strings, and user.NAME references for those who write users the way they
// write everything else.
func (l *loader) userElems(attr *hcl.Attribute) []ref {
	elems, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		l.errorf(attr.Expr.Range(), "Invalid list", "users must be a list written out in brackets, like [\"alice\", \"group:admins\"].")
		return nil
	}
	var out []ref
	for _, e := range elems {
		if trav, d := hcl.AbsTraversalForExpr(e); !d.HasErrors() && trav.RootName() == "user" {
			if r, ok := l.parseRef(attr.Name, e, "user"); ok {
				r.kind = "" // the same entry as the string "NAME"
				out = append(out, r)
			}
			continue
		}
		if r, ok := l.strElem(attr.Name, e); ok {
			out = append(out, r)
		}
	}
	return l.dedupe(attr.Name, out)
}
