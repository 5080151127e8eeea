package vaultstore_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/byov/byov/plugins/builtin/vaultstore"
)

// checkPolicy reports how pw breaks the policy, or nil.
func checkPolicy(pw string, p vaultstore.Policy) error {
	if len(pw) != p.Length {
		return fmt.Errorf("password has %d characters, want %d", len(pw), p.Length)
	}
	var allowed string
	for _, c := range p.Classes {
		allowed += c.Chars()
		if !strings.ContainsAny(pw, c.Chars()) {
			return fmt.Errorf("password has no %s character", c)
		}
	}
	for _, r := range pw {
		if !strings.ContainsRune(allowed, r) {
			return fmt.Errorf("password holds %q, outside the classes %v", r, p.Classes)
		}
	}
	return nil
}

func TestGeneratePassword(t *testing.T) {
	for _, p := range []vaultstore.Policy{
		{Length: 24, Classes: vaultstore.AllClasses},
		{Length: 8, Classes: vaultstore.AllClasses},
		{Length: 8, Classes: []vaultstore.CharClass{vaultstore.Digit}},
		{Length: 12, Classes: []vaultstore.CharClass{vaultstore.Upper, vaultstore.Symbol}},
		{Length: 256, Classes: []vaultstore.CharClass{vaultstore.Lower, vaultstore.Upper, vaultstore.Digit}},
	} {
		t.Run(fmt.Sprintf("%d %v", p.Length, p.Classes), func(t *testing.T) {
			seen := map[string]bool{}
			for range 200 {
				s, err := vaultstore.GeneratePassword(p)
				if err != nil {
					t.Fatal(err)
				}
				pw := s.Reveal()
				if err := checkPolicy(pw, p); err != nil {
					t.Fatal(err)
				}
				seen[pw] = true
			}
			if len(seen) < 190 { // 8 digits: 10^8 choices, so repeats are rare
				t.Errorf("only %d distinct passwords in 200", len(seen))
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		p    vaultstore.Policy
		want string
	}{
		{vaultstore.Policy{Length: 24}, "password_classes is empty"},
		{vaultstore.Policy{Length: 24, Classes: []vaultstore.CharClass{"emoji"}}, `"emoji"`},
		{vaultstore.Policy{Length: 24, Classes: []vaultstore.CharClass{"lower", "lower"}}, "twice"},
		{vaultstore.Policy{Length: 7, Classes: vaultstore.AllClasses}, "between 8 and 256"},
		{vaultstore.Policy{Length: 257, Classes: vaultstore.AllClasses}, "between 8 and 256"},
	} {
		_, err := vaultstore.GeneratePassword(tc.p)
		if !errors.Is(err, vaultstore.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("GeneratePassword(%+v) = %v, want ErrInvalid saying %q", tc.p, err, tc.want)
		}
	}
}
