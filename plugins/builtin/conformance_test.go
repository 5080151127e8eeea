package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byov/byov/sdk"
	"github.com/byov/byov/sdk/connectortest"
)

// TestConformance runs the SDK's conformance kit against the builtin
// connector, as a plugin process and in process.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the plugin binary; skipped in -short")
	}
	connectortest.Run(t, connectortest.Harness{
		Package:   ".",
		Connector: connector{},
		Seed:      seedConformanceVault,
		Skip: map[string]string{
			connectortest.CaseCheckoutAmbiguous: `the builtin vault keeps one entry per DOMAIN\username (Put replaces it), so no account can match two entries`,
		},
	})
}

// seedConformanceVault creates a key-file vault holding one account,
// through the connector itself.
func seedConformanceVault(t testing.TB) (connectortest.Fixture, error) {
	dir := t.TempDir()
	raw := map[string]any{
		"path":     filepath.Join(dir, "vault.db"),
		"key_file": filepath.Join(dir, "master.key"),
		"create":   true,
	}
	const secret = "Conformance-Builtin-Pw-7!k"
	found := sdk.Account{Domain: "CORP", Username: "adm-conformance"}
	ctx := context.Background()
	cfg, err := sdk.DecodeConfig(schema, raw)
	if err != nil {
		return connectortest.Fixture{}, err
	}
	inst, err := connector{}.Configure(ctx, sdk.ConfigureRequest{InstanceID: "seed", Config: cfg})
	if err != nil {
		return connectortest.Fixture{}, err
	}
	defer inst.Close(ctx)
	if _, err := inst.(*instance).Put(ctx, sdk.PutRequest{Account: found, Secret: secret}); err != nil {
		return connectortest.Fixture{}, err
	}
	fx := connectortest.Fixture{
		Config:      raw,
		Found:       found,
		FoundSecret: secret,
		Absent:      sdk.Account{Domain: "CORP", Username: "nobody-here"},
	}
	// The master key must not leak either.
	if key, err := os.ReadFile(raw["key_file"].(string)); err == nil {
		fx.Secrets = append(fx.Secrets, sdk.Secret(strings.TrimSpace(string(key))))
	}
	return fx, nil
}
