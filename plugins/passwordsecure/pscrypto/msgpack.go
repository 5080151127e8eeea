package pscrypto

import (
	"encoding/binary"
	"fmt"
)

// The protocol uses msgpack only as arrays of byte strings (§6.8), so this is
// the whole subset: a general msgpack library would accept far more than the
// wire format allows and make malformed input harder to reject.

// packBins encodes parts as a msgpack array of bin values, choosing the
// smallest array and bin headers, as the vendor encoders do.
func packBins(parts ...[]byte) []byte {
	size := 3
	for _, p := range parts {
		size += 5 + len(p)
	}
	out := make([]byte, 0, size)
	if n := len(parts); n < 16 {
		out = append(out, 0x90|byte(n))
	} else {
		out = append(out, 0xdc, byte(n>>8), byte(n))
	}
	for _, p := range parts {
		switch n := len(p); {
		case n <= 0xff:
			out = append(out, 0xc4, byte(n))
		case n <= 0xffff:
			out = append(out, 0xc5, byte(n>>8), byte(n))
		default:
			out = binary.BigEndian.AppendUint32(append(out, 0xc6), uint32(n))
		}
		out = append(out, p...)
	}
	return out
}

// unpackBins decodes a msgpack array of bin (or str) values that must fill
// data exactly and hold want elements. The returned slices alias data.
func unpackBins(data []byte, want int) ([][]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("the msgpack array is empty: %w", ErrMalformed)
	}
	var n, pos int
	switch h := data[0]; {
	case h&0xf0 == 0x90:
		n, pos = int(h&0x0f), 1
	case h == 0xdc:
		if len(data) < 3 {
			return nil, fmt.Errorf("the msgpack array header is truncated: %w", ErrMalformed)
		}
		n, pos = int(binary.BigEndian.Uint16(data[1:3])), 3
	default:
		return nil, fmt.Errorf("expected a msgpack array, found header byte 0x%02x: %w", h, ErrMalformed)
	}
	if n != want {
		return nil, fmt.Errorf("expected a msgpack array of %d elements, found %d: %w", want, n, ErrMalformed)
	}
	parts := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		if pos >= len(data) {
			return nil, fmt.Errorf("the msgpack array ends after %d of %d elements: %w", i, n, ErrMalformed)
		}
		h := data[pos]
		var length, hdr int
		rest := data[pos+1:]
		switch {
		case h == 0xc4 || h == 0xd9: // bin8, str8
			if len(rest) < 1 {
				return nil, fmt.Errorf("msgpack element %d has a truncated length: %w", i, ErrMalformed)
			}
			length, hdr = int(rest[0]), 2
		case h == 0xc5 || h == 0xda: // bin16, str16
			if len(rest) < 2 {
				return nil, fmt.Errorf("msgpack element %d has a truncated length: %w", i, ErrMalformed)
			}
			length, hdr = int(binary.BigEndian.Uint16(rest)), 3
		case h == 0xc6 || h == 0xdb: // bin32, str32
			if len(rest) < 4 {
				return nil, fmt.Errorf("msgpack element %d has a truncated length: %w", i, ErrMalformed)
			}
			l := binary.BigEndian.Uint32(rest)
			if uint64(l) > uint64(len(data)) {
				return nil, fmt.Errorf("msgpack element %d claims %d bytes, more than the input holds: %w", i, l, ErrMalformed)
			}
			length, hdr = int(l), 5
		case h&0xe0 == 0xa0: // fixstr
			length, hdr = int(h&0x1f), 1
		default:
			return nil, fmt.Errorf("msgpack element %d is not a byte string (header 0x%02x): %w", i, h, ErrMalformed)
		}
		start := pos + hdr
		if length > len(data)-start {
			return nil, fmt.Errorf("msgpack element %d is truncated: %w", i, ErrMalformed)
		}
		parts = append(parts, data[start:start+length:start+length])
		pos = start + length
	}
	if pos != len(data) {
		return nil, fmt.Errorf("%d unexpected bytes follow the msgpack array: %w", len(data)-pos, ErrMalformed)
	}
	return parts, nil
}
