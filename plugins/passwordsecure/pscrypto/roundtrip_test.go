package pscrypto

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testKeys are generated once: RSA generation is slow under -race.
type testKeys struct {
	eccPriv, eccPub, rsaPriv, rsaPub, sym []byte
}

var sharedKeys *testKeys

func keys(t testing.TB) *testKeys {
	t.Helper()
	if sharedKeys != nil {
		return sharedKeys
	}
	k := &testKeys{sym: GenerateSymmetricKey()}
	var err error
	if k.eccPriv, k.eccPub, err = GenerateECCKey(); err != nil {
		t.Fatal(err)
	}
	if k.rsaPriv, k.rsaPub, err = GenerateRSAKey(2048); err != nil {
		t.Fatal(err)
	}
	sharedKeys = k
	return k
}

func plaintexts() map[string][]byte {
	return map[string][]byte{
		"empty":    {},
		"one byte": {0x42},
		"15":       bytes.Repeat([]byte{'a'}, 15),
		"16":       bytes.Repeat([]byte{'b'}, 16),
		"127":      bytes.Repeat([]byte{'c'}, 127),
		"128":      bytes.Repeat([]byte{'d'}, 128),
		"129":      bytes.Repeat([]byte{'e'}, 129),
		"utf8":     []byte("pässwörd ✓ 🙂"),
		"16KiB+1":  bytes.Repeat([]byte{'f'}, 16<<10+1),
	}
}

func TestRoundTrip(t *testing.T) {
	k := keys(t)
	pwd := []byte("correct horse ✓")
	tests := []struct {
		name   string
		enc    func(pt []byte) ([]byte, error)
		decKey []byte
		chain  Chain
		slow   bool
	}{
		{"EncryptWithPublicKey ECC", func(pt []byte) ([]byte, error) { return EncryptWithPublicKey(k.eccPub, pt) }, k.eccPriv, ChainECC, false},
		{"EncryptWithPublicKey ECC private given", func(pt []byte) ([]byte, error) { return EncryptWithPublicKey(k.eccPriv, pt) }, k.eccPriv, ChainECC, false},
		{"EncryptWithPublicKey RSA", func(pt []byte) ([]byte, error) { return EncryptWithPublicKey(k.rsaPub, pt) }, k.rsaPriv, ChainRSA, false},
		{"EncryptWithKey", func(pt []byte) ([]byte, error) { return EncryptWithKey(k.sym, pt) }, k.sym, ChainKeyPadded, false},
		{"chain 4", func(pt []byte) ([]byte, error) { return EncryptChain(ChainKeyGCM, k.sym, pt) }, k.sym, ChainKeyGCM, false},
		{"chain 1", func(pt []byte) ([]byte, error) { return EncryptChain(ChainPasswordCBC, pwd, pt) }, pwd, ChainPasswordCBC, false},
		{"chain 3", func(pt []byte) ([]byte, error) { return EncryptChain(ChainPasswordGCM, pwd, pt) }, pwd, ChainPasswordGCM, false},
		{"EncryptWithPassword", func(pt []byte) ([]byte, error) { return EncryptWithPassword(pwd, pt) }, pwd, ChainPasswordPadded, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pts := plaintexts()
			if tc.slow {
				if testing.Short() {
					t.Skip("chain 5 is slow; skipped in -short mode")
				}
				t.Parallel()
				pts = map[string][]byte{"utf8": pts["utf8"]}
			}
			for name, pt := range pts {
				ct, err := tc.enc(pt)
				if err != nil {
					t.Fatalf("%s: encrypt: %v", name, err)
				}
				if c, _ := ChainOf(ct); c != tc.chain {
					t.Fatalf("%s: chain %v, want %v", name, c, tc.chain)
				}
				got, err := Decrypt(tc.decKey, ct)
				if err != nil {
					t.Fatalf("%s: decrypt: %v", name, err)
				}
				if !bytes.Equal(got, pt) {
					t.Fatalf("%s: round trip changed the plaintext", name)
				}
			}
		})
	}
}

