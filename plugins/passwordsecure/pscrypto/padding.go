package pscrypto

import (
	"crypto/rand"
	"fmt"
)

// padISO10126 appends 1..16 bytes, random except the last, which is the count
// (§6.7); the CBC chains 0 and 1 use it.
func padISO10126(data []byte) []byte {
	p := 16 - len(data)%16
	out := make([]byte, len(data)+p)
	copy(out, data)
	rand.Read(out[len(data) : len(out)-1])
	out[len(out)-1] = byte(p)
	return out
}

func unpadISO10126(data []byte) ([]byte, error) {
	if len(data) == 0 || len(data)%16 != 0 {
		return nil, fmt.Errorf("the decrypted block has a length that is not a multiple of 16: %w", ErrWrongKey)
	}
	p := int(data[len(data)-1])
	if p < 1 || p > 16 {
		// With CBC, a wrong key shows up here: the last byte is random.
		return nil, fmt.Errorf("the decrypted padding is invalid: %w", ErrWrongKey)
	}
	return data[:len(data)-p], nil
}

// pad128 is the block padding of chains 5 and 6 (§6.7): the output length is
// the next multiple of 128 strictly above len(data), filled with random bytes
// and ended by the count of filler bytes before it. This is the JS rule, which
// the vectors confirm; the Go port's variant differs for long inputs.
func pad128(data []byte) []byte {
	m := 128 - len(data)%128
	out := make([]byte, len(data)+m)
	copy(out, data)
	rand.Read(out[len(data) : len(out)-1])
	out[len(out)-1] = byte(m - 1)
	return out
}

func unpad128(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("the padded plaintext is empty: %w", ErrMalformed)
	}
	n := int(data[len(data)-1])
	if n+1 > len(data) {
		return nil, fmt.Errorf("the plaintext padding claims more bytes than there are: %w", ErrMalformed)
	}
	return data[:len(data)-n-1], nil
}
