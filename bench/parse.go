package main

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// result is one "Benchmark..." line of go test's output.
type result struct {
	Pkg        string             // import path from the preceding "pkg:" line
	Name       string             // e.g. "BenchmarkCheckoutVsPing/callers=32", without the -GOMAXPROCS suffix
	Iterations int64              // b.N of the reported run
	Metrics    map[string]float64 // value by unit, e.g. "ns/op", "checkout/ping"
}

// benchID names a benchmark the way rows do: package import path and name
// without the -GOMAXPROCS suffix.
type benchID struct{ Pkg, Name string }

// parsed is what parse makes of one or more go test outputs.
type parsed struct {
	Results []result
	Failed  []benchID // benchmarks with a "--- FAIL:" line
	Header  map[string]string
}

// procsSuffix is the "-N" the testing package appends to a benchmark's name
// when GOMAXPROCS is not 1; rows name benchmarks without it so that the
// report does not depend on the machine's core count.
var procsSuffix = regexp.MustCompile(`-\d+$`)

func trimProcs(name string) string { return procsSuffix.ReplaceAllString(name, "") }

// parse reads go test -bench output in the format benchstat reads: header
// lines "key: value", then per benchmark the name, the iteration count and
// value/unit pairs. It never fails on content it does not understand: lines
// that are not benchmark results are skipped, so one odd line costs a row
// (reported as missing) rather than the report.
func parse(r io.Reader) (parsed, error) {
	p := parsed{Header: map[string]string{}}
	var pkg, pending string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024) // b.Log output can make long lines
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg, pending = strings.TrimSpace(rest), ""
			continue
		}
		if key, value, ok := strings.Cut(line, ": "); ok && isHeaderKey(key) {
			p.Header[key] = strings.TrimSpace(value)
			continue
		}
		// go test prints a failure after the benchmark's name, on its line.
		if _, rest, ok := strings.Cut(line, "--- FAIL: "); ok {
			if name := strings.Fields(rest); len(name) > 0 && strings.HasPrefix(name[0], "Benchmark") {
				p.Failed = append(p.Failed, benchID{pkg, trimProcs(name[0])})
			}
			pending = ""
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if fields[0] == "PASS" || fields[0] == "FAIL" || fields[0] == "ok" {
			pending = "" // the end of a package: nothing can complete a name now
			continue
		}
		name := ""
		if strings.HasPrefix(line, "Benchmark") {
			name, fields = fields[0], fields[1:]
		} else if pending != "" && isCount(fields[0]) {
			// The benchmark wrote to stdout between its name and its
			// numbers (the testing package prints the name first), so the
			// numbers arrive on a line of their own.
			name = pending
		} else {
			continue
		}
		pending = ""
		if len(fields) == 0 || !isCount(fields[0]) {
			pending = name
			continue
		}
		res := result{Pkg: pkg, Name: trimProcs(name), Metrics: map[string]float64{}}
		res.Iterations, _ = strconv.ParseInt(fields[0], 10, 64)
		for i := 1; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break // the rest is not value/unit pairs; keep what came before
			}
			res.Metrics[fields[i+1]] = v
		}
		p.Results = append(p.Results, res)
	}
	return p, sc.Err()
}

// isHeaderKey accepts the configuration keys go test prints before the
// results (goos, goarch, cpu), in benchstat's sense: lower case, no spaces.
func isHeaderKey(key string) bool {
	if key == "" || strings.HasPrefix(key, "Benchmark") {
		return false
	}
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isCount(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// lookup returns the metric unit of the last result named name in package
// pkg; later results win so that a rerun appended to the same output counts.
func (p parsed) lookup(pkg, name, unit string) (float64, bool) {
	for i := len(p.Results) - 1; i >= 0; i-- {
		r := p.Results[i]
		if r.Pkg == pkg && r.Name == name {
			v, ok := r.Metrics[unit]
			return v, ok
		}
	}
	return 0, false
}

// has reports whether pkg printed a result line for name.
func (p parsed) has(pkg, name string) bool {
	for _, r := range p.Results {
		if r.Pkg == pkg && r.Name == name {
			return true
		}
	}
	return false
}

// failed reports whether name, or the benchmark it is a sub-benchmark of,
// printed "--- FAIL" in pkg.
func (p parsed) failed(pkg, name string) bool {
	for _, f := range p.Failed {
		if f.Pkg == pkg && (f.Name == name || strings.HasPrefix(name, f.Name+"/")) {
			return true
		}
	}
	return false
}
