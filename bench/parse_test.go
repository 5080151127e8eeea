package main

import (
	"strings"
	"testing"
)

// sample is captured from `go run ./bench -quick` (three of its runs), with
// what the parser must survive added: a failed benchmark with its log, a
// benchmark whose numbers were pushed to the next line by output on stdout,
// and a result line cut short.
const sample = `goos: linux
goarch: amd64
pkg: github.com/byov/byov/host/plugins
cpu: AMD EPYC
BenchmarkCheckoutVsPing/callers=1-2         	     300	    319746 ns/op	    171862 checkout-ns/op	         1.163 checkout/ping	    147833 ping-ns/op
BenchmarkCheckoutVsPing/callers=32-2        	     300	     87203 ns/op	     45958 checkout-ns/op	         1.116 checkout/ping	     41196 ping-ns/op
PASS
ok  	github.com/byov/byov/host/plugins	6.596s
goos: linux
goarch: amd64
pkg: github.com/byov/byov/plugins/builtin/vaultstore
cpu: AMD EPYC
BenchmarkGet-2   	    2000	      8162 ns/op	    1424 B/op	      48 allocs/op
PASS
ok  	github.com/byov/byov/plugins/builtin/vaultstore	1.331s
goos: linux
goarch: amd64
pkg: github.com/byov/byov/plugins/passwordsecure/psr
cpu: AMD EPYC
BenchmarkCheckout-2   	--- FAIL: BenchmarkCheckout-2
    bench_test.go:75: a warm checkout costs 3.0 round trips, the target is at most 2
FAIL
exit status 1
FAIL	github.com/byov/byov/plugins/passwordsecure/psr	1.413s
pkg: github.com/byov/byov/plugins/passwordsecure
BenchmarkPlugin/ping-2         	2024/05/01 10:00:00 [DEBUG] plugin: starting
     200	     97018 ns/op
BenchmarkPlugin/checkout-2     	     200	    406275 ns/op	         1.000 roundtrips/op	    n/a bogus
BenchmarkPlugin/cut-2     	     200	    406275
PASS
`

func TestParse(t *testing.T) {
	p, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	const plugins = "github.com/byov/byov/host/plugins"
	for _, tt := range []struct {
		pkg, name, unit string
		want            float64
	}{
		{plugins, "BenchmarkCheckoutVsPing/callers=1", "ping-ns/op", 147833},
		{plugins, "BenchmarkCheckoutVsPing/callers=1", "checkout/ping", 1.163},
		{plugins, "BenchmarkCheckoutVsPing/callers=32", "checkout-ns/op", 45958},
		{"github.com/byov/byov/plugins/builtin/vaultstore", "BenchmarkGet", "ns/op", 8162},
		{"github.com/byov/byov/plugins/builtin/vaultstore", "BenchmarkGet", "allocs/op", 48},
		{"github.com/byov/byov/plugins/passwordsecure", "BenchmarkPlugin/ping", "ns/op", 97018},
		{"github.com/byov/byov/plugins/passwordsecure", "BenchmarkPlugin/checkout", "roundtrips/op", 1},
	} {
		if got, ok := p.lookup(tt.pkg, tt.name, tt.unit); !ok || got != tt.want {
			t.Errorf("%s %s %s = %v, %v; want %v", tt.pkg, tt.name, tt.unit, got, ok, tt.want)
		}
	}
	if p.Results[0].Iterations != 300 {
		t.Errorf("iterations = %d, want 300", p.Results[0].Iterations)
	}

	// A metric a benchmark did not report, or a benchmark in another
	// package, is not found rather than taken from elsewhere.
	if _, ok := p.lookup(plugins, "BenchmarkCheckoutVsPing/callers=1", "rss-1-kB"); ok {
		t.Error("found a metric the benchmark did not report")
	}
	if _, ok := p.lookup(plugins, "BenchmarkGet", "ns/op"); ok {
		t.Error("found BenchmarkGet in the wrong package")
	}
	if _, ok := p.lookup("github.com/byov/byov/plugins/passwordsecure", "BenchmarkPlugin/checkout", "bogus"); ok {
		t.Error("took a non-numeric value as a metric")
	}

	// A value without its unit is not a metric, but the line still counts as
	// the benchmark's result, so the row can say what is wrong.
	if _, ok := p.lookup("github.com/byov/byov/plugins/passwordsecure", "BenchmarkPlugin/cut", "ns/op"); ok || !p.has("github.com/byov/byov/plugins/passwordsecure", "BenchmarkPlugin/cut") {
		t.Error("a value without a unit: want the result without the metric")
	}

	psr := "github.com/byov/byov/plugins/passwordsecure/psr"
	if !p.failed(psr, "BenchmarkCheckout") || p.has(psr, "BenchmarkCheckout") {
		t.Errorf("the failed BenchmarkCheckout: failed=%v has=%v, want true, false", p.failed(psr, "BenchmarkCheckout"), p.has(psr, "BenchmarkCheckout"))
	}
	if p.failed(plugins, "BenchmarkCheckout") {
		t.Error("a failure in psr marked a benchmark of another package as failed")
	}
	if p.Header["cpu"] != "AMD EPYC" || p.Header["goos"] != "linux" {
		t.Errorf("header = %v", p.Header)
	}
}

// TestEvaluateMissing checks that a metric that is not in the output becomes
// a "missing" row with a reason, and that a present one is judged against
// its target.
func TestEvaluateMissing(t *testing.T) {
	p, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	sel := []row{
		{"host→plugin RPC", "checkout, 1 caller",
			metric{"rpc", "BenchmarkCheckoutVsPing/callers=1", "checkout-ns/op"},
			"bare RPC", &metric{"rpc", "BenchmarkCheckoutVsPing/callers=1", "ping-ns/op"}, ratioAtMost(1.1)},
		{"passwordsecure", "warm round trips",
			metric{"psr", "BenchmarkCheckout", "warm-roundtrips/op"}, "", nil,
			&target{Op: "<=", Limit: 2, OnValue: true}},
		{"start", "cold start",
			metric{"start", "BenchmarkStartToFirstCall", "cold-us/start"}, "", nil, nil},
	}
	got := evaluate(sel, p, "github.com/byov/byov", nil)
	if r := got[0]; r.Status != "ok" || r.Ratio == nil || r.Meets != "no" {
		t.Errorf("checkout row = %+v; want ok, a ratio of 1.163 and a miss of ≤ 1.1", r)
	}
	if r := got[1]; r.Status != "missing" || r.Meets != "—" || !strings.Contains(r.Problem, "failed") {
		t.Errorf("psr row = %+v; want missing because the benchmark failed", r)
	}
	if r := got[2]; r.Status != "missing" || !strings.Contains(r.Problem, "no BenchmarkStartToFirstCall line") {
		t.Errorf("start row = %+v; want missing for lack of output", r)
	}
}

func TestFormatValue(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		unit string
		want string
	}{
		{147833, "ping-ns/op", "147.8 µs/op"},
		{97812, "cold-us/start", "97.81 ms/start"},
		{17824, "rss-1-kB", "17824 kB"},
		{2.534, "p50-ms", "2.534 ms"},
		{364.5, "sessions/s", "364.5 sessions/s"},
	} {
		if got := formatValue(tt.v, tt.unit); got != tt.want {
			t.Errorf("formatValue(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}
