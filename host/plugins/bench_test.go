package plugins

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/byov/byov/sdk"
)

// runParallel calls fn n times spread over workers goroutines and returns
// the wall time.
func runParallel(workers, n int, fn func() error) (time.Duration, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan struct{}, n)
	)
	for i := 0; i < n; i++ {
		next <- struct{}{}
	}
	close(next)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if err := fn(); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// BenchmarkCheckoutVsPing compares a checkout through the whole host path
// (supervisor, SDK conversion, connector) with go-plugin's bare gRPC health
// check on the same connection, in the same run. The checkout/ping metric is
// the ratio of their times per call.
func BenchmarkCheckoutVsPing(b *testing.B) {
	h := newHarness(b, []string{"v1.0.0"}, func(o *Options) { o.HealthInterval = time.Hour })
	inst := h.instance(b, "test", "corp")
	ctx := context.Background()
	req := sdk.CheckoutRequest{Account: sdk.Account{Domain: "CORP", Username: "alice"}}
	for _, workers := range []int{1, 32} {
		b.Run(fmt.Sprintf("callers=%d", workers), func(b *testing.B) {
			// The floor is the bare RPC on the process's connection,
			// outside everything the host adds.
			raw := inst.Plugin().current().rpc
			ping := func() error { return raw.Ping(ctx) }
			co := func() error { _, err := inst.Checkout(ctx, req); return err }
			// Warm both paths so neither pays for connection set-up.
			if _, err := runParallel(workers, 200, ping); err != nil {
				b.Fatal(err)
			}
			if _, err := runParallel(workers, 200, co); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			pingTime, err := runParallel(workers, b.N, ping)
			if err != nil {
				b.Fatal(err)
			}
			coTime, err := runParallel(workers, b.N, co)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(pingTime.Nanoseconds())/float64(b.N), "ping-ns/op")
			b.ReportMetric(float64(coTime.Nanoseconds())/float64(b.N), "checkout-ns/op")
			b.ReportMetric(float64(coTime)/float64(pingTime), "checkout/ping")
		})
	}
}

// BenchmarkStartToFirstCall compares byov's start of a connector (hash,
// verify, exec copy, AutoMTLS handshake, metadata, ping, configure, first
// checkout) with a bare go-plugin start of the same binary (handshake with
// and without AutoMTLS, dispense, one health check). Every variant includes
// stopping the process again.
func BenchmarkStartToFirstCall(b *testing.B) {
	dir := b.TempDir()
	path := install(b, dir, "v1.0.0")
	ctx := context.Background()
	req := sdk.CheckoutRequest{Account: sdk.Account{Domain: "CORP", Username: "alice"}}

	bare := func(autoMTLS bool) error {
		client := plugin.NewClient(&plugin.ClientConfig{
			HandshakeConfig:  sdk.Handshake,
			VersionedPlugins: map[int]plugin.PluginSet{sdk.ProtocolVersion: {sdk.PluginName: &sdk.GRPCPlugin{}}},
			Cmd:              exec.Command(path),
			AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
			AutoMTLS:         autoMTLS,
			Logger:           hclog.NewNullLogger(),
		})
		defer client.Kill()
		proto, err := client.Client()
		if err != nil {
			return err
		}
		raw, err := proto.Dispense(sdk.PluginName)
		if err != nil {
			return err
		}
		return raw.(*sdk.Client).Ping(ctx)
	}
	// cold: a new host's first start of the binary (read, hash, exec copy).
	cold := func() error {
		mgr, err := NewManager(Options{Dir: dir, ExecDir: b.TempDir(), Logger: hclog.NewNullLogger()})
		if err != nil {
			return err
		}
		defer mgr.Close()
		inst, err := mgr.Configure(ctx, "test", "corp", nil, sdk.ServiceAccount{})
		if err != nil {
			return err
		}
		_, err = inst.Checkout(ctx, req)
		return err
	}
	// warm: a restart or swap of a binary this host has verified before,
	// with an instance to configure, then the first checkout.
	mgr, err := NewManager(Options{Dir: dir, ExecDir: filepath.Join(dir, "exec"), Logger: hclog.NewNullLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer mgr.Close()
	inst, err := mgr.Configure(ctx, "test", "corp", nil, sdk.ServiceAccount{})
	if err != nil {
		b.Fatal(err)
	}
	warm := func() error {
		if _, err := mgr.Reload(ctx, "test", ""); err != nil {
			return err
		}
		_, err := inst.Checkout(ctx, req)
		return err
	}
	measure := func(fn func() error) time.Duration {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if err := fn(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start) / time.Duration(b.N)
	}
	b.ResetTimer()
	bareTime := measure(func() error { return bare(false) })
	bareTLSTime := measure(func() error { return bare(true) })
	coldTime := measure(cold)
	warmTime := measure(warm)
	b.ReportMetric(float64(bareTime.Microseconds()), "bare-us/start")
	b.ReportMetric(float64(bareTLSTime.Microseconds()), "bare-mtls-us/start")
	b.ReportMetric(float64(coldTime.Microseconds()), "cold-us/start")
	b.ReportMetric(float64(warmTime.Microseconds()), "warm-us/start")
	b.ReportMetric(float64(coldTime)/float64(bareTLSTime), "cold/bare-mtls")
	b.ReportMetric(float64(warmTime)/float64(bareTLSTime), "warm/bare-mtls")
}

// BenchmarkRSSPerInstances reports the plugin process's resident memory with
// 1 and with 100 configured instances, each having served a checkout.
func BenchmarkRSSPerInstances(b *testing.B) {
	for i := 0; i < b.N; i++ {
		h := newHarness(b, []string{"v1.0.0"}, func(o *Options) { o.HealthInterval = time.Hour })
		ctx := context.Background()
		use := func(id string) {
			inst := h.instance(b, "test", id)
			if _, err := checkout(ctx, inst, "CORP", "alice"); err != nil {
				b.Fatal(err)
			}
		}
		// Serve the same traffic in both measurements, so the comparison is
		// about instances, not about how warm the process's heap is.
		first := h.instance(b, "test", "i0")
		for n := 0; n < 100; n++ {
			if _, err := checkout(ctx, first, "CORP", "alice"); err != nil {
				b.Fatal(err)
			}
		}
		pid := h.mgr.List()[0].PID
		one := rssKB(b, pid)
		for n := 1; n < 100; n++ {
			use(fmt.Sprintf("i%d", n))
		}
		hundred := rssKB(b, pid)
		b.ReportMetric(float64(one), "rss-1-kB")
		b.ReportMetric(float64(hundred), "rss-100-kB")
		b.ReportMetric(float64(hundred)/float64(one), "rss-100/1")
		h.mgr.Close()
	}
}

func rssKB(b *testing.B, pid int) int {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc on this system: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatal(err)
			}
			return kb
		}
	}
	b.Fatal("no VmRSS line")
	return 0
}
