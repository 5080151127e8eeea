package pscrypto

import "errors"

// Sentinel errors; every error this package returns wraps one of them so a
// caller can tell "wrong key" (configuration problem) from "damaged data"
// (server or transport problem) from "unsupported" (protocol drift).
var (
	// ErrWrongKey means authenticated decryption or key unwrapping failed:
	// the key does not belong to the data, or the data was altered.
	ErrWrongKey = errors.New("the key does not match the data, or the data is damaged")
	// ErrMalformed means the bytes are not in any layout of PROTOCOL.md §6.
	ErrMalformed = errors.New("the data is not in the Password Secure format")
	// ErrKeyKind means the key is of a kind the operation cannot use, for
	// example a public key given to Decrypt or a symmetric key given to Sign.
	ErrKeyKind = errors.New("the key is not of a kind this operation can use")
	// ErrBadSignature means a signature does not verify against the key.
	ErrBadSignature = errors.New("the signature does not match the data and key")
)
