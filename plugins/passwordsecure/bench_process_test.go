package main

import (
	"context"
	"testing"

	"github.com/byov/byov/internal/logbuffer"
	"github.com/byov/byov/sdk"
)

// BenchmarkPlugin compares a warm checkout through the plugin process against
// psemu (no injected latency, so the number is the connector's own cost plus
// its HTTPS round trips on loopback) with the bare RPC floor, go-plugin's
// health check on the same connection, in the same run. It is the
// passwordsecure row of `make bench`, the counterpart of the builtin
// plugin's BenchmarkPlugin.
func BenchmarkPlugin(b *testing.B) {
	emu := startEmulator(b)
	ctx := context.Background()
	c := startPlugin(b, &logbuffer.Buffer{})
	sa := sdk.ServiceAccount{Username: "NPS", Secret: sdk.Secret(emu.key)}
	if err := c.Configure(ctx, "bench", emu.config(), sa); err != nil {
		b.Fatal(err)
	}
	req := sdk.CheckoutRequest{
		Account: sdk.Account{Domain: "CORP", Username: "administrator"},
		Session: sdk.SessionContext{SessionID: "sess-bench", Requester: "alice", Resource: "srv01", Activity: "domain-admin"},
	}
	// Warm up outside the timed loops: login, entry lookup and the TLS
	// connection, so the rows are about steady state.
	if _, err := c.Checkout(ctx, "bench", req); err != nil {
		b.Fatal(err)
	}
	b.Run("ping", func(b *testing.B) {
		for b.Loop() {
			if err := c.Ping(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checkout", func(b *testing.B) {
		before, n := emu.srv.TotalCalls(), 0
		for b.Loop() {
			if _, err := c.Checkout(ctx, "bench", req); err != nil {
				b.Fatal(err)
			}
			n++
		}
		// Round trips to the server explain most of the ratio to the floor.
		b.ReportMetric(float64(emu.srv.TotalCalls()-before)/float64(n), "roundtrips/op")
	})
}
