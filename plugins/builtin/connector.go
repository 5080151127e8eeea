package main

import (
	"context"
	"errors"
	"math"
	"strings"

	"github.com/byov/byov/plugins/builtin/vaultstore"
	"github.com/byov/byov/sdk"
)

// Type names this connector to the host.
const Type = "builtin"

// Version is the connector's version; a build may set it with
// -ldflags "-X main.Version=1.1.0" (the soak test swaps between two).
var Version = "1.0.0"

// Config attribute names; the error messages and the docs use them too.
const (
	attrPath            = "path"
	attrCreate          = "create"
	attrKeyFile         = "key_file"
	attrPassphrase      = "passphrase"
	attrKeepVersions    = "keep_versions"
	attrRotateOnCheckin = "rotate_on_checkin"
	attrPasswordLength  = "password_length"
	attrPasswordClasses = "password_classes"
)

var schema = []sdk.Attribute{
	{Name: attrPath, Type: sdk.TypeString, Required: true,
		Description: "the SQLite file that holds the vault"},
	{Name: attrCreate, Type: sdk.TypeBool, Default: false,
		Description: "create the vault file (and the key file) when it does not exist"},
	{Name: attrKeyFile, Type: sdk.TypeString,
		Description: "file holding the master key; set this or passphrase"},
	{Name: attrPassphrase, Type: sdk.TypeString, Sensitive: true,
		Description: "passphrase the master key is derived from (Argon2id); set this or key_file"},
	{Name: attrKeepVersions, Type: sdk.TypeNumber, Default: float64(vaultstore.DefaultKeepVersions),
		Description: "how many versions of each password to keep, the current one included"},
	{Name: attrRotateOnCheckin, Type: sdk.TypeBool, Default: false,
		Description: "store a new random password when a session checks an account back in (in this vault only)"},
	{Name: attrPasswordLength, Type: sdk.TypeNumber, Default: float64(24),
		Description: "length of generated passwords"},
	{Name: attrPasswordClasses, Type: sdk.TypeList, Default: classNames(vaultstore.AllClasses),
		Description: "character classes of generated passwords, each used at least once: lower, upper, digit, symbol"},
}

func classNames(cs []vaultstore.CharClass) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

type connector struct{}

func (connector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		Type:         Type,
		Version:      Version,
		Description:  "byov's own encrypted vault (SQLite file, AEAD-sealed secrets)",
		ConfigSchema: schema,
		Capabilities: []sdk.Capability{sdk.CapabilityCheckin, sdk.CapabilityAccounts},
	}
}

// settings is an instance's config, checked.
type settings struct {
	store           vaultstore.Options
	rotateOnCheckin bool
	policy          vaultstore.Policy
}

// parseSettings checks what the schema cannot express and reports every
// problem at once, so that an operator fixes the block in one pass.
func parseSettings(cfg sdk.Config) (settings, error) {
	var problems []string
	s := settings{
		store: vaultstore.Options{
			Path:       cfg.String(attrPath),
			Create:     cfg.Bool(attrCreate),
			KeyFile:    cfg.String(attrKeyFile),
			Passphrase: sdk.Secret(cfg.String(attrPassphrase)),
		},
		rotateOnCheckin: cfg.Bool(attrRotateOnCheckin),
	}
	if strings.TrimSpace(s.store.Path) == "" {
		problems = append(problems, "path is empty; name the vault's SQLite file")
	}
	switch {
	case s.store.KeyFile == "" && s.store.Passphrase == "":
		problems = append(problems, "neither key_file nor passphrase is set; set exactly one of them to give the vault's master key")
	case s.store.KeyFile != "" && s.store.Passphrase != "":
		problems = append(problems, "both key_file and passphrase are set; set exactly one of them")
	}
	keep, ok := wholeNumber(cfg.Number(attrKeepVersions))
	if !ok || keep < 1 || keep > 1000 {
		problems = append(problems, "keep_versions must be a whole number from 1 to 1000")
	}
	s.store.KeepVersions = keep
	length, ok := wholeNumber(cfg.Number(attrPasswordLength))
	if !ok {
		problems = append(problems, "password_length must be a whole number")
	}
	s.policy.Length = length
	for _, c := range cfg.Strings(attrPasswordClasses) {
		s.policy.Classes = append(s.policy.Classes, vaultstore.CharClass(strings.ToLower(strings.TrimSpace(c))))
	}
	if ok {
		if err := s.policy.Validate(); err != nil {
			problems = append(problems, strings.TrimPrefix(err.Error(), vaultstore.ErrInvalid.Error()+": "))
		}
	}
	if len(problems) > 0 {
		return settings{}, sdk.Errorf(sdk.CodeInvalidConfig, "fix the builtin connector's config {} block",
			"invalid builtin connector config: %s", strings.Join(problems, "; "))
	}
	return s, nil
}

func wholeNumber(f float64) (int, bool) {
	if f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

func (connector) Configure(ctx context.Context, req sdk.ConfigureRequest) (sdk.Instance, error) {
	set, err := parseSettings(req.Config)
	if err != nil {
		return nil, err
	}
	store, err := vaultstore.Open(ctx, set.store)
	if err != nil {
		return nil, openError(err, set.store)
	}
	inst := &instance{id: req.InstanceID, store: store, set: set, logger: req.Logger}
	if inst.logger == nil {
		inst.logger = nopLogger
	}
	if store.Created() {
		keyNote := "keep the passphrase safe: it cannot be recovered"
		if set.store.KeyFile != "" {
			keyNote = "back up the key file " + set.store.KeyFile + " apart from the vault: without it the vault cannot be opened"
		}
		inst.logger.Warn("created a new, empty builtin vault; "+keyNote, "path", store.Path())
	} else {
		inst.logger.Info("opened the builtin vault", "path", store.Path())
	}
	if set.rotateOnCheckin {
		inst.logger.Info("rotate_on_checkin is on: passwords change in this vault only, not on the target systems", "path", store.Path())
	}
	return inst, nil
}

// openError turns a vaultstore.Open failure into an error the host shows.
// The store's message already says what to change; the hint repeats the
// attribute to look at.
func openError(err error, opts vaultstore.Options) error {
	keyAttr := attrKeyFile
	if opts.Passphrase != "" {
		keyAttr = attrPassphrase
	}
	switch {
	case errors.Is(err, vaultstore.ErrWrongKey):
		return sdk.Wrap(err, sdk.CodeUnauthenticated, "check "+keyAttr+"; the vault file was not changed", err.Error())
	case errors.Is(err, vaultstore.ErrMissingFile):
		return sdk.Wrap(err, sdk.CodeInvalidConfig, "set create = true to start a new vault, or correct path and key_file", err.Error())
	case errors.Is(err, vaultstore.ErrSchemaTooNew):
		return sdk.Wrap(err, sdk.CodeUnsupported, "install the newer byov-connector-builtin that wrote this file", err.Error())
	case errors.Is(err, vaultstore.ErrDamaged):
		return sdk.Wrap(err, sdk.CodeInternal, "restore the vault file from a backup", err.Error())
	case errors.Is(err, vaultstore.ErrNotVault), errors.Is(err, vaultstore.ErrInvalid):
		return sdk.Wrap(err, sdk.CodeInvalidConfig, "check path", err.Error())
	}
	return sdk.Wrap(err, sdk.CodeUnavailable, "check that the vault file and its directory are readable and writable by the byov host", err.Error())
}
