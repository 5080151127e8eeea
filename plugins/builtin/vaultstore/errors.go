package vaultstore

import (
	"errors"
	"fmt"

	"github.com/byov/byov/sdk"
)

// Sentinel errors, for errors.Is. The errors the store returns wrap them in a
// sentence that names the file or the account; none ever quotes a secret.
var (
	// ErrWrongKey: the master key (key file or passphrase) does not open the
	// vault. Nothing has been written.
	ErrWrongKey = errors.New("wrong key")
	// ErrNotFound: no account of that name.
	ErrNotFound = errors.New("account not found")
	// ErrIntegrity: a stored secret failed authentication, because it was
	// altered, damaged or copied from another account or version.
	ErrIntegrity = errors.New("integrity check failed")
	// ErrSchemaTooNew: the file was written by a newer byov.
	ErrSchemaTooNew = errors.New("vault file is from a newer schema version")
	// ErrMissingFile: the vault file (or its key file) does not exist and the
	// options do not allow creating it.
	ErrMissingFile = errors.New("vault file does not exist")
	// ErrNotVault: the file exists but is not a byov vault.
	ErrNotVault = errors.New("not a byov vault file")
	// ErrDamaged: the vault's own metadata (key check, wrapped data key,
	// key derivation parameters) is altered or unreadable. Restore a backup.
	ErrDamaged = errors.New("vault file is damaged")
	// ErrInvalid: bad input from the caller (an account name, a policy).
	ErrInvalid = errors.New("invalid input")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("vault store is closed")
)

// IntegrityError reports a secret that did not open. It names the account and
// version so that an operator knows which entry to restore or put again,
// while every other account keeps working.
type IntegrityError struct {
	Account sdk.Account
	Version int64
	// Reason says what was wrong with the row (never its content).
	Reason string
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("integrity check failed for account %s version %d: %s; "+
		"restore the vault file from a backup or store a new password for this account",
		e.Account, e.Version, e.Reason)
}

// Is makes errors.Is(err, ErrIntegrity) true.
func (e *IntegrityError) Is(target error) bool { return target == ErrIntegrity }
