package pscrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
)

// Chain is the first byte of every ciphertext: it names the construction
// (PROTOCOL.md §6).
type Chain byte

// The seven chains of §6.
const (
	ChainRSA            Chain = 0 // RSA PKCS#1 v1.5 + PBKDF2-SHA1 + AES-CBC (V1 public-key)
	ChainPasswordCBC    Chain = 1 // PBKDF2-SHA1 + AES-CBC
	ChainECC            Chain = 2 // ECDH P-521 + HKDF-SHA256 + AES-GCM (V2 public-key)
	ChainPasswordGCM    Chain = 3 // PBKDF2-SHA256 (1000) + AES-GCM
	ChainKeyGCM         Chain = 4 // raw-key AES-GCM
	ChainPasswordPadded Chain = 5 // PBKDF2-SHA256 (610005) + AES-GCM + 128-byte padding
	ChainKeyPadded      Chain = 6 // raw-key AES-GCM + 128-byte padding (V1 and V2 item values)
)

func (c Chain) String() string {
	names := [...]string{"chain 0 (RSA)", "chain 1 (password, CBC)", "chain 2 (ECC)", "chain 3 (password, GCM)",
		"chain 4 (key, GCM)", "chain 5 (password, GCM, padded)", "chain 6 (key, GCM, padded)"}
	if int(c) < len(names) {
		return names[c]
	}
	return fmt.Sprintf("unknown chain %d", byte(c))
}

// usesPassword reports whether the chain derives its key from a password.
func (c Chain) usesPassword() bool {
	return c == ChainPasswordCBC || c == ChainPasswordGCM || c == ChainPasswordPadded
}

// ChainOf returns the chain a ciphertext was made with.
func ChainOf(ciphertext []byte) (Chain, error) {
	if len(ciphertext) == 0 {
		return 0, fmt.Errorf("the ciphertext is empty: %w", ErrMalformed)
	}
	if c := Chain(ciphertext[0]); c <= ChainKeyPadded {
		return c, nil
	}
	return 0, fmt.Errorf("the ciphertext starts with 0x%02x, which is not a known chain (0–6): %w", ciphertext[0], ErrMalformed)
}

// sep separates the fields of the CBC chains 0 and 1.
var sep = []byte{0x01, 0x05, 0x00, 0x05}

const (
	pbkdf2Iter        = 1000
	pbkdf2IterPadded  = 610005
	gcmNonceLen       = 12
	gcmTagLen         = 16
	cbcIVLen          = 16
	chain2SaltLen     = 32
	passwordSaltLen   = 16
	cbcSaltLenCSharp  = 16
	cbcSaltLenJS      = 32
	symmetricKeyBytes = 32
)

// Decrypt decrypts any Password Secure ciphertext. The first byte picks the
// chain, and the chain says what key must be: an RSA private key (0), an ECC
// private key (2), a 32-byte key (4, 6) or the password's UTF-8 bytes (1, 3, 5),
// all in the encodings of §2.
func Decrypt(key, ciphertext []byte) ([]byte, error) {
	c, err := ChainOf(ciphertext)
	if err != nil {
		return nil, err
	}
	body := ciphertext[1:]
	var pt []byte
	switch c {
	case ChainRSA:
		pt, err = decryptChain0(key, body)
	case ChainPasswordCBC:
		pt, err = decryptChain1(key, body)
	case ChainECC:
		pt, err = decryptChain2(key, body)
	case ChainPasswordGCM, ChainPasswordPadded:
		pt, err = decryptPasswordGCM(c, key, body)
	case ChainKeyGCM, ChainKeyPadded:
		pt, err = decryptKeyGCM(c, key, body)
	}
	if err != nil {
		return nil, fmt.Errorf("decrypting %s: %w", c, err)
	}
	return pt, nil
}

