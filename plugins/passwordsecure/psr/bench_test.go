package psr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/byov/byov/plugins/passwordsecure/psemu"
)

// BenchmarkCheckout compares, in one run and against psemu with 5 ms of
// latency per request, a client that keeps its session and cache (the way
// the connector runs) with one that logs in for every checkout. Both share
// one HTTP transport, so the difference is the protocol work, not TLS
// handshakes. Targets: at most 2 round trips per warm checkout, and at
// least 3 times the checkouts per second.
//
//	go test -run '^$' -bench Checkout -benchtime 100x ./plugins/passwordsecure/psr/
func BenchmarkCheckout(b *testing.B) {
	f := newFixture(b, psemu.Options{})
	f.srv.SetLatency(5 * time.Millisecond)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(f.srv.CACertPEM())
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 4}
	b.Cleanup(transport.CloseIdleConnections)
	shared := func(o *Options) { o.Transport = transport }

	acct := Account{"CORP", "administrator"}
	reason := reasonFor("bench")
	ctx := context.Background()
	reuse := f.client(b, shared)
	if _, err := reuse.Checkout(ctx, acct, reason); err != nil { // warm up: login, filter, cache
		b.Fatal(err)
	}

	var reuseTime, freshTime time.Duration
	var reuseTrips, freshTrips int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before, start := f.srv.TotalCalls(), time.Now()
		if _, err := reuse.Checkout(ctx, acct, reason); err != nil {
			b.Fatal(err)
		}
		reuseTime += time.Since(start)
		reuseTrips += f.srv.TotalCalls() - before

		before, start = f.srv.TotalCalls(), time.Now()
		fresh := f.client(b, shared)
		if _, err := fresh.Checkout(ctx, acct, reason); err != nil {
			b.Fatal(err)
		}
		if err := fresh.Close(ctx); err != nil {
			b.Fatal(err)
		}
		freshTime += time.Since(start)
		freshTrips += f.srv.TotalCalls() - before
	}
	b.StopTimer()

	warm := float64(reuseTrips) / float64(b.N)
	reuseRate := float64(b.N) / reuseTime.Seconds()
	freshRate := float64(b.N) / freshTime.Seconds()
	b.ReportMetric(warm, "warm-roundtrips/op")
	b.ReportMetric(float64(freshTrips)/float64(b.N), "fresh-roundtrips/op")
	b.ReportMetric(reuseRate, "reuse-checkouts/s")
	b.ReportMetric(freshRate, "fresh-checkouts/s")
	b.ReportMetric(reuseRate/freshRate, "speedup")
	if warm > 2 {
		b.Errorf("a warm checkout costs %.1f round trips, the target is at most 2", warm)
	}
	if reuseRate < 3*freshRate {
		b.Logf("speedup %.1fx is below the 3x target", reuseRate/freshRate)
	}
}
