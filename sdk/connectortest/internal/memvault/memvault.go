// Package memvault is a small, correct connector for the kit's own tests:
// a vault read from a JSON file into memory, with the Checkin and Accounts
// capabilities. The broken connectors under ../broken each change one thing
// about it, so that every kit case is shown to fail when it should.
package memvault

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/sdk"
)

// File is the vault file's content.
type File struct {
	// ServiceSecret is the secret a service account must present.
	ServiceSecret string  `json:"service_secret"`
	Entries       []Entry `json:"entries"`
}

// Entry is one account. Two entries may name the same account; a checkout
// of it is then ambiguous.
type Entry struct {
	Domain   string `json:"domain"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// Connector is the correct connector. Its zero value is ready to use.
type Connector struct{}

// Metadata describes memvault.
func (Connector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		Type:        "memvault",
		Version:     "1.0.0",
		Description: "an in-memory vault loaded from a JSON file (connectortest's own tests)",
		ConfigSchema: []sdk.Attribute{
			{Name: "file", Type: sdk.TypeString, Required: true, Description: "the JSON file the vault is loaded from"},
			{Name: "token", Type: sdk.TypeString, Sensitive: true, Description: "a sensitive value that must never be shown"},
		},
		Capabilities: []sdk.Capability{sdk.CapabilityCheckin, sdk.CapabilityAccounts},
	}
}

// Configure loads the vault file.
func (Connector) Configure(_ context.Context, req sdk.ConfigureRequest) (sdk.Instance, error) {
	path := req.Config.String("file")
	if strings.TrimSpace(path) == "" {
		return nil, sdk.Errorf(sdk.CodeInvalidConfig, "set file to the vault's JSON file", "file is empty")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, sdk.Wrap(err, sdk.CodeInvalidConfig, "check file", "cannot read the vault file: "+err.Error())
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, sdk.Wrap(err, sdk.CodeInvalidConfig, "check file", "the vault file is not valid JSON: "+err.Error())
	}
	if req.ServiceAccount.Secret.Reveal() != f.ServiceSecret {
		return nil, sdk.Errorf(sdk.CodeUnauthenticated, "check the service account's secret", "the vault refused the service account %q", req.ServiceAccount.Username)
	}
	return New(f.Entries, req), nil
}

// Instance is a loaded vault.
type Instance struct {
	Req sdk.ConfigureRequest
	Log hclog.Logger

	mu      sync.Mutex
	entries []Entry
	version map[string]int64
	leases  map[string]bool
	next    int
}

// New returns an instance holding entries.
func New(entries []Entry, req sdk.ConfigureRequest) *Instance {
	log := req.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Instance{Req: req, Log: log, entries: entries, version: map[string]int64{}, leases: map[string]bool{}}
}

func same(e Entry, a sdk.Account) bool {
	return strings.EqualFold(e.Domain, a.Domain) && strings.EqualFold(e.Username, a.Username)
}

// Matches returns the entries that name the account.
func (in *Instance) Matches(a sdk.Account) []Entry {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []Entry
	for _, e := range in.entries {
		if same(e, a) {
			out = append(out, e)
		}
	}
	return out
}

// Check reports the vault's size.
func (in *Instance) Check(context.Context, sdk.CheckRequest) ([]sdk.Finding, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return []sdk.Finding{{Step: "vault file", OK: true, Message: "loaded " + strconv.Itoa(len(in.entries)) + " entries"}}, nil
}

// Checkout looks the account up, honouring the caller's context.
func (in *Instance) Checkout(ctx context.Context, req sdk.CheckoutRequest) (*sdk.Credential, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return in.Lookup(req.Account)
}

// Lookup is Checkout without the context check.
func (in *Instance) Lookup(a sdk.Account) (*sdk.Credential, error) {
	m := in.Matches(a)
	switch len(m) {
	case 0:
		return nil, sdk.Errorf(sdk.CodeNotFound, "store it in the vault file", "no entry for %s", a)
	case 1:
	default:
		return nil, sdk.Errorf(sdk.CodeAmbiguous, "remove the duplicates", "%d entries match %s", len(m), a)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.next++
	lease := "lease-" + strconv.Itoa(in.next)
	in.leases[lease] = true
	return &sdk.Credential{Username: m[0].Username, Secret: sdk.Secret(m[0].Password), LeaseID: lease}, nil
}

// Checkin ends a lease.
func (in *Instance) Checkin(_ context.Context, req sdk.CheckinRequest) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.leases[req.LeaseID] {
		return sdk.Errorf(sdk.CodeNotFound, "", "no lease %q", req.LeaseID)
	}
	delete(in.leases, req.LeaseID)
	return nil
}

// Put stores or replaces an account.
func (in *Instance) Put(_ context.Context, req sdk.PutRequest) (int64, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.remove(req.Account)
	in.entries = append(in.entries, Entry{Domain: req.Account.Domain, Username: req.Account.Username, Password: req.Secret.Reveal()})
	key := strings.ToLower(req.Account.String())
	in.version[key]++
	return in.version[key], nil
}

// Delete removes an account.
func (in *Instance) Delete(_ context.Context, a sdk.Account) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.remove(a) {
		return sdk.Errorf(sdk.CodeNotFound, "", "no entry for %s", a)
	}
	return nil
}

func (in *Instance) remove(a sdk.Account) bool {
	kept := in.entries[:0:0]
	for _, e := range in.entries {
		if !same(e, a) {
			kept = append(kept, e)
		}
	}
	removed := len(kept) != len(in.entries)
	in.entries = kept
	return removed
}

// List lists the accounts, filtered by domain.
func (in *Instance) List(_ context.Context, req sdk.ListRequest) ([]sdk.AccountInfo, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []sdk.AccountInfo
	for _, e := range in.entries {
		if req.Domain != "" && !strings.EqualFold(req.Domain, e.Domain) {
			continue
		}
		out = append(out, sdk.AccountInfo{Account: sdk.Account{Domain: e.Domain, Username: e.Username}, Version: 1})
	}
	return out, nil
}

// Close does nothing: the vault lives in memory.
func (in *Instance) Close(context.Context) error { return nil }
