package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/plugins/builtin/vaultstore"
	"github.com/byov/byov/sdk"
)

var nopLogger = hclog.NewNullLogger()

// instance is one configured builtin vault: one file, one key. Secrets only
// ever reach the logger as account names and version numbers.
type instance struct {
	id     string
	store  *vaultstore.Store
	set    settings
	logger hclog.Logger
}

var (
	_ sdk.Instance     = (*instance)(nil)
	_ sdk.Checkiner    = (*instance)(nil)
	_ sdk.AccountStore = (*instance)(nil)
)

// account accepts "DOMAIN\user" written whole in Username as well, since
// that is how operators and account templates usually spell it.
func account(a sdk.Account) sdk.Account {
	if a.Domain == "" && strings.Contains(a.Username, `\`) {
		return vaultstore.ParseAccount(a.Username)
	}
	return a
}

// storeError maps a store error to the code the host acts on. Store errors
// never hold a secret, so their text is passed on as it is.
func (in *instance) storeError(err error, acct sdk.Account) error {
	switch {
	case errors.Is(err, vaultstore.ErrNotFound):
		return sdk.Wrap(err, sdk.CodeNotFound,
			fmt.Sprintf("store it with `byov vault put %s` (connector %q)", acct, in.id), err.Error())
	case errors.Is(err, vaultstore.ErrIntegrity):
		return sdk.Wrap(err, sdk.CodeInternal,
			fmt.Sprintf("restore the vault file from a backup, or store a new password with `byov vault put %s`", acct), err.Error())
	case errors.Is(err, vaultstore.ErrInvalid):
		return sdk.Wrap(err, sdk.CodeInvalidConfig, `write the account as DOMAIN\username`, err.Error())
	case errors.Is(err, vaultstore.ErrClosed):
		return sdk.Wrap(err, sdk.CodeUnavailable, "the connector instance is being reconfigured; retry", err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return sdk.Wrap(err, sdk.CodeUnavailable, "check that the vault file is readable and writable by the byov host", err.Error())
}

func (in *instance) Checkout(ctx context.Context, req sdk.CheckoutRequest) (*sdk.Credential, error) {
	acct := account(req.Account)
	e, err := in.store.Get(ctx, acct)
	if err != nil {
		if errors.Is(err, vaultstore.ErrIntegrity) {
			in.logger.Error("a stored secret failed its integrity check", "account", acct.String(), "error", err.Error())
		}
		return nil, in.storeError(err, acct)
	}
	// No log line per checkout: the host audits every one, and a line here
	// would cross the plugin's stderr pipe on the hot path for nothing.
	version := strconv.FormatInt(e.Version, 10)
	return &sdk.Credential{
		Username: e.Account.Username,
		Secret:   e.Secret,
		// The lease names the row and version handed out; Checkin needs
		// nothing more, and it is no secret.
		LeaseID: strconv.FormatInt(e.ID, 10) + "." + version,
		Metadata: map[string]string{
			"account": e.Account.String(),
			"version": version,
		},
	}, nil
}

// Checkin rotates the password when rotate_on_checkin is set, so that the
// password the session saw is no longer the vault's current one. It does not
// change the password on the target system.
func (in *instance) Checkin(ctx context.Context, req sdk.CheckinRequest) error {
	if !in.set.rotateOnCheckin {
		return nil
	}
	acct := account(req.Account)
	v, err := in.store.Rotate(ctx, acct, in.set.policy)
	if err != nil {
		return in.storeError(err, acct)
	}
	in.logger.Info("rotated the password in the vault on checkin", "account", acct.String(), "version", v, "session", req.Session.SessionID)
	return nil
}

func (in *instance) Put(ctx context.Context, req sdk.PutRequest) (int64, error) {
	acct := account(req.Account)
	v, err := in.store.Put(ctx, acct, req.Secret, vaultstore.Meta{Description: req.Description, Tags: req.Tags})
	if err != nil {
		return 0, in.storeError(err, acct)
	}
	in.logger.Info("stored a new password version", "account", acct.String(), "version", v)
	return v, nil
}

func (in *instance) Delete(ctx context.Context, a sdk.Account) error {
	acct := account(a)
	if err := in.store.Delete(ctx, acct); err != nil {
		return in.storeError(err, acct)
	}
	in.logger.Info("deleted the account and all its password versions", "account", acct.String())
	return nil
}

func (in *instance) List(ctx context.Context, req sdk.ListRequest) ([]sdk.AccountInfo, error) {
	infos, err := in.store.List(ctx, req.Domain)
	if err != nil {
		return nil, in.storeError(err, sdk.Account{})
	}
	out := make([]sdk.AccountInfo, len(infos))
	for i, info := range infos {
		out[i] = sdk.AccountInfo{
			Account:     info.Account,
			Description: info.Description,
			Tags:        info.Tags,
			Version:     info.Version,
			UpdatedAt:   info.UpdatedAt,
		}
	}
	return out, nil
}

func (in *instance) Check(ctx context.Context, req sdk.CheckRequest) ([]sdk.Finding, error) {
	path := in.store.Path()
	var findings []sdk.Finding
	add := func(step string, ok bool, hint, format string, args ...any) {
		findings = append(findings, sdk.Finding{Step: step, OK: ok, Message: fmt.Sprintf(format, args...), Hint: hint})
	}

	if f, err := os.Open(path); err != nil {
		add("vault file", false, "check path, and that the byov host may read the file", "cannot open the vault file: %v", err)
	} else {
		fi, _ := f.Stat()
		f.Close()
		add("vault file", true, "", "%s is present and readable (%d bytes)", path, fi.Size())
	}

	if kf := in.set.store.KeyFile; kf != "" {
		switch fi, err := os.Stat(kf); {
		case err != nil:
			add("key file", false, "restore the key file from your backup; the open vault keeps working until the connector restarts",
				"cannot read the key file: %v", err)
		case fi.Mode().Perm()&0o077 != 0:
			add("key file", false, "chmod 600 "+kf, "the key file %s can be read by others than its owner (mode %v)", kf, fi.Mode().Perm())
		default:
			add("key file", true, "", "the key file %s is readable by its owner only", kf)
		}
	}

	report, err := in.store.Verify(ctx)
	if err != nil {
		add("master key", false, "reconfigure the connector with the right key_file or passphrase", "%v", err)
		return findings, nil
	}
	add("master key", true, "", "the master key opens the vault")
	add("accounts", true, "", "%d accounts, %d password versions stored", report.Accounts, report.Versions)
	if n := len(report.Damaged); n > 0 {
		var names []string
		for i, d := range report.Damaged {
			if i == 10 {
				names = append(names, fmt.Sprintf("and %d more", n-10))
				break
			}
			names = append(names, fmt.Sprintf("%s version %d", d.Account, d.Version))
		}
		add("integrity", false, "restore the vault file from a backup, or store new passwords for these accounts with `byov vault put`",
			"%d stored password versions fail their integrity check: %s", n, strings.Join(names, ", "))
	} else {
		add("integrity", true, "", "every stored password version opens")
	}
	if in.set.rotateOnCheckin {
		add("rotation", true, "make sure something else applies rotated passwords to the target systems",
			"rotate_on_checkin is on: checkin stores a new %d-character password in this vault only", in.set.policy.Length)
	}

	if !req.TestAccount.IsZero() {
		acct := account(req.TestAccount)
		if e, err := in.store.Get(ctx, acct); err != nil {
			add("test account", false, sdk.HintOf(in.storeError(err, acct)), "%v", err)
		} else {
			add("test account", true, "", "%s opens (version %d)", e.Account, e.Version)
		}
	}
	return findings, nil
}

func (in *instance) Close(context.Context) error {
	return in.store.Close()
}
