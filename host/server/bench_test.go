package server

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/byov/byov/host/api"
)

// BenchmarkSessionThroughAPI measures session start → credential over the
// HTTP API with the builtin connector, every audit record durable before the
// answer, at 1 and 32 clients; and, in the same run and at the same
// concurrency, the bare plugin RPC (go-plugin's health check on the builtin
// plugin's connection). sessions/rpc is the ratio of their throughputs.
func BenchmarkSessionThroughAPI(b *testing.B) {
	dir := b.TempDir()
	writeConfig(b, dir, "1h", "")
	h := startHost(b, dir)
	ctx := context.Background()
	root, alice := h.clients(ctx)
	seed(b, ctx, root)
	vault := h.srv.Plugins().Instance("builtin", "vault")

	for _, clients := range []int{1, 32} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			n := b.N
			rpc := measure(clients, n, func() error { return vault.Ping(ctx) })
			lat := make([]time.Duration, 0, n)
			var mu sync.Mutex
			sess := measure(clients, n, func() error {
				start := time.Now()
				s, err := alice.StartSession(ctx, api.StartSessionRequest{Activity: "admin", Resource: "srv01"})
				if err != nil {
					return err
				}
				if _, err := alice.Credential(ctx, s.ID); err != nil {
					return err
				}
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				return nil
			})
			if rpc.err != nil || sess.err != nil {
				b.Fatal(rpc.err, sess.err)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			rpcRate := float64(n) / rpc.wall.Seconds()
			sessRate := float64(n) / sess.wall.Seconds()
			b.ReportMetric(sessRate, "sessions/s")
			b.ReportMetric(rpcRate, "rpc/s")
			b.ReportMetric(sessRate/rpcRate, "sessions/rpc")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

type measurement struct {
	wall time.Duration
	err  error
}

func measure(workers, n int, fn func() error) measurement {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		m    measurement
		jobs = make(chan struct{}, n)
	)
	for i := 0; i < n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if err := fn(); err != nil {
					mu.Lock()
					if m.err == nil {
						m.err = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	m.wall = time.Since(start)
	return m
}
