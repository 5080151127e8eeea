package vaultstore

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/byov/byov/sdk"
)

// CharClass names a set of characters a generated password draws from.
type CharClass string

// The character classes. Symbols leave out quotes, backslash, backtick and
// space, which break too many shells, scripts and login forms.
const (
	Lower  CharClass = "lower"
	Upper  CharClass = "upper"
	Digit  CharClass = "digit"
	Symbol CharClass = "symbol"
)

var classChars = map[CharClass]string{
	Lower:  "abcdefghijklmnopqrstuvwxyz",
	Upper:  "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	Digit:  "0123456789",
	Symbol: "!#$%&()*+,-./:;<=>?@[]^_{|}~",
}

// AllClasses lists every class, the default of a policy.
var AllClasses = []CharClass{Lower, Upper, Digit, Symbol}

// Chars returns the characters of a class, or "" for an unknown one.
func (c CharClass) Chars() string { return classChars[c] }

// Policy says what a generated password looks like: Length characters,
// drawn from the union of Classes, with at least one of each class.
type Policy struct {
	Length  int
	Classes []CharClass
}

// Password length bounds. Below 8 a random password is guessable online;
// above 256 few systems accept it.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 256
)

// Validate reports what is wrong with the policy, in config terms.
func (p Policy) Validate() error {
	if len(p.Classes) == 0 {
		return fmt.Errorf("%w: password_classes is empty; list at least one of lower, upper, digit, symbol", ErrInvalid)
	}
	seen := map[CharClass]bool{}
	for _, c := range p.Classes {
		if c.Chars() == "" {
			return fmt.Errorf("%w: password_classes holds %q; the classes are lower, upper, digit and symbol", ErrInvalid, string(c))
		}
		if seen[c] {
			return fmt.Errorf("%w: password_classes lists %q twice", ErrInvalid, string(c))
		}
		seen[c] = true
	}
	if p.Length < MinPasswordLength || p.Length > MaxPasswordLength {
		return fmt.Errorf("%w: password_length is %d; it must be between %d and %d", ErrInvalid, p.Length, MinPasswordLength, MaxPasswordLength)
	}
	return nil
}

// GeneratePassword makes a random password meeting the policy. It draws
// every character uniformly from the union of the classes and starts over
// until each class appears, which keeps the result uniform over all
// passwords that meet the policy (filling one slot per class first would
// not). With the length of at least 8 this takes a few tries at worst.
func GeneratePassword(p Policy) (sdk.Secret, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	var all strings.Builder
	for _, c := range p.Classes {
		all.WriteString(c.Chars())
	}
	chars := all.String()
	// Bytes at or above limit are dropped so that every character is equally
	// likely (no modulo bias).
	limit := 256 - 256%len(chars)
	out := make([]byte, p.Length)
	buf := make([]byte, 2*p.Length)
	for {
		for i := 0; i < len(out); {
			rand.Read(buf)
			for _, b := range buf {
				if int(b) >= limit {
					continue
				}
				out[i] = chars[int(b)%len(chars)]
				if i++; i == len(out) {
					break
				}
			}
		}
		if meetsPolicy(out, p.Classes) {
			s := sdk.Secret(out)
			clear(out)
			clear(buf)
			return s, nil
		}
	}
}

func meetsPolicy(pw []byte, classes []CharClass) bool {
	for _, c := range classes {
		if !bytes.ContainsAny(pw, c.Chars()) {
			return false
		}
	}
	return true
}
