package pscrypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"math/big"
)

// Sign is the vendor's SignData (§6.9). The algorithm follows the key, not
// the EncryptionVersion: an ECC key gives ECDSA P-521 over SHA-256 as raw r‖s
// (132 bytes), an RSA key PKCS#1 v1.5 over SHA-512.
func Sign(priv, data []byte) ([]byte, error) {
	switch kind := KindOf(priv); kind {
	case KeyECCPrivate:
		k, err := parseECCPrivate(priv)
		if err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
		h := sha256.Sum256(data)
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			return nil, fmt.Errorf("signing with ECDSA: %w", err)
		}
		sig := make([]byte, 2*p521Len)
		r.FillBytes(sig[:p521Len])
		s.FillBytes(sig[p521Len:])
		return sig, nil
	case KeyRSAPrivate:
		k, err := parseRSAPrivate(priv)
		if err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
		h := sha512.Sum512(data)
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA512, h[:])
		if err != nil {
			return nil, fmt.Errorf("signing with RSA: %w", err)
		}
		return sig, nil
	default:
		return nil, fmt.Errorf("signing needs an ECC or RSA private key, not a %s: %w", kind, ErrKeyKind)
	}
}

// Verify checks a Sign signature with the matching public key (a private key
// works too). It returns nil only for a valid signature.
func Verify(pub, data, sig []byte) error {
	switch kind := KindOf(pub); kind {
	case KeyECCPublic, KeyECCPrivate:
		pubBytes, err := PublicKeyOf(pub)
		if err != nil {
			return fmt.Errorf("verifying: %w", err)
		}
		k, err := parseECCPublic(pubBytes)
		if err != nil {
			return fmt.Errorf("verifying: %w", err)
		}
		if len(sig) != 2*p521Len {
			return fmt.Errorf("an ECDSA P-521 signature is %d bytes, this one is %d: %w", 2*p521Len, len(sig), ErrBadSignature)
		}
		h := sha256.Sum256(data)
		r := new(big.Int).SetBytes(sig[:p521Len])
		s := new(big.Int).SetBytes(sig[p521Len:])
		if !ecdsa.Verify(k, h[:], r, s) {
			return ErrBadSignature
		}
		return nil
	case KeyRSAPublic, KeyRSAPrivate:
		k, err := parseRSAPublic(pub)
		if err != nil {
			return fmt.Errorf("verifying: %w", err)
		}
		h := sha512.Sum512(data)
		if rsa.VerifyPKCS1v15(k, crypto.SHA512, h[:], sig) != nil {
			return ErrBadSignature
		}
		return nil
	default:
		return fmt.Errorf("verifying needs an ECC or RSA key, not a %s: %w", kind, ErrKeyKind)
	}
}