// DecryptWithPassword decrypts a ciphertext of a password chain (1, 3 or 5)
// and refuses the others, so a password is never mistaken for a key.
func DecryptWithPassword(password, ciphertext []byte) ([]byte, error) {
	c, err := ChainOf(ciphertext)
	if err != nil {
		return nil, err
	}
	if !c.usesPassword() {
		return nil, fmt.Errorf("the ciphertext uses %s, which needs a key, not a password: %w", c, ErrKeyKind)
	}
	return Decrypt(password, ciphertext)
}

// DecryptWithKey decrypts a ciphertext of a key chain (0, 2, 4 or 6) and
// refuses the password chains, so that data a server sends as key material
// can never make the caller run a password derivation (610005 PBKDF2 rounds
// for chain 5) with a key as the password. It is the counterpart of
// DecryptWithPassword.
func DecryptWithKey(key, ciphertext []byte) ([]byte, error) {
	c, err := ChainOf(ciphertext)
	if err != nil {
		return nil, err
	}
	if c.usesPassword() {
		return nil, fmt.Errorf("the ciphertext uses %s, which needs a password, not a key: %w", c, ErrKeyKind)
	}
	return Decrypt(key, ciphertext)
}

// EncryptWithPublicKey encrypts to an ECC public key with chain 2 or to an RSA
// public key with chain 0 (the vendor's EncryptWithPublicKey). A private key
// is accepted too and its public half used.
func EncryptWithPublicKey(pub, plaintext []byte) ([]byte, error) {
	switch kind := KindOf(pub); kind {
	case KeyECCPublic, KeyECCPrivate:
		return EncryptChain(ChainECC, pub, plaintext)
	case KeyRSAPublic, KeyRSAPrivate:
		return EncryptChain(ChainRSA, pub, plaintext)
	default:
		return nil, fmt.Errorf("encrypting to a public key: a %s is not a public key: %w", kind, ErrKeyKind)
	}
}

// EncryptWithKey encrypts with a 32-byte key using chain 6, as the vendor's
// EncryptWithKey does for item values in V1 and V2.
func EncryptWithKey(key32, plaintext []byte) ([]byte, error) {
	return EncryptChain(ChainKeyPadded, key32, plaintext)
}

// EncryptWithPassword encrypts with a password using chain 5 (610005 PBKDF2
// rounds, so it takes a noticeable fraction of a second).
func EncryptWithPassword(password, plaintext []byte) ([]byte, error) {
	return EncryptChain(ChainPasswordPadded, password, plaintext)
}

// EncryptChain encrypts with an explicit chain. key is what Decrypt needs for
// that chain, except that chains 0 and 2 take the public key (a private key
// works too).
func EncryptChain(c Chain, key, plaintext []byte) ([]byte, error) {
	var out []byte
	var err error
	switch c {
	case ChainRSA:
		out, err = encryptChain0(key, plaintext)
	case ChainPasswordCBC:
		out, err = encryptChain1(key, plaintext)
	case ChainECC:
		out, err = encryptChain2(key, plaintext)
	case ChainPasswordGCM, ChainPasswordPadded:
		out, err = encryptPasswordGCM(c, key, plaintext)
	case ChainKeyGCM, ChainKeyPadded:
		out, err = encryptKeyGCM(c, key, plaintext)
	default:
		return nil, fmt.Errorf("cannot encrypt with %s: %w", c, ErrMalformed)
	}
	if err != nil {
		return nil, fmt.Errorf("encrypting with %s: %w", c, err)
	}
	return out, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return b
}

// --- AES primitives ---

func gcmSeal(key, nonce, plaintext []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return g.Seal(nil, nonce, plaintext, nil), nil
}

func gcmOpen(key, nonce, sealed []byte) ([]byte, error) {
	if len(nonce) != gcmNonceLen {
		return nil, fmt.Errorf("the GCM nonce is %d bytes instead of %d: %w", len(nonce), gcmNonceLen, ErrMalformed)
	}
	if len(sealed) < gcmTagLen {
		return nil, fmt.Errorf("the GCM body is shorter than its tag: %w", ErrMalformed)
	}
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	pt, err := g.Open(nil, nonce, sealed, nil)
	if err != nil {
		return nil, ErrWrongKey
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("the AES key is %d bytes instead of 32: %w", len(key), ErrKeyKind)
	}
	return cipher.NewGCM(b)
}

