package config

import (
	"time"

	"github.com/byov/byov/sdk"
	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2"
)

// Config is a loaded configuration. Every reference in it has been resolved:
// a name in one block (Connector.ServiceAccount, Activity.Connector,
// AccessPolicy.Resources, ...) is the key of an entry in the matching map.
type Config struct {
	// Filename is the file the configuration was read from.
	Filename string

	Server             Server
	Plugins            map[string]*Plugin
	ServiceAccounts    map[string]*ServiceAccount
	Connectors         map[string]*Connector
	ConnectionProfiles map[string]*ConnectionProfile
	Resources          map[string]*Resource
	Users              map[string]*User
	Activities         map[string]*Activity
	// AccessPolicies are in file order, because when several policies allow
	// a request the first one decides the connection profile.
	AccessPolicies []*AccessPolicy
}

// Server is the server block. Paths are made absolute against the config
// file's directory so that `byov serve -config /etc/byov/byov.hcl` behaves
// the same from any working directory.
type Server struct {
	Listen    string
	DataDir   string
	PluginDir string
	// TLSCertFile and TLSKeyFile are both set or both empty.
	TLSCertFile string
	TLSKeyFile  string
	// AllowPlaintextCredentials lets the API hand out credentials over plain
	// HTTP on a non-loopback address. It is off unless written out.
	AllowPlaintextCredentials bool

	// PluginStartTimeout bounds how long a connector binary may take to start
	// and answer its first call.
	PluginStartTimeout time.Duration
	// PluginDrainTimeout bounds how long calls in flight may run on an old
	// plugin process after a swap, before it is killed.
	PluginDrainTimeout time.Duration
	// PluginHealthInterval is the period of the supervisor's ping.
	PluginHealthInterval time.Duration
	// CheckoutTimeout bounds one checkout during session provisioning.
	CheckoutTimeout time.Duration

	// DeclRange is the server block's header, or the start of the file when
	// there is no server block.
	DeclRange hcl.Range
}

// Defaults of the server block.
const (
	DefaultListen               = "127.0.0.1:8443"
	DefaultDataDir              = "data"
	DefaultPluginDir            = "bin/plugins"
	DefaultPluginStartTimeout   = 10 * time.Second
	DefaultPluginDrainTimeout   = 30 * time.Second
	DefaultPluginHealthInterval = 15 * time.Second
	DefaultCheckoutTimeout      = 30 * time.Second
	DefaultMaxSessionDuration   = time.Hour
)

// Plugin is a plugin block: which versions of a connector type may run.
type Plugin struct {
	Type string
	// Version is the constraint as written; empty allows any version.
	Version string
	// Constraints is Version parsed; nil when Version is empty.
	Constraints version.Constraints
	DeclRange   hcl.Range
}

// Allows reports whether v satisfies the plugin's version constraint.
func (p *Plugin) Allows(v *version.Version) bool {
	return p.Constraints == nil || p.Constraints.Check(v)
}

// ServiceAccount is the identity a connector logs in to its vault with.
type ServiceAccount struct {
	Name     string
	Username string
	Secret   sdk.Secret
	// SecretRange locates the secret attribute, for errors the vault reports
	// about it later (a rejected key).
	SecretRange hcl.Range
	DeclRange   hcl.Range
}

// Connector is one configured instance of a connector plugin.
type Connector struct {
	Name        string
	Plugin      string
	Description string
	// ServiceAccount names an entry of Config.ServiceAccounts, or is empty.
	ServiceAccount string
	// Config holds the config {} block as JSON-compatible values: string,
	// float64, bool and []any of strings; durations stay strings. Defaults
	// are not filled in: the SDK does that against the same schema.
	Config map[string]any
	// ConfigChecked is false when no schema was available to check Config
	// against (LoadOptions.SchemaFunc nil or failing); the plugin then checks
	// it when it is configured.
	ConfigChecked bool
	// ConfigRanges locates each config attribute, for errors the plugin
	// reports about it when it is configured.
	ConfigRanges map[string]hcl.Range
	DeclRange    hcl.Range
}

// ConnectionProfile says how a session may be used.
type ConnectionProfile struct {
	Name        string
	Description string
	// MaxSessionDuration ends a session that has not ended before.
	MaxSessionDuration time.Duration
	// AllowPasswordAccess lets the requester read the checked-out credential.
	AllowPasswordAccess bool
	// RequireReason refuses a session request without a reason.
	RequireReason bool
	DeclRange     hcl.Range
}

// Resource is a machine or service an activity runs on.
type Resource struct {
	Name        string
	Description string
	Platform    string
	Address     string
	Domain      string
	Tags        map[string]string
	DeclRange   hcl.Range
}

// User is an identity that policies name. Tokens are issued elsewhere; the
// block only carries the groups a policy may name.
type User struct {
	Name      string
	Groups    []string
	DeclRange hcl.Range
}

// LoginAccount says whose account a session uses.
type LoginAccount string

const (
	// LoginVault checks the account named by the activity's template out of
	// the activity's connector.
	LoginVault LoginAccount = "vault"
	// LoginRequester uses the requester's own account; nothing is checked out.
	LoginRequester LoginAccount = "requester"
)

// Activity is something a user does on a resource, with the account it
// needs.
type Activity struct {
	Name         string
	Description  string
	Platform     string
	LoginAccount LoginAccount
	Type         string
	// Connector names an entry of Config.Connectors; it is set whenever
	// LoginAccount is LoginVault.
	Connector string
	// AccountTemplate is the account expression, evaluated per session by
	// Account. Nil means "${resource.domain}\\${requester.name}". It sees
	// requester (name, groups) and resource (name, platform, address,
	// domain, tags) and may call lower, upper, replace, trimprefix,
	// trimsuffix and substr.
	AccountTemplate hcl.Expression
	// VaultOptions are passed to the connector with every checkout.
	VaultOptions map[string]string
	DeclRange    hcl.Range
}

// AccessPolicy lets users run activities on resources.
type AccessPolicy struct {
	Name string
	// Type is "resource", the only kind of policy so far.
	Type string
	// ConnectionProfile names an entry of Config.ConnectionProfiles.
	ConnectionProfile string
	// Users holds user names and "group:NAME" entries.
	Users      []string
	Activities []string
	Resources  []string
	DeclRange  hcl.Range
}

// GroupPrefix marks a group entry in AccessPolicy.Users.
const GroupPrefix = "group:"
