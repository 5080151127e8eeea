package pscrypto

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecryptVectors(t *testing.T) {
	v := loadVectors(t)
	want := v.get(t, "Plaintext")
	tests := []struct {
		field  string
		key    string
		chain  Chain
		slow   bool
		viaPwd bool
	}{
		{"V1_EncryptWithPublicKey", "RsaPrivateKey", ChainRSA, false, false},
		{"Static_EncryptWithPublicKey_RSA", "RsaPrivateKey", ChainRSA, false, false},
		{"V2_EncryptWithPublicKey", "EccPrivateKey", ChainECC, false, false},
		{"Static_EncryptWithPublicKey_ECC", "EccPrivateKey", ChainECC, false, false},
		{"V1_EncryptWithKey", "SymmetricKey", ChainKeyPadded, false, false},
		{"V2_EncryptWithKey", "SymmetricKey", ChainKeyPadded, false, false},
		{"Chain6_AesGcmPadded", "SymmetricKey", ChainKeyPadded, false, false},
		{"Chain4_AesGcm", "SymmetricKey", ChainKeyGCM, false, false},
		{"Chain3_Pbkdf2Sha256AesGcm", "Password", ChainPasswordGCM, false, true},
		{"Chain1_Pbkdf2Sha1AesCbc", "Password", ChainPasswordCBC, false, true},
		{"Chain5_Pbkdf2Sha256HighAesGcmPadded", "Password", ChainPasswordPadded, true, true},
		{"V1_EncryptWithPassword", "Password", ChainPasswordPadded, true, true},
		{"V2_EncryptWithPassword", "Password", ChainPasswordPadded, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			if tc.slow {
				if testing.Short() {
					t.Skip("chain 5 runs 610005 PBKDF2 rounds; skipped in -short mode")
				}
				t.Parallel()
			}
			ct := v.get(t, tc.field)
			if c, err := ChainOf(ct); err != nil || c != tc.chain {
				t.Fatalf("ChainOf = %v, %v; want %v", c, err, tc.chain)
			}
			decrypt := Decrypt
			if tc.viaPwd {
				decrypt = DecryptWithPassword
			}
			got, err := decrypt(v.get(t, tc.key), ct)
			if err != nil {
				t.Fatalf("decrypt: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("decrypted %q, want %q", got, want)
			}
		})
	}
}