// The protocol nests keys in ciphertexts: UserKey is chain 2 of a private key,
// RightKey chain 2 (or 0) of a 32-byte key or RSA private key.
func TestKeyWrapping(t *testing.T) {
	k := keys(t)
	apiPriv, apiPub, err := GenerateECCKey()
	if err != nil {
		t.Fatal(err)
	}
	userKey, err := EncryptWithPublicKey(apiPub, k.eccPriv)
	if err != nil {
		t.Fatal(err)
	}
	userPriv, err := Decrypt(apiPriv, userKey)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(userPriv, []byte("challenge"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 132 {
		t.Fatalf("ECC signature is %d bytes, want 132", len(sig))
	}
	if err := Verify(k.eccPub, []byte("challenge"), sig); err != nil {
		t.Fatal(err)
	}
	rsaWrapped, err := EncryptWithPublicKey(k.eccPub, k.rsaPriv)
	if err != nil {
		t.Fatal(err)
	}
	itemKey, err := Decrypt(userPriv, rsaWrapped)
	if err != nil {
		t.Fatal(err)
	}
	if KindOf(itemKey) != KeyRSAPrivate {
		t.Fatalf("unwrapped key kind %v", KindOf(itemKey))
	}
	sig, err = Sign(itemKey, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(k.rsaPub, []byte("x"), sig); err != nil {
		t.Fatal(err)
	}
}

func TestKeyEncodings(t *testing.T) {
	k := keys(t)
	if k.eccPriv[0] != 0x93 || k.eccPub[0] != 0x92 {
		t.Fatalf("ECC keys start %x / %x, want 93 / 92", k.eccPriv[0], k.eccPub[0])
	}
	if !bytes.HasPrefix(k.rsaPriv, []byte("PF")) || !bytes.HasPrefix(k.rsaPub, []byte("PF")) {
		t.Fatal("RSA keys do not start with PF")
	}
	for _, tc := range []struct {
		key  []byte
		want KeyKind
	}{{k.eccPriv, KeyECCPrivate}, {k.eccPub, KeyECCPublic}, {k.rsaPriv, KeyRSAPrivate}, {k.rsaPub, KeyRSAPublic}, {k.sym, KeySymmetric}, {[]byte("x"), KeyUnknown}} {
		if got := KindOf(tc.key); got != tc.want {
			t.Errorf("KindOf = %v, want %v", got, tc.want)
		}
	}
	pub, err := PublicKeyOf(k.eccPriv)
	if err != nil || !bytes.Equal(pub, k.eccPub) {
		t.Fatalf("PublicKeyOf(ECC) = %v, mismatch", err)
	}
	if _, err := PublicKeyOf(k.sym); !errors.Is(err, ErrKeyKind) {
		t.Fatalf("PublicKeyOf(symmetric) = %v, want ErrKeyKind", err)
	}
	// A key whose public half does not match its scalar is refused.
	_, otherPub, _ := GenerateECCKey()
	parts, _ := unpackBins(k.eccPriv, 3)
	op, _ := unpackBins(otherPub, 2)
	forged := packBins(parts[0], op[0], op[1])
	if _, err := Sign(forged, []byte("x")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Sign with mismatched key = %v, want ErrMalformed", err)
	}
}

func TestPadding(t *testing.T) {
	for n := 0; n <= 300; n++ {
		data := bytes.Repeat([]byte{1}, n)
		p := pad128(data)
		if len(p)%128 != 0 || len(p) <= n || len(p)-n > 128 {
			t.Fatalf("pad128(%d) length %d", n, len(p))
		}
		u, err := unpad128(p)
		if err != nil || !bytes.Equal(u, data) {
			t.Fatalf("unpad128(pad128(%d)) failed: %v", n, err)
		}
		c := padISO10126(data)
		if len(c)%16 != 0 || len(c)-n < 1 || len(c)-n > 16 {
			t.Fatalf("padISO10126(%d) length %d", n, len(c))
		}
		u, err = unpadISO10126(c)
		if err != nil || !bytes.Equal(u, data) {
			t.Fatalf("unpadISO10126(padISO10126(%d)) failed: %v", n, err)
		}
	}
}

// TestMalformed feeds truncated and garbage inputs to every entry point: they
// must fail with an error, not panic, and the error must not echo the input.
func TestMalformed(t *testing.T) {
	k := keys(t)
	v := loadVectorsOptional(t)
	var samples [][]byte
	for _, c := range []Chain{ChainRSA, ChainPasswordCBC, ChainECC, ChainPasswordGCM, ChainKeyGCM, ChainKeyPadded} {
		key := map[Chain][]byte{ChainRSA: k.rsaPub, ChainECC: k.eccPub, ChainKeyGCM: k.sym, ChainKeyPadded: k.sym}[c]
		if key == nil {
			key = []byte("pw")
		}
		ct, err := EncryptChain(c, key, []byte("secret-plaintext-marker"))
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, ct)
	}
	if v != nil {
		samples = append(samples, v["Chain5_Pbkdf2Sha256HighAesGcmPadded"][:40])
	}
	decKeys := [][]byte{k.eccPriv, k.rsaPriv, k.sym, []byte("pw"), nil, {0x93, 0xc4}, []byte("PF"), []byte("PFxx")}
	type input struct {
		data     []byte
		mustFail bool // truncations can never decrypt; a flipped CBC byte may give garbage
	}
	var inputs []input
	for _, s := range samples {
		for _, cut := range []int{0, 1, 2, 3, 5, 9, 20, len(s) / 2, len(s) - 17, len(s) - 1} {
			if cut >= 0 && cut < len(s) {
				inputs = append(inputs, input{s[:cut], true})
			}
		}
		flipped := bytes.Clone(s)
		flipped[len(flipped)/2] ^= 0xff
		inputs = append(inputs, input{flipped, false})
	}
	for _, g := range [][]byte{{7}, {2, 0xdc}, {2, 0x94, 0xc6, 0xff, 0xff, 0xff, 0xff},
		{6, 0x92, 0xc4, 0x0c}, {0, 1, 5, 0, 5}, bytes.Repeat([]byte{1, 5, 0, 5}, 9)} {
		inputs = append(inputs, input{g, true})
	}
	for i, in := range inputs {
		if len(in.data) > 0 && in.data[0] == byte(ChainPasswordPadded) && len(in.data) > 30 {
			continue // a well-formed chain 5 prefix costs 610005 rounds per try
		}
		for j, key := range decKeys {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("input %d key %d: panic %v", i, j, r)
					}
				}()
				pt, err := Decrypt(key, in.data)
				if err == nil && (in.mustFail || bytes.Contains(pt, []byte("secret-plaintext-marker"))) {
					t.Fatalf("input %d key %d: damaged ciphertext decrypted", i, j)
				}
				if err != nil && strings.Contains(err.Error(), "secret-plaintext-marker") {
					t.Fatalf("error echoes the plaintext: %v", err)
				}
			}()
		}
	}
	garbageKeys := [][]byte{nil, {0x93}, {0x93, 0xc4, 0x50}, {0x92, 0xc4, 1, 1, 0xc4, 1, 1}, []byte("PF"), []byte("PFJTQUtleVZhbHVl"),
		append([]byte{0x93, 0xc4, 66}, bytes.Repeat([]byte{0xff}, 66)...)}
	for i, key := range garbageKeys {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("garbage key %d: panic %v", i, r)
				}
			}()
			if _, err := Sign(key, []byte("x")); err == nil {
				t.Errorf("Sign with garbage key %d succeeded", i)
			}
			if err := Verify(key, []byte("x"), make([]byte, 132)); err == nil {
				t.Errorf("Verify with garbage key %d succeeded", i)
			}
			if _, err := EncryptWithPublicKey(key, []byte("x")); err == nil {
				t.Errorf("EncryptWithPublicKey with garbage key %d succeeded", i)
			}
			if _, err := PublicKeyOf(key); err == nil {
				t.Errorf("PublicKeyOf garbage key %d succeeded", i)
			}
		}()
	}
	if err := Verify(k.eccPub, []byte("x"), make([]byte, 132)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("zero signature: %v", err)
	}
	if err := Verify(k.eccPub, []byte("x"), []byte{1}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("short signature: %v", err)
	}
}

func loadVectorsOptional(t *testing.T) vectors {
	var v vectors
	t.Run("vectors", func(t *testing.T) { v = loadVectors(t) })
	return v
}

func TestErrorsDoNotLeakKeys(t *testing.T) {
	k := keys(t)
	ct, _ := EncryptWithKey(k.sym, []byte("hunter2"))
	other := bytes.Repeat([]byte{0xab}, 32)
	_, err := Decrypt(other, ct)
	if err == nil {
		t.Fatal("wrong key decrypted")
	}
	msg := err.Error()
	for _, b := range [][]byte{other, k.sym} {
		if strings.Contains(msg, string(b)) || strings.Contains(msg, fmt.Sprintf("%x", b)) {
			t.Fatalf("error %q contains key bytes", msg)
		}
	}
}
