package main

import (
	"strings"
	"testing"

	"github.com/byov/byov/sdk"
	"github.com/byov/byov/sdk/connectortest"
)

// TestConformance runs the SDK's conformance kit against the Password
// Secure connector, as a plugin process and in process, each run against
// its own psemu server.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the plugin binary; skipped in -short")
	}
	connectortest.Run(t, connectortest.Harness{
		Package:   ".",
		Connector: connector{},
		Seed: func(t testing.TB) (connectortest.Fixture, error) {
			emu := startEmulator(t)
			fx := connectortest.Fixture{
				Config:         emu.config(),
				ServiceAccount: sdk.ServiceAccount{Username: "NPS", Secret: sdk.Secret(emu.key)},
				Found:          sdk.Account{Domain: "CORP", Username: "administrator"},
				FoundSecret:    adminPW,
				Absent:         sdk.Account{Domain: "CORP", Username: "nobody"},
				Ambiguous:      sdk.Account{Domain: "CORP", Username: "dup"},
				Secrets:        []sdk.Secret{dupPW},
			}
			// The API key is "<JWT>:<private key>"; neither half may leak.
			if jwt, priv, ok := strings.Cut(emu.key, ":"); ok {
				fx.Secrets = append(fx.Secrets, sdk.Secret(jwt), sdk.Secret(priv))
			}
			return fx, nil
		},
	})
}
