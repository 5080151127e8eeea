package pscrypto

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"math/big"
	"strings"
)

// KeyKind says which of the §2 encodings a key is in.
type KeyKind int

// The key kinds of PROTOCOL.md §2.
const (
	KeyUnknown KeyKind = iota
	KeyECCPrivate
	KeyECCPublic
	KeyRSAPrivate
	KeyRSAPublic
	KeySymmetric
)

func (k KeyKind) String() string {
	switch k {
	case KeyECCPrivate:
		return "ECC P-521 private key"
	case KeyECCPublic:
		return "ECC P-521 public key"
	case KeyRSAPrivate:
		return "RSA private key"
	case KeyRSAPublic:
		return "RSA public key"
	case KeySymmetric:
		return "32-byte symmetric key"
	default:
		return "unrecognised key"
	}
}

// p521Len is the byte length of a P-521 coordinate or scalar.
const p521Len = 66

// KindOf classifies key bytes by the prefixes of §2. It does not validate the
// key; the operation that uses it does.
func KindOf(key []byte) KeyKind {
	switch {
	// A P-521 or RSA key can never be 32 bytes long, so the length test goes
	// first: a random AES key may happen to start with an ECC or RSA prefix.
	case len(key) == 32:
		return KeySymmetric
	case len(key) >= 2 && key[0] == 0x93 && key[1] == 0xc4:
		return KeyECCPrivate
	case len(key) >= 2 && key[0] == 0x92 && key[1] == 0xc4:
		return KeyECCPublic
	case len(key) >= 2 && key[0] == 'P' && key[1] == 'F':
		x, err := parseRSAXML(key)
		if err != nil {
			return KeyUnknown
		}
		if x.hasPrivate() {
			return KeyRSAPrivate
		}
		return KeyRSAPublic
	default:
		return KeyUnknown
	}
}

// leftPad returns b as a size-byte unsigned big-endian value. Encoders may
// strip leading zeros (the vendor vectors have 65-byte coordinates).
func leftPad(b []byte, size int) ([]byte, bool) {
	b = bytes.TrimLeft(b, "\x00")
	if len(b) > size {
		return nil, false
	}
	out := make([]byte, size)
	copy(out[size-len(b):], b)
	return out, true
}

// minimal strips leading zero bytes, matching the vendor SDK's encoder.
func minimal(b []byte) []byte {
	b = bytes.TrimLeft(b, "\x00")
	if len(b) == 0 {
		return []byte{0}
	}
	return b
}

func parseECCPublic(key []byte) (*ecdsa.PublicKey, error) {
	parts, err := unpackBins(key, 2)
	if err != nil {
		return nil, fmt.Errorf("reading the ECC public key: %w", err)
	}
	return eccPoint(parts[0], parts[1])
}

func eccPoint(x, y []byte) (*ecdsa.PublicKey, error) {
	x66, okx := leftPad(x, p521Len)
	y66, oky := leftPad(y, p521Len)
	if !okx || !oky {
		return nil, fmt.Errorf("an ECC coordinate is longer than %d bytes, so it is not a P-521 key: %w", p521Len, ErrMalformed)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P521(), append(append([]byte{4}, x66...), y66...))
	if err != nil {
		return nil, fmt.Errorf("the ECC public key is not a point on P-521: %w", ErrMalformed)
	}
	return pub, nil
}

func parseECCPrivate(key []byte) (*ecdsa.PrivateKey, error) {
	parts, err := unpackBins(key, 3)
	if err != nil {
		return nil, fmt.Errorf("reading the ECC private key: %w", err)
	}
	d66, ok := leftPad(parts[0], p521Len)
	if !ok {
		return nil, fmt.Errorf("the ECC private scalar is longer than %d bytes, so it is not a P-521 key: %w", p521Len, ErrMalformed)
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P521(), d66)
	if err != nil {
		return nil, fmt.Errorf("the ECC private scalar is out of range for P-521: %w", ErrMalformed)
	}
	// The stored public half must match, or the key was assembled wrongly and
	// everything encrypted to that public half would be unreadable.
	claimed, err := eccPoint(parts[1], parts[2])
	if err != nil {
		return nil, fmt.Errorf("reading the public half of the ECC private key: %w", err)
	}
	if !claimed.Equal(&priv.PublicKey) {
		return nil, fmt.Errorf("the public half of the ECC private key does not belong to its private scalar: %w", ErrMalformed)
	}
	return priv, nil
}

