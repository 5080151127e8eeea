package main

// run is one go test invocation: one package, one -bench pattern. Runs are
// separate so that each benchmark gets an iteration count that fits its cost
// (a plugin start costs ~0.2 s, an RPC ~0.1 ms).
type run struct {
	ID      string // what rows refer to
	Pkg     string // relative to the module root, without "./"
	Pattern string
	N       int // -benchtime Nx
	QuickN  int // -benchtime Nx with -quick
}

// runs are in the order they execute, one at a time: the machines have 2
// cores and concurrent runs would measure each other.
var runs = []run{
	{"rpc", "host/plugins", "^BenchmarkCheckoutVsPing$", 10000, 300},
	{"start", "host/plugins", "^BenchmarkStartToFirstCall$", 20, 3},
	{"rss", "host/plugins", "^BenchmarkRSSPerInstances$", 10, 2},
	{"builtin", "plugins/builtin", "^BenchmarkPlugin$", 5000, 300},
	{"vaultstore", "plugins/builtin/vaultstore", "^BenchmarkGet$", 20000, 2000},
	{"ps", "plugins/passwordsecure", "^BenchmarkPlugin$", 3000, 200},
	{"psr", "plugins/passwordsecure/psr", "^BenchmarkCheckout$", 200, 20},
	{"api", "host/server", "^BenchmarkSessionThroughAPI$", 1000, 100},
	{"sessions", "host/sessions", "^BenchmarkStartCredential$", 1000, 100},
	{"audit", "host/audit", "^BenchmarkAppend$", 1000, 100},
}

// metric names one value in one run's output.
type metric struct {
	Run   string // run ID
	Bench string // benchmark name without the -GOMAXPROCS suffix
	Unit  string
}

// target is a claim a row is held to. OnValue is for claims about the
// value itself (round trips per checkout) rather than about the ratio.
type target struct {
	Op      string // "<=" or ">="
	Limit   float64
	OnValue bool
}

func (t target) meets(v float64) bool {
	if t.Op == "<=" {
		return v <= t.Limit
	}
	return v >= t.Limit
}

// row is one line of the report: a value, the floor it is measured against
// in the same run, and the target where the issues give one.
type row struct {
	Group     string
	What      string
	Value     metric
	FloorWhat string
	Floor     *metric
	Target    *target
}

func ratioAtMost(limit float64) *target  { return &target{Op: "<=", Limit: limit} }
func ratioAtLeast(limit float64) *target { return &target{Op: ">=", Limit: limit} }

