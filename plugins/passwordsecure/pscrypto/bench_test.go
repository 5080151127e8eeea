package pscrypto

import "testing"

var sinkPlain []byte

func benchDecrypt(b *testing.B, c Chain) {
	b.Helper()
	k := keys(b)
	encKey, decKey := k.sym, k.sym
	if c == ChainECC {
		encKey, decKey = k.eccPub, k.eccPriv
	}
	ct, err := EncryptChain(c, encKey, []byte("Hello from NPWS! This is a cross-language test."))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if sinkPlain, err = Decrypt(decKey, ct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptChain2(b *testing.B) { benchDecrypt(b, ChainECC) }
func BenchmarkDecryptChain4(b *testing.B) { benchDecrypt(b, ChainKeyGCM) }
func BenchmarkDecryptChain6(b *testing.B) { benchDecrypt(b, ChainKeyPadded) }
