package sessions

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkStartCredential measures a session start followed by the
// credential view, both durable in the audit before they return, against an
// in-memory vault: the host's own cost per session. It reports sessions/s and
// the p50 and p99 latency of the pair, at 1 and 32 concurrent clients.
func BenchmarkStartCredential(b *testing.B) {
	for _, clients := range []int{1, 32} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			h := newHarness(b)
			ctx := context.Background()
			users := []Actor{alice, bob}
			lat := make([]time.Duration, b.N)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						u := users[i%2]
						t0 := time.Now()
						s, err := h.m.Start(ctx, StartRequest{Requester: u.Name, Activity: "domain-admin", Resource: "srv01"})
						if err == nil {
							_, err = h.m.Credential(ctx, s.ID, u)
						}
						if err != nil {
							b.Error(err)
							return
						}
						lat[i] = time.Since(t0)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "sessions/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