func eccCoordinates(pub *ecdsa.PublicKey) (x, y []byte, err error) {
	raw, err := pub.Bytes()
	if err != nil || len(raw) != 1+2*p521Len {
		return nil, nil, fmt.Errorf("encoding the ECC public key: %w", ErrKeyKind)
	}
	return raw[1 : 1+p521Len], raw[1+p521Len:], nil
}

func encodeECCPublic(pub *ecdsa.PublicKey) ([]byte, error) {
	x, y, err := eccCoordinates(pub)
	if err != nil {
		return nil, err
	}
	return packBins(minimal(x), minimal(y)), nil
}

func encodeECCPrivate(priv *ecdsa.PrivateKey) ([]byte, error) {
	d, err := priv.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding the ECC private key: %w", ErrKeyKind)
	}
	x, y, err := eccCoordinates(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return packBins(minimal(d), minimal(x), minimal(y)), nil
}

// rsaKeyValue is the .NET RSA.ToXmlString layout. Empty private elements are
// how the vendor writes a public key, so they mean "absent".
type rsaKeyValue struct {
	XMLName  xml.Name `xml:"RSAKeyValue"`
	Modulus  string   `xml:"Modulus"`
	Exponent string   `xml:"Exponent"`
	P        string   `xml:"P"`
	Q        string   `xml:"Q"`
	DP       string   `xml:"DP"`
	DQ       string   `xml:"DQ"`
	InverseQ string   `xml:"InverseQ"`
	D        string   `xml:"D"`
}

func (x *rsaKeyValue) hasPrivate() bool {
	return strings.TrimSpace(x.D) != "" && strings.TrimSpace(x.P) != "" && strings.TrimSpace(x.Q) != ""
}

func parseRSAXML(key []byte) (*rsaKeyValue, error) {
	text := bytes.TrimSpace(key)
	// The key is base64 of the XML, and some producers wrap it more than once;
	// the JS port unwraps up to four layers, and so do we.
	for i := 0; i < 4 && !bytes.HasPrefix(text, []byte("<")); i++ {
		dec, err := base64.StdEncoding.DecodeString(string(text))
		if err != nil {
			return nil, fmt.Errorf("the RSA key is neither XML nor base64 of XML: %w", ErrMalformed)
		}
		text = bytes.TrimSpace(dec)
	}
	if !bytes.HasPrefix(text, []byte("<")) {
		return nil, fmt.Errorf("the RSA key does not decode to XML: %w", ErrMalformed)
	}
	var x rsaKeyValue
	if err := xml.Unmarshal(text, &x); err != nil {
		return nil, fmt.Errorf("the RSA key is not a valid RSAKeyValue document: %w", ErrMalformed)
	}
	return &x, nil
}

func xmlInt(name, v string) (*big.Int, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("the RSA key element %s is not base64: %w", name, ErrMalformed)
	}
	return new(big.Int).SetBytes(b), nil
}

