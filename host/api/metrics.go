package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/sessions"
	"github.com/byov/byov/host/store"
)

// checkoutBuckets are the upper bounds, in seconds, of the checkout latency
// histogram: from a local vault's few milliseconds to a slow vault near the
// default checkout timeout of 30s.
var checkoutBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Metrics collects the counters /metrics shows. The Prometheus text format
// is written by hand: five metric families do not justify client_golang and
// its dependencies in the host. Metrics is safe for concurrent use.
type Metrics struct {
	mu        sync.Mutex
	checkouts map[[2]string]uint64 // {connector, result}
	durations map[string]*histogram
	requests  map[[2]string]uint64 // {route, code}
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

// NewMetrics returns an empty collector.
func NewMetrics() *Metrics {
	return &Metrics{checkouts: map[[2]string]uint64{}, durations: map[string]*histogram{}, requests: map[[2]string]uint64{}}
}

// ObserveCheckout counts one checkout from connector, with result "ok" or
// the connector's error code, that took d.
func (m *Metrics) ObserveCheckout(connector, result string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checkouts[[2]string{connector, result}]++
	h := m.durations[connector]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(checkoutBuckets))}
		m.durations[connector] = h
	}
	sec := d.Seconds()
	if i := sort.SearchFloat64s(checkoutBuckets, sec); i < len(checkoutBuckets) {
		h.counts[i]++
	}
	h.sum += sec
	h.count++
}

func (m *Metrics) observeRequest(route string, code int) {
	m.mu.Lock()
	m.requests[[2]string{route, strconv.Itoa(code)}]++
	m.mu.Unlock()
}

// Gauges are read when /metrics is scraped rather than kept up to date,
// so that they are right after a restart and a reload too.
type gauges struct {
	activeSessions int
	activeKnown    bool
	plugins        []plugins.Status
}

// writeText writes the metrics in the Prometheus text exposition format.
func (m *Metrics) writeText(w io.Writer, g gauges) error {
	bw := bufio.NewWriter(w)
	m.mu.Lock()
	header(bw, "byov_checkouts_total", "counter", "Checkouts from vault connectors when sessions start, by connector and result (ok or the connector's error code).")
	for _, k := range sortedKeys(m.checkouts) {
		fmt.Fprintf(bw, "byov_checkouts_total{connector=%s,result=%s} %d\n", label(k[0]), label(k[1]), m.checkouts[k])
	}
	header(bw, "byov_checkout_duration_seconds", "histogram", "Time from a session request to the checkout's outcome, by connector.")
	conns := make([]string, 0, len(m.durations))
	for c := range m.durations {
		conns = append(conns, c)
	}
	sort.Strings(conns)
	for _, c := range conns {
		h := m.durations[c]
		var cum uint64
		for i, le := range checkoutBuckets {
			cum += h.counts[i]
			fmt.Fprintf(bw, "byov_checkout_duration_seconds_bucket{connector=%s,le=\"%s\"} %d\n", label(c), strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(bw, "byov_checkout_duration_seconds_bucket{connector=%s,le=\"+Inf\"} %d\n", label(c), h.count)
		fmt.Fprintf(bw, "byov_checkout_duration_seconds_sum{connector=%s} %s\n", label(c), strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(bw, "byov_checkout_duration_seconds_count{connector=%s} %d\n", label(c), h.count)
	}
	header(bw, "byov_http_requests_total", "counter", "API requests by route pattern and HTTP status.")
	for _, k := range sortedKeys(m.requests) {
		fmt.Fprintf(bw, "byov_http_requests_total{route=%s,code=%s} %d\n", label(k[0]), label(k[1]), m.requests[k])
	}
	m.mu.Unlock()

	if g.activeKnown {
		header(bw, "byov_sessions_active", "gauge", "Sessions that have not ended (pending, provisioning, available or ending).")
		fmt.Fprintf(bw, "byov_sessions_active %d\n", g.activeSessions)
	}
	header(bw, "byov_plugin_restarts_total", "counter", "Restarts of a connector plugin's process after it died, by plugin type.")
	for _, st := range g.plugins {
		fmt.Fprintf(bw, "byov_plugin_restarts_total{type=%s} %d\n", label(st.Type), st.Restarts)
	}
	header(bw, "byov_plugin_up", "gauge", "1 when the plugin type's process is running, else 0.")
	for _, st := range g.plugins {
		up := 0
		if st.State == plugins.StateRunning {
			up = 1
		}
		fmt.Fprintf(bw, "byov_plugin_up{type=%s} %d\n", label(st.Type), up)
	}
	return bw.Flush()
}

func header(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// label quotes a label value as the text format wants it.
func label(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}

func sortedKeys(m map[[2]string]uint64) [][2]string {
	keys := make([][2]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	return keys
}

func (s *Server) gauges(ctx context.Context) gauges {
	var g gauges
	if s.opts.Plugins != nil {
		g.plugins = s.opts.Plugins.List()
	}
	states := make([]string, len(sessions.OpenStates))
	for i, st := range sessions.OpenStates {
		states[i] = string(st)
	}
	n, err := s.opts.Store.CountSessions(ctx, store.SessionFilter{States: states})
	if err != nil {
		// A scrape without the gauge beats a failed scrape.
		s.log.Warn("cannot count the active sessions for /metrics", "error", err)
	} else {
		g.activeSessions, g.activeKnown = n, true
	}
	return g
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ caller) error {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	return s.metrics.writeText(w, s.gauges(r.Context()))
}

func (s *Server) health(w http.ResponseWriter, r *http.Request, _ caller) error {
	var h Health
	if s.opts.Health != nil {
		h = s.opts.Health(r.Context())
	}
	if h.Version == "" {
		h.Version = buildVersion()
	}
	if h.Plugins == nil && s.opts.Plugins != nil {
		for _, st := range s.opts.Plugins.List() {
			h.Plugins = append(h.Plugins, PluginHealth{Type: st.Type, State: string(st.State), Version: st.Version})
			if st.State == plugins.StateFailed {
				// Health answers without a token: the reason (paths, hosts)
				// is for `byov plugin list` and the log, not for anyone.
				h.Problems = append(h.Problems, fmt.Sprintf("connector plugin %s is down", st.Type))
			}
		}
	}
	if h.Plugins == nil {
		h.Plugins = []PluginHealth{}
	}
	status := http.StatusOK
	if _, err := s.opts.Store.Schema(r.Context()); err != nil {
		s.log.Error("health check: the state file cannot be read", "error", err)
		h.Problems = append(h.Problems, "the state file cannot be read; the server log has the details")
		// Nothing works without the state file: tell load balancers.
		status = http.StatusServiceUnavailable
	}
	if len(h.Problems) > 0 || h.Status == StatusDegraded {
		h.Status = StatusDegraded
	} else {
		h.Status = StatusOK
	}
	writeJSON(w, status, h)
	return nil
}

// buildVersion is the main module's version from the build, for when the
// server does not say.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