func TestVerifyVectors(t *testing.T) {
	v := loadVectors(t)
	data := v.get(t, "SignData")
	tests := []struct {
		name, key, sig string
	}{
		{"RSA with public key", "RsaPublicKey", "RsaSignature"},
		{"RSA with private key", "RsaPrivateKey", "RsaSignature"},
		{"ECC with public key", "EccPublicKey", "EccSignature"},
		{"ECC with private key", "EccPrivateKey", "EccSignature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, sig := v.get(t, tc.key), v.get(t, tc.sig)
			if err := Verify(key, data, sig); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := Verify(key, append([]byte("x"), data...), sig); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify of altered data = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestVectorKeys(t *testing.T) {
	v := loadVectors(t)
	tests := []struct {
		field string
		kind  KeyKind
	}{
		{"RsaPublicKey", KeyRSAPublic},
		{"RsaPrivateKey", KeyRSAPrivate},
		{"EccPublicKey", KeyECCPublic},
		{"EccPrivateKey", KeyECCPrivate},
		{"SymmetricKey", KeySymmetric},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			if got := KindOf(v.get(t, tc.field)); got != tc.kind {
				t.Fatalf("KindOf = %v, want %v", got, tc.kind)
			}
		})
	}
	t.Run("ECC public of private", func(t *testing.T) {
		pub, err := PublicKeyOf(v.get(t, "EccPrivateKey"))
		if err != nil {
			t.Fatal(err)
		}
		// The vectors use minimal-length coordinates, as our encoder does.
		if !bytes.Equal(pub, v.get(t, "EccPublicKey")) {
			t.Fatalf("PublicKeyOf(EccPrivateKey) differs from EccPublicKey")
		}
	})
	t.Run("RSA public of private", func(t *testing.T) {
		pub, err := PublicKeyOf(v.get(t, "RsaPrivateKey"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pub, v.get(t, "RsaPublicKey")) {
			t.Fatalf("PublicKeyOf(RsaPrivateKey) differs from RsaPublicKey")
		}
	})
}

func TestSignVectorsKeys(t *testing.T) {
	v := loadVectors(t)
	for _, k := range []struct{ priv, pub string }{{"EccPrivateKey", "EccPublicKey"}, {"RsaPrivateKey", "RsaPublicKey"}} {
		t.Run(k.priv, func(t *testing.T) {
			sig, err := Sign(v.get(t, k.priv), []byte("challenge"))
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(v.get(t, k.pub), []byte("challenge"), sig); err != nil {
				t.Fatalf("Verify of our signature: %v", err)
			}
		})
	}
}

func TestWrongKey(t *testing.T) {
	v := loadVectors(t)
	otherECC, _, err := GenerateECCKey()
	if err != nil {
		t.Fatal(err)
	}
	otherRSA, _, err := GenerateRSAKey(1024)
	if err != nil {
		t.Fatal(err)
	}
	otherSym := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name, field string
		key         []byte
		want        error
	}{
		{"chain 0 other RSA key", "V1_EncryptWithPublicKey", otherRSA, ErrWrongKey},
		{"chain 0 ECC key", "V1_EncryptWithPublicKey", otherECC, ErrKeyKind},
		{"chain 2 other ECC key", "V2_EncryptWithPublicKey", otherECC, ErrWrongKey},
		{"chain 2 symmetric key", "V2_EncryptWithPublicKey", otherSym, ErrKeyKind},
		{"chain 2 public key", "V2_EncryptWithPublicKey", v.get(t, "EccPublicKey"), ErrKeyKind},
		{"chain 4 other key", "Chain4_AesGcm", otherSym, ErrWrongKey},
		{"chain 6 other key", "Chain6_AesGcmPadded", otherSym, ErrWrongKey},
		{"chain 6 ECC key", "Chain6_AesGcmPadded", otherECC, ErrKeyKind},
		{"chain 3 other password", "Chain3_Pbkdf2Sha256AesGcm", []byte("nope"), ErrWrongKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decrypt(tc.key, v.get(t, tc.field))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decrypt error = %v, want %v", err, tc.want)
			}
			if tc.want == ErrWrongKey && !strings.Contains(err.Error(), "key does not match") {
				t.Fatalf("error %q does not say the key does not match", err)
			}
		})
	}
	t.Run("chain 1 other password", func(t *testing.T) {
		// CBC has no authentication: a wrong password is caught by the padding
		// check most of the time, or yields garbage; it must never succeed
		// with the right plaintext or panic.
		got, err := Decrypt([]byte("nope"), v.get(t, "Chain1_Pbkdf2Sha1AesCbc"))
		if err == nil && bytes.Equal(got, v.get(t, "Plaintext")) {
			t.Fatal("a wrong password decrypted chain 1")
		}
	})
	t.Run("key API refuses password chains", func(t *testing.T) {
		// Refused from the first byte, before any PBKDF2 round: the test
		// would take seconds under -race if chain 5 were derived.
		for _, field := range []string{"Chain1_Pbkdf2Sha1AesCbc", "Chain3_Pbkdf2Sha256AesGcm", "Chain5_Pbkdf2Sha256HighAesGcmPadded"} {
			_, err := DecryptWithKey(v.get(t, "Password"), v.get(t, field))
			if !errors.Is(err, ErrKeyKind) {
				t.Errorf("DecryptWithKey(%s) = %v, want ErrKeyKind", field, err)
			}
		}
	})
	t.Run("key API decrypts key chains", func(t *testing.T) {
		want := v.get(t, "Plaintext")
		for _, tc := range []struct{ field, key string }{
			{"V1_EncryptWithPublicKey", "RsaPrivateKey"},
			{"V2_EncryptWithPublicKey", "EccPrivateKey"},
			{"Chain4_AesGcm", "SymmetricKey"},
			{"Chain6_AesGcmPadded", "SymmetricKey"},
		} {
			got, err := DecryptWithKey(v.get(t, tc.key), v.get(t, tc.field))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("DecryptWithKey(%s) = %q, %v", tc.field, got, err)
			}
		}
	})
	t.Run("password API refuses key chains", func(t *testing.T) {
		_, err := DecryptWithPassword(v.get(t, "Password"), v.get(t, "Chain4_AesGcm"))
		if !errors.Is(err, ErrKeyKind) {
			t.Fatalf("DecryptWithPassword(chain 4) = %v, want ErrKeyKind", err)
		}
	})
}
