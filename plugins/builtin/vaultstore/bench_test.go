package vaultstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/byov/byov/plugins/builtin/vaultstore"
	"github.com/byov/byov/sdk"
)

// benchStore holds 1000 accounts, so that the lookup goes through a real
// index rather than a one-row table.
func benchStore(b *testing.B) *vaultstore.Store {
	b.Helper()
	dir := b.TempDir()
	s, err := vaultstore.Open(context.Background(), vaultstore.Options{
		Path: dir + "/vault.db", KeyFile: dir + "/master.key", Create: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for i := range 1000 {
		a := sdk.Account{Domain: "CORP", Username: fmt.Sprintf("user%04d", i)}
		if _, err := s.Put(context.Background(), a, sdk.Secret(fmt.Sprintf("password-%04d-xxxxxxxxxxxx", i)), vaultstore.Meta{}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkGet is the cost of one checkout inside the store: name folding,
// the indexed lookup and the decryption.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	a := sdk.Account{Domain: "corp", Username: "USER0500"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetParallel is the same with readers on every core, as many
// sessions starting at once would do.
func BenchmarkGetParallel(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer() // RunParallel does not leave the setup out by itself
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a := sdk.Account{Domain: "CORP", Username: fmt.Sprintf("user%04d", i%1000)}
			if _, err := s.Get(ctx, a); err != nil {
				b.Error(err)
				return
			}
			i += 7
		}
	})
}

// BenchmarkPut is one new version: a write transaction with fsync.
func BenchmarkPut(b *testing.B) {
	s := benchStore(b)
	a := sdk.Account{Domain: "CORP", Username: "user0500"}
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Put(ctx, a, "new-password-xxxxxxxxxx", vaultstore.Meta{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenPassphrase is the one-off cost of opening a vault with the
// default Argon2id parameters.
func BenchmarkOpenPassphrase(b *testing.B) {
	dir := b.TempDir()
	opts := vaultstore.Options{Path: dir + "/vault.db", Passphrase: "bench passphrase", Create: true}
	s, err := vaultstore.Open(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	for b.Loop() {
		s, err := vaultstore.Open(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
