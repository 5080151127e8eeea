package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The soak must fail when its checks find a fault; these runs inject one
// each and look for the failing check by name. (A passing run is CI's
// `make soak SOAK=60s`.)
func TestSoakFailsOnInjectedFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four connector binaries and runs a short soak")
	}
	for _, tc := range []struct{ inject, failing string }{
		{"drop-audit", "FAIL  audit chain valid"},
		{"stuck-session", "FAIL  no session stuck"},
	} {
		t.Run(tc.inject, func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), options{duration: 4 * time.Second, users: 3, chaosEvery: 2 * time.Second, inject: tc.inject, settle: 15 * time.Second}, &out)
			if code == 0 {
				t.Fatalf("the soak passed with fault %s injected:\n%s", tc.inject, out.String())
			}
			if !strings.Contains(out.String(), tc.failing) {
				t.Fatalf("the soak failed, but not at the check for %s:\n%s", tc.inject, out.String())
			}
		})
	}
}