func cbcEncrypt(key, iv, plaintext []byte) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("the AES key is %d bytes instead of 32: %w", len(key), ErrKeyKind)
	}
	padded := padISO10126(plaintext)
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(padded, padded)
	return padded, nil
}

func cbcDecrypt(key, iv, ct []byte) ([]byte, error) {
	if len(iv) != cbcIVLen {
		return nil, fmt.Errorf("the CBC IV is %d bytes instead of %d: %w", len(iv), cbcIVLen, ErrMalformed)
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("the CBC body is %d bytes, not a positive multiple of 16: %w", len(ct), ErrMalformed)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("the AES key is %d bytes instead of 32: %w", len(key), ErrKeyKind)
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(pt, ct)
	return unpadISO10126(pt)
}

func pbkdf2SHA1(secret, salt []byte) []byte {
	k, _ := pbkdf2.Key(sha1.New, string(secret), salt, pbkdf2Iter, 32) // errors only for bad lengths
	return k
}

func pbkdf2SHA256(secret, salt []byte, iter int) []byte {
	k, _ := pbkdf2.Key(sha256.New, string(secret), salt, iter, 32)
	return k
}

// --- chains 0 and 1: SEP-separated CBC ---

// splitSep parses "SEP f1 SEP f2 … SEP fn" into n fields. Random fields can
// contain SEP by chance, so when splitting does not give exactly n fields it
// falls back to the known field lengths (lens, with -1 for "the rest"), trying
// each candidate salt length.
func splitSep(body []byte, n int, layouts [][]int) ([][]byte, bool) {
	parts := bytes.Split(body, sep)
	if len(parts) == n+1 && len(parts[0]) == 0 {
		return parts[1:], true
	}
	for _, lens := range layouts {
		if f, ok := splitFixed(body, lens); ok {
			return f, true
		}
	}
	return nil, false
}

func splitFixed(body []byte, lens []int) ([][]byte, bool) {
	var out [][]byte
	pos := 0
	for _, l := range lens {
		if !bytes.HasPrefix(body[pos:], sep) {
			return nil, false
		}
		pos += len(sep)
		if l < 0 {
			out = append(out, body[pos:])
			return out, true
		}
		if len(body)-pos < l {
			return nil, false
		}
		out = append(out, body[pos:pos+l])
		pos += l
	}
	return out, pos == len(body)
}

func decryptChain0(key, body []byte) ([]byte, error) {
	if k := KindOf(key); k != KeyRSAPrivate {
		return nil, fmt.Errorf("it needs an RSA private key, not a %s: %w", k, ErrKeyKind)
	}
	priv, err := parseRSAPrivate(key)
	if err != nil {
		return nil, err
	}
	k := priv.Size()
	f, ok := splitSep(body, 4, [][]int{{cbcSaltLenCSharp, k, cbcIVLen, -1}, {cbcSaltLenJS, k, cbcIVLen, -1}})
	if !ok {
		return nil, fmt.Errorf("its fields cannot be separated: %w", ErrMalformed)
	}
	salt, wrapped, iv, ct := f[0], f[1], f[2], f[3]
	if len(wrapped) != k {
		return nil, fmt.Errorf("its RSA block is %d bytes but the key needs %d: %w", len(wrapped), k, ErrWrongKey)
	}
	// PKCS#1 v1.5 decryption is a padding oracle when a remote party can
	// observe failures; here decryption happens locally on data the server
	// sent, and a clear "wrong key" is worth more than the session-key trick.
	//lint:ignore SA1019 chain 0 of the vendor's protocol is PKCS#1 v1.5; see above
	secret, err := rsa.DecryptPKCS1v15(nil, priv, wrapped)
	if err != nil {
		return nil, fmt.Errorf("the RSA key cannot unwrap it: %w", ErrWrongKey)
	}
	return cbcDecrypt(pbkdf2SHA1(secret, salt), iv, ct)
}

func encryptChain0(pubKey, plaintext []byte) ([]byte, error) {
	pub, err := parseRSAPublic(pubKey)
	if err != nil {
		return nil, err
	}
	secret := randomBytes(32)
	//lint:ignore SA1019 chain 0 of the vendor's protocol is PKCS#1 v1.5 (the emulator encrypts what real servers send)
	wrapped, err := rsa.EncryptPKCS1v15(rand.Reader, pub, secret)
	if err != nil {
		return nil, fmt.Errorf("wrapping the secret with RSA: %w", err)
	}
	salt, iv := randomBytes(cbcSaltLenCSharp), randomBytes(cbcIVLen)
	ct, err := cbcEncrypt(pbkdf2SHA1(secret, salt), iv, plaintext)
	if err != nil {
		return nil, err
	}
	return joinSep(ChainRSA, salt, wrapped, iv, ct), nil
}

func joinSep(c Chain, fields ...[]byte) []byte {
	out := []byte{byte(c)}
	for _, f := range fields {
		out = append(append(out, sep...), f...)
	}
	return out
}

func decryptChain1(password, body []byte) ([]byte, error) {
	f, ok := splitSep(body, 3, [][]int{{cbcSaltLenCSharp, cbcIVLen, -1}, {cbcSaltLenJS, cbcIVLen, -1}})
	if !ok {
		return nil, fmt.Errorf("its fields cannot be separated: %w", ErrMalformed)
	}
	pt, err := cbcDecrypt(pbkdf2SHA1(password, f[0]), f[1], f[2])
	if err != nil {
		return nil, fmt.Errorf("with this password: %w", err)
	}
	return pt, nil
}

func encryptChain1(password, plaintext []byte) ([]byte, error) {
	salt, iv := randomBytes(cbcSaltLenCSharp), randomBytes(cbcIVLen)
	ct, err := cbcEncrypt(pbkdf2SHA1(password, salt), iv, plaintext)
	if err != nil {
		return nil, err
	}
	return joinSep(ChainPasswordCBC, salt, iv, ct), nil
}

// --- chain 2: ECDH P-521 ---

// chain2Key derives the AES key: HKDF-SHA256 over the ECDH x-coordinate with
// its leading zero bytes removed (the vendor converts it through a big
// integer), salted with the 32-byte salt, no info.
func chain2Key(priv *ecdh.PrivateKey, peer *ecdh.PublicKey, salt []byte) ([]byte, error) {
	shared, err := priv.ECDH(peer)
	if err != nil {
		return nil, fmt.Errorf("the ECDH exchange failed: %w", ErrWrongKey)
	}
	return hkdf.Key(sha256.New, bytes.TrimLeft(shared, "\x00"), salt, "", 32)
}

func decryptChain2(key, body []byte) ([]byte, error) {
	if k := KindOf(key); k != KeyECCPrivate {
		return nil, fmt.Errorf("it needs an ECC private key, not a %s: %w", k, ErrKeyKind)
	}
	priv, err := parseECCPrivate(key)
	if err != nil {
		return nil, err
	}
	f, err := unpackBins(body, 4)
	if err != nil {
		return nil, err
	}
	eph, err := parseECCPublic(f[0])
	if err != nil {
		return nil, fmt.Errorf("reading the ephemeral key: %w", err)
	}
	if len(f[1]) != chain2SaltLen {
		return nil, fmt.Errorf("its salt is %d bytes instead of %d: %w", len(f[1]), chain2SaltLen, ErrMalformed)
	}
	ecdhPriv, err := priv.ECDH()
	if err != nil {
		return nil, fmt.Errorf("converting the ECC key: %w", ErrKeyKind)
	}
	ecdhPeer, err := eph.ECDH()
	if err != nil {
		return nil, fmt.Errorf("converting the ephemeral key: %w", ErrMalformed)
	}
	aesKey, err := chain2Key(ecdhPriv, ecdhPeer, f[1])
	if err != nil {
		return nil, err
	}
	return gcmOpen(aesKey, f[2], f[3])
}

func encryptChain2(pubKey, plaintext []byte) ([]byte, error) {
	pubBytes, err := PublicKeyOf(pubKey)
	if err != nil {
		return nil, err
	}
	pub, err := parseECCPublic(pubBytes)
	if err != nil {
		return nil, err
	}
	peer, err := pub.ECDH()
	if err != nil {
		return nil, fmt.Errorf("converting the ECC public key: %w", ErrKeyKind)
	}
	eph, err := ecdh.P521().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating an ephemeral key: %w", err)
	}
	raw := eph.PublicKey().Bytes() // 04 ‖ X ‖ Y
	ephEnc := packBins(minimal(raw[1:1+p521Len]), minimal(raw[1+p521Len:]))
	salt, iv := randomBytes(chain2SaltLen), randomBytes(gcmNonceLen)
	aesKey, err := chain2Key(eph, peer, salt)
	if err != nil {
		return nil, err
	}
	ct, err := gcmSeal(aesKey, iv, plaintext)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(ChainECC)}, packBins(ephEnc, salt, iv, ct)...), nil
}