func (x *rsaKeyValue) public() (*rsa.PublicKey, error) {
	n, err := xmlInt("Modulus", x.Modulus)
	if err != nil {
		return nil, err
	}
	e, err := xmlInt("Exponent", x.Exponent)
	if err != nil {
		return nil, err
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || n.BitLen() < 1024 {
		return nil, fmt.Errorf("the RSA key has an unusable modulus or exponent: %w", ErrMalformed)
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

func (x *rsaKeyValue) private() (*rsa.PrivateKey, error) {
	pub, err := x.public()
	if err != nil {
		return nil, err
	}
	if !x.hasPrivate() {
		return nil, fmt.Errorf("the RSA key holds only the public part: %w", ErrKeyKind)
	}
	d, err := xmlInt("D", x.D)
	if err != nil {
		return nil, err
	}
	p, err := xmlInt("P", x.P)
	if err != nil {
		return nil, err
	}
	q, err := xmlInt("Q", x.Q)
	if err != nil {
		return nil, err
	}
	priv := &rsa.PrivateKey{PublicKey: *pub, D: d, Primes: []*big.Int{p, q}}
	if err := priv.Validate(); err != nil {
		return nil, fmt.Errorf("the RSA private key is inconsistent: %w", ErrMalformed)
	}
	priv.Precompute()
	return priv, nil
}

func parseRSAPublic(key []byte) (*rsa.PublicKey, error) {
	x, err := parseRSAXML(key)
	if err != nil {
		return nil, err
	}
	return x.public()
}

func parseRSAPrivate(key []byte) (*rsa.PrivateKey, error) {
	x, err := parseRSAXML(key)
	if err != nil {
		return nil, err
	}
	return x.private()
}

func b64Fixed(v *big.Int, size int) string {
	return base64.StdEncoding.EncodeToString(v.FillBytes(make([]byte, size)))
}

// encodeRSA writes the key the way the vendor SDK does: base64 text of the
// XML. Private elements have the fixed lengths .NET's ImportParameters insists
// on; a public key keeps the empty private elements seen in the vectors.
func encodeRSA(pub *rsa.PublicKey, priv *rsa.PrivateKey) []byte {
	k := (pub.N.BitLen() + 7) / 8
	half := (k + 1) / 2
	x := rsaKeyValue{
		Modulus:  b64Fixed(pub.N, k),
		Exponent: base64.StdEncoding.EncodeToString(minimal(big.NewInt(int64(pub.E)).Bytes())),
	}
	if priv != nil && len(priv.Primes) == 2 {
		priv.Precompute()
		x.P = b64Fixed(priv.Primes[0], half)
		x.Q = b64Fixed(priv.Primes[1], half)
		x.DP = b64Fixed(priv.Precomputed.Dp, half)
		x.DQ = b64Fixed(priv.Precomputed.Dq, half)
		x.InverseQ = b64Fixed(priv.Precomputed.Qinv, half)
		x.D = b64Fixed(priv.D, k)
	}
	doc, _ := xml.Marshal(x) // cannot fail: only strings
	return []byte(base64.StdEncoding.EncodeToString(doc))
}

// GenerateECCKey returns a new P-521 key pair in the msgpack encodings of
// §6.8: priv is [D, X, Y], pub is [X, Y].
func GenerateECCKey() (priv, pub []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating a P-521 key: %w", err)
	}
	if priv, err = encodeECCPrivate(k); err != nil {
		return nil, nil, err
	}
	if pub, err = encodeECCPublic(&k.PublicKey); err != nil {
		return nil, nil, err
	}
	return priv, pub, nil
}

// GenerateRSAKey returns a new RSA key pair of the given size in the .NET XML
// encoding of §6.8 (V1 data). 2048 is what the vendor JS port generates.
func GenerateRSAKey(bits int) (priv, pub []byte, err error) {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, fmt.Errorf("generating a %d-bit RSA key: %w", bits, err)
	}
	return encodeRSA(&k.PublicKey, k), encodeRSA(&k.PublicKey, nil), nil
}

// GenerateSymmetricKey returns a random 32-byte AES-256 key, the item key of
// V2 data.
func GenerateSymmetricKey() []byte {
	k := make([]byte, 32)
	rand.Read(k) // never fails since Go 1.24
	return k
}

// PublicKeyOf returns the public key, in its wire encoding, of an ECC or RSA
// private key. Given a public key it returns it unchanged (re-encoded).
func PublicKeyOf(priv []byte) ([]byte, error) {
	switch kind := KindOf(priv); kind {
	case KeyECCPrivate:
		k, err := parseECCPrivate(priv)
		if err != nil {
			return nil, err
		}
		return encodeECCPublic(&k.PublicKey)
	case KeyECCPublic:
		k, err := parseECCPublic(priv)
		if err != nil {
			return nil, err
		}
		return encodeECCPublic(k)
	case KeyRSAPrivate, KeyRSAPublic:
		k, err := parseRSAPublic(priv)
		if err != nil {
			return nil, err
		}
		return encodeRSA(k, nil), nil
	default:
		return nil, fmt.Errorf("a %s has no public key: %w", kind, ErrKeyKind)
	}
}
