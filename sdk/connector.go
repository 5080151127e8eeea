package sdk

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
)

// ProtocolVersion is the connector protocol this SDK speaks. The host and the
// plugin agree on it through go-plugin's version negotiation.
const ProtocolVersion = 1

// Version is the version of this SDK module, reported to the host.
const Version = "0.1.0"

// Connector is what a connector binary implements. It is a factory: the host
// configures instances of it, each with its own config and service account.
type Connector interface {
	// Metadata describes the connector. It must return the same value every
	// time it is called.
	Metadata() Metadata
	// Configure creates an instance from a config that the SDK has already
	// checked against Metadata().ConfigSchema: required attributes are present,
	// unknown ones refused, types right and defaults filled in. Return an
	// *Error with CodeInvalidConfig for anything else wrong with it.
	Configure(ctx context.Context, req ConfigureRequest) (Instance, error)
}

// Instance is one configured vault connection.
type Instance interface {
	// Check tests the connection step by step and reports what it found. An
	// error means the check itself could not run; a failed step is a Finding
	// with OK false.
	Check(ctx context.Context, req CheckRequest) ([]Finding, error)
	// Checkout returns the credential of an account. An account that does not
	// exist is an *Error with CodeNotFound; one that matches several entries is
	// CodeAmbiguous.
	Checkout(ctx context.Context, req CheckoutRequest) (*Credential, error)
	// Close releases what the instance holds (sessions, files). Calls in flight
	// have finished when the SDK calls it.
	Close(ctx context.Context) error
}

// Checkiner is the optional Checkin capability: the vault is told when the
// session that took a credential has ended (to release or rotate it).
type Checkiner interface {
	Checkin(ctx context.Context, req CheckinRequest) error
}

// AccountStore is the optional Accounts capability, for vaults that own their
// data (the builtin vault). List never returns secrets.
type AccountStore interface {
	Put(ctx context.Context, req PutRequest) (version int64, err error)
	Delete(ctx context.Context, account Account) error
	List(ctx context.Context, req ListRequest) ([]AccountInfo, error)
}

// Capability names an optional part of the protocol.
type Capability string

const (
	// CapabilityCheckin means instances implement Checkiner.
	CapabilityCheckin Capability = "checkin"
	// CapabilityAccounts means instances implement AccountStore.
	CapabilityAccounts Capability = "accounts"
)

// Metadata describes a connector binary.
type Metadata struct {
	// Type is the connector type, as in the binary name
	// byov-connector-<type>: lower-case letters, digits and dashes.
	Type string
	// Version is the connector's semantic version, e.g. "1.2.0".
	Version string
	// Description is one line for `byov plugin list`.
	Description string
	// ConfigSchema lists the attributes of the connector's `config {}` block.
	ConfigSchema []Attribute
	// Capabilities lists the optional capabilities every instance implements.
	Capabilities []Capability
}

// Has reports whether the connector announces capability c.
func (m Metadata) Has(c Capability) bool {
	for _, have := range m.Capabilities {
		if have == c {
			return true
		}
	}
	return false
}

// ConfigureRequest carries one instance's configuration.
type ConfigureRequest struct {
	// InstanceID names the instance; the host uses the connector block's name.
	InstanceID string
	// Config holds the values of the `config {}` block, checked and with
	// defaults filled in.
	Config Config
	// ServiceAccount is the identity the instance logs in to its vault with.
	ServiceAccount ServiceAccount
	// Logger writes to the host's log, tagged with the connector and instance.
	Logger hclog.Logger
}

// ServiceAccount is the vault identity of a connector instance.
type ServiceAccount struct {
	Username string
	Secret   Secret
}

// CheckRequest asks for a connection check.
type CheckRequest struct {
	// TestAccount, when not zero, asks for a test lookup of that account.
	TestAccount Account
}

// Finding is the outcome of one step of a Check.
type Finding struct {
	Step    string
	OK      bool
	Message string
	Hint    string
}

// Account names an account in a vault, as DOMAIN\username.
type Account struct {
	Domain   string
	Username string
}

// String returns the account as DOMAIN\username, or username alone when it
// has no domain.
func (a Account) String() string {
	if a.Domain == "" {
		return a.Username
	}
	return a.Domain + `\` + a.Username
}

// IsZero reports whether the account is empty.
func (a Account) IsZero() bool { return a.Domain == "" && a.Username == "" }

// SessionContext says on whose behalf and why a credential is taken, so that
// vaults with their own logbook can record it.
type SessionContext struct {
	SessionID string
	Requester string
	Resource  string
	Activity  string
}

// CheckoutRequest asks for an account's credential.
type CheckoutRequest struct {
	Account Account
	// Options are per-activity vault options from the host's configuration.
	Options map[string]string
	Session SessionContext
	// Reason is the text to record in the vault's own audit, if it has one.
	Reason string
}

// Credential is a checked-out secret.
type Credential struct {
	// Username is the account name as the vault knows it.
	Username string
	Secret   Secret
	// LeaseID is opaque to the host and handed back on Checkin.
	LeaseID string
	// Metadata holds non-secret facts for the audit (entry id, version).
	Metadata map[string]string
	// ExpiresAt is zero when the vault sets no end to the credential.
	ExpiresAt time.Time
}

// CheckinRequest tells the vault that a session has ended.
type CheckinRequest struct {
	Account Account
	LeaseID string
	Session SessionContext
}

// PutRequest stores a new version of an account's secret.
type PutRequest struct {
	Account     Account
	Secret      Secret
	Description string
	Tags        map[string]string
}

// ListRequest asks for the accounts an instance holds.
type ListRequest struct {
	// Domain, when set, keeps only accounts of that domain (case-insensitive).
	Domain string
}

// AccountInfo describes a stored account, never its secret.
type AccountInfo struct {
	Account     Account
	Description string
	Tags        map[string]string
	Version     int64
	UpdatedAt   time.Time
}
