package vaultstore

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// keySize is the size of the master key and the data key (256 bits).
const keySize = chacha20poly1305.KeySize

// aeadName is recorded in the file so that a later version can add another
// algorithm without guessing what an old file used. XChaCha20-Poly1305 was
// chosen over AES-GCM because its 192-bit nonces can be drawn at random for
// the life of a data key without any bound to watch, and it is constant-time
// without AES hardware.
const aeadName = "xchacha20poly1305"

// Argon2Params sets the cost of deriving the master key from a passphrase.
// They are stored in the vault when it is created and read from it after, so
// changing the defaults never locks an existing vault out.
type Argon2Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// DefaultArgon2 is the second recommended option of RFC 9106 (t=3, 64 MiB,
// p=4): about a tenth of a second on a server core, paid once per Open.
var DefaultArgon2 = Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// validate bounds the parameters, including those read back from a file:
// a tampered file must not be able to make Open allocate without limit.
func (p Argon2Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > 64:
		return fmt.Errorf("argon2id time %d is out of range 1..64", p.Time)
	case p.Threads < 1:
		return fmt.Errorf("argon2id threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > 4<<20:
		return fmt.Errorf("argon2id memory %d KiB is out of range %d KiB..4 GiB", p.MemoryKiB, 8*uint32(p.Threads))
	}
	return nil
}

func passphraseKey(passphrase string, salt []byte, p Argon2Params) []byte {
	return argon2.IDKey([]byte(passphrase), salt, p.Time, p.MemoryKiB, p.Threads, keySize)
}

// Subkeys of the master key, kept apart so that the key check value stored
// in the file says nothing about the key that wraps the data key.
const (
	infoWrap  = "byov vault v1: data key wrapping"
	infoCheck = "byov vault v1: key check value"
)

func subkey(master []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, master, nil, info, keySize)
	if err != nil {
		// Only a key length beyond 255*32 bytes makes hkdf fail.
		panic("vaultstore: hkdf: " + err.Error())
	}
	return k
}

// keyCheck is the value stored in the file to tell "wrong key" apart from
// "damaged data key" before anything is decrypted or written.
func keyCheck(master []byte) []byte { return subkey(master, infoCheck) }

func keyCheckMatches(master, stored []byte) bool {
	return hmac.Equal(keyCheck(master), stored)
}

// dataKeyAD binds the wrapped data key to its vault.
func dataKeyAD(vaultID []byte) []byte {
	return append([]byte("byov vault v1: data key\x00"), vaultID...)
}

func wrapDataKey(master, vaultID, dataKey []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(subkey(master, infoWrap))
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(dataKey)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, dataKey, dataKeyAD(vaultID)), nil
}

func unwrapDataKey(master, vaultID, wrapped []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(subkey(master, infoWrap))
	if err != nil {
		return nil, err
	}
	if len(wrapped) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("the wrapped data key is truncated")
	}
	n := aead.NonceSize()
	dk, err := aead.Open(nil, wrapped[:n], wrapped[n:], dataKeyAD(vaultID))
	if err != nil {
		return nil, errors.New("the wrapped data key does not authenticate")
	}
	if len(dk) != keySize {
		return nil, fmt.Errorf("the data key has %d bytes, want %d", len(dk), keySize)
	}
	return dk, nil
}

// sealer seals and opens secrets under the vault's data key.
type sealer struct {
	aead    cipher.AEAD
	vaultID []byte
}

func newSealer(dataKey, vaultID []byte) (*sealer, error) {
	aead, err := chacha20poly1305.NewX(dataKey)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, vaultID: vaultID}, nil
}

// secretAD is the associated data of one secret version. It names the vault,
// the account row, the account's folded name and the version, so a
// ciphertext copied to another row, another version, another name or another
// vault fails to open instead of handing out the wrong password.
func (s *sealer) secretAD(accountID, version int64, lookup string) []byte {
	ad := make([]byte, 0, 64+len(lookup))
	ad = append(ad, "byov vault v1: secret\x00"...)
	ad = append(ad, s.vaultID...)
	ad = binary.BigEndian.AppendUint64(ad, uint64(accountID))
	ad = binary.BigEndian.AppendUint64(ad, uint64(version))
	ad = binary.AppendUvarint(ad, uint64(len(lookup)))
	return append(ad, lookup...)
}

func (s *sealer) seal(plaintext, ad []byte) (nonce, ciphertext []byte) {
	nonce = make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return nonce, s.aead.Seal(nil, nonce, plaintext, ad)
}

func (s *sealer) open(nonce, ciphertext, ad []byte) ([]byte, error) {
	if len(nonce) != s.aead.NonceSize() {
		return nil, fmt.Errorf("its nonce has %d bytes, want %d", len(nonce), s.aead.NonceSize())
	}
	pt, err := s.aead.Open(nil, nonce, ciphertext, ad)
	if err != nil {
		return nil, errors.New("the ciphertext does not authenticate (altered, damaged, or copied from another account or version)")
	}
	return pt, nil
}

// Key files hold the master key as one line of standard base64, so that an
// operator can back one up by copy and paste without binary mangling.

func readKeyFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: the key file %s does not exist", ErrMissingFile, path)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the key file: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil || len(key) != keySize {
		return nil, fmt.Errorf("%w: the key file %s does not hold a byov master key "+
			"(want %d random bytes in base64 on one line, as byov writes it)", ErrWrongKey, path, keySize)
	}
	return key, nil
}

// createKeyFile writes a new random master key, readable by its owner only.
// O_EXCL keeps it from replacing a key that appeared meanwhile: losing a key
// loses the vault.
func createKeyFile(path string) ([]byte, error) {
	key := make([]byte, keySize)
	rand.Read(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the key file's directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot create the key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("cannot write the key file %s: %w", path, err)
	}
	return key, nil
}