// --- chains 3 and 5: password AES-GCM ---

func decryptPasswordGCM(c Chain, password, body []byte) ([]byte, error) {
	f, err := unpackBins(body, 3)
	if err != nil {
		return nil, err
	}
	if len(f[0]) == 0 {
		return nil, fmt.Errorf("its salt is empty: %w", ErrMalformed)
	}
	iter := pbkdf2Iter
	if c == ChainPasswordPadded {
		iter = pbkdf2IterPadded
	}
	// Check the cheap structural parts before paying for 610005 rounds.
	if len(f[1]) != gcmNonceLen || len(f[2]) < gcmTagLen {
		return nil, fmt.Errorf("its nonce or tag has the wrong length: %w", ErrMalformed)
	}
	pt, err := gcmOpen(pbkdf2SHA256(password, f[0], iter), f[1], f[2])
	if err != nil {
		return nil, fmt.Errorf("with this password: %w", err)
	}
	if c == ChainPasswordPadded {
		return unpad128(pt)
	}
	return pt, nil
}

func encryptPasswordGCM(c Chain, password, plaintext []byte) ([]byte, error) {
	iter := pbkdf2Iter
	if c == ChainPasswordPadded {
		iter = pbkdf2IterPadded
		plaintext = pad128(plaintext)
	}
	salt, iv := randomBytes(passwordSaltLen), randomBytes(gcmNonceLen)
	ct, err := gcmSeal(pbkdf2SHA256(password, salt, iter), iv, plaintext)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(c)}, packBins(salt, iv, ct)...), nil
}

// --- chains 4 and 6: raw-key AES-GCM ---

func decryptKeyGCM(c Chain, key, body []byte) ([]byte, error) {
	if len(key) != symmetricKeyBytes {
		return nil, fmt.Errorf("it needs a 32-byte key, not a %s of %d bytes: %w", KindOf(key), len(key), ErrKeyKind)
	}
	f, err := unpackBins(body, 2)
	if err != nil {
		return nil, err
	}
	pt, err := gcmOpen(key, f[0], f[1])
	if err != nil {
		return nil, err
	}
	if c == ChainKeyPadded {
		return unpad128(pt)
	}
	return pt, nil
}

func encryptKeyGCM(c Chain, key, plaintext []byte) ([]byte, error) {
	if len(key) != symmetricKeyBytes {
		return nil, fmt.Errorf("it needs a 32-byte key, got %d bytes: %w", len(key), ErrKeyKind)
	}
	if c == ChainKeyPadded {
		plaintext = pad128(plaintext)
	}
	iv := randomBytes(gcmNonceLen)
	ct, err := gcmSeal(key, iv, plaintext)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(c)}, packBins(iv, ct)...), nil
}