// rows are the report. The floors are what each claim is a ratio to, so the
// report holds on a shared machine whose absolute speed drifts.
var rows = []row{
	{"host→plugin RPC", "bare go-plugin RPC floor (health Check), 1 caller",
		metric{"rpc", "BenchmarkCheckoutVsPing/callers=1", "ping-ns/op"}, "", nil, nil},
	{"host→plugin RPC", "bare go-plugin RPC floor, 32 callers (wall/call)",
		metric{"rpc", "BenchmarkCheckoutVsPing/callers=32", "ping-ns/op"},
		"same floor, 1 caller", &metric{"rpc", "BenchmarkCheckoutVsPing/callers=1", "ping-ns/op"}, nil},
	{"host→plugin RPC", "checkout via host path (test connector), 1 caller",
		metric{"rpc", "BenchmarkCheckoutVsPing/callers=1", "checkout-ns/op"},
		"bare RPC, 1 caller", &metric{"rpc", "BenchmarkCheckoutVsPing/callers=1", "ping-ns/op"}, ratioAtMost(1.2)},
	{"host→plugin RPC", "checkout via host path (test connector), 32 callers",
		metric{"rpc", "BenchmarkCheckoutVsPing/callers=32", "checkout-ns/op"},
		"bare RPC, 32 callers", &metric{"rpc", "BenchmarkCheckoutVsPing/callers=32", "ping-ns/op"}, ratioAtMost(1.2)},

	{"plugin start", "cold start to first checkout (hash, verify, exec copy)",
		metric{"start", "BenchmarkStartToFirstCall", "cold-us/start"},
		"bare go-plugin start, AutoMTLS", &metric{"start", "BenchmarkStartToFirstCall", "bare-mtls-us/start"}, ratioAtMost(1.5)},
	{"plugin start", "hot swap to first call (reload of a verified binary)",
		metric{"start", "BenchmarkStartToFirstCall", "warm-us/start"},
		"bare go-plugin start, AutoMTLS", &metric{"start", "BenchmarkStartToFirstCall", "bare-mtls-us/start"}, ratioAtMost(1.5)},
	{"plugin start", "bare go-plugin start with AutoMTLS",
		metric{"start", "BenchmarkStartToFirstCall", "bare-mtls-us/start"},
		"bare go-plugin start, no TLS", &metric{"start", "BenchmarkStartToFirstCall", "bare-us/start"}, nil},
	{"plugin start", "plugin RSS with 100 configured instances",
		metric{"rss", "BenchmarkRSSPerInstances", "rss-100-kB"},
		"same process, 1 instance", &metric{"rss", "BenchmarkRSSPerInstances", "rss-1-kB"}, ratioAtMost(1.1)},

	{"builtin", "checkout through the plugin process",
		metric{"builtin", "BenchmarkPlugin/checkout", "ns/op"},
		"bare RPC to that process", &metric{"builtin", "BenchmarkPlugin/ping", "ns/op"}, nil},
	{"builtin", "vault store Get in process (lookup + decrypt)",
		metric{"vaultstore", "BenchmarkGet", "ns/op"},
		"builtin checkout over RPC", &metric{"builtin", "BenchmarkPlugin/checkout", "ns/op"}, nil},

	{"passwordsecure", "checkout through the plugin process (psemu, no latency)",
		metric{"ps", "BenchmarkPlugin/checkout", "ns/op"},
		"bare RPC to that process", &metric{"ps", "BenchmarkPlugin/ping", "ns/op"}, nil},
	{"passwordsecure", "server round trips per checkout via the plugin process",
		metric{"ps", "BenchmarkPlugin/checkout", "roundtrips/op"}, "", nil,
		&target{Op: "<=", Limit: 2, OnValue: true}},
	{"passwordsecure", "warm checkout round trips, 5 ms latency",
		metric{"psr", "BenchmarkCheckout", "warm-roundtrips/op"},
		"login per checkout", &metric{"psr", "BenchmarkCheckout", "fresh-roundtrips/op"},
		&target{Op: "<=", Limit: 2, OnValue: true}},
	{"passwordsecure", "warm checkouts/s at 5 ms latency",
		metric{"psr", "BenchmarkCheckout", "reuse-checkouts/s"},
		"login per checkout", &metric{"psr", "BenchmarkCheckout", "fresh-checkouts/s"}, ratioAtLeast(3)},

	{"API session", "start + credential over HTTP, durable audit, 1 client",
		metric{"api", "BenchmarkSessionThroughAPI/clients=1", "sessions/s"},
		"bare builtin RPC, 1 caller", &metric{"api", "BenchmarkSessionThroughAPI/clients=1", "rpc/s"}, ratioAtLeast(0.4)},
	{"API session", "start + credential over HTTP, durable audit, 32 clients",
		metric{"api", "BenchmarkSessionThroughAPI/clients=32", "sessions/s"},
		"bare builtin RPC, 32 callers", &metric{"api", "BenchmarkSessionThroughAPI/clients=32", "rpc/s"}, ratioAtLeast(0.4)},
	{"API session", "p99 latency, 1 client",
		metric{"api", "BenchmarkSessionThroughAPI/clients=1", "p99-ms"},
		"p50", &metric{"api", "BenchmarkSessionThroughAPI/clients=1", "p50-ms"}, nil},
	{"API session", "p99 latency, 32 clients",
		metric{"api", "BenchmarkSessionThroughAPI/clients=32", "p99-ms"},
		"p50", &metric{"api", "BenchmarkSessionThroughAPI/clients=32", "p50-ms"}, nil},

	{"host internals", "start + credential in process (memory vault), 1 client",
		metric{"sessions", "BenchmarkStartCredential/clients=1", "sessions/s"},
		"durable audit appends, 1 writer", &metric{"audit", "BenchmarkAppend/writers=1", "records/s"}, nil},
	{"host internals", "start + credential in process (memory vault), 32 clients",
		metric{"sessions", "BenchmarkStartCredential/clients=32", "sessions/s"},
		"durable audit appends, 32 writers", &metric{"audit", "BenchmarkAppend/writers=32", "records/s"}, nil},
	{"host internals", "durable audit appends, 32 writers (group commit)",
		metric{"audit", "BenchmarkAppend/writers=32", "records/s"},
		"1 writer", &metric{"audit", "BenchmarkAppend/writers=1", "records/s"}, nil},
}
