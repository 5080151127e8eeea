// Command bench is `make bench`: it runs the Go benchmarks of byov's
// components one package at a time, keeps their output verbatim in
// bench/out/raw.txt (benchstat reads it), and prints one table in which every
// row is a ratio to a floor measured in the same run, next to the target the
// issues set, so that a claim holds on a shared machine whose absolute speed
// drifts. bench/out/report.json holds the same rows for tools.
//
//	go run ./bench                  # the full report, a few minutes
//	go run ./bench -quick           # fewer iterations, a smoke run
//	go run ./bench -only passwordsecure
//
// A benchmark or metric that does not show up becomes a row marked
// "missing" and the command exits 1; a value that misses its target is shown
// as such ("meets target: no") but is a finding, not a failure of the
// command.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

const outDir = "bench/out"

func main() {
	quick := flag.Bool("quick", false, "run fewer iterations (a smoke run, not a measurement)")
	only := flag.String("only", "", "report only rows whose component, description or benchmark contains this (case-insensitive)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./bench [-quick] [-only substring]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(mainErr(*quick, *only))
}

func mainErr(quick bool, only string) int {
	started := time.Now()
	module, err := moduleRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	selected := selectRows(only)
	if len(selected) == 0 {
		fmt.Fprintf(os.Stderr, "bench: no row matches -only %q.\n", only)
		return 2
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	raw, err := os.Create(filepath.Join(outDir, "raw.txt"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	defer raw.Close()

	var (
		out     bytes.Buffer
		records []runRecord
	)
	for _, r := range neededRuns(selected) {
		rec := execRun(r, quick, io.MultiWriter(&out, raw))
		records = append(records, rec)
	}
	p, err := parse(&out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: reading the benchmark output: %v\n", err)
		return 2
	}
	results := evaluate(selected, p, module, records)
	total := time.Since(started).Round(100 * time.Millisecond)
	command := commandLine()

	printTable(os.Stdout, results, p.Header, total, command)
	rep := report{
		Started: started.UTC().Format(time.RFC3339), Seconds: total.Seconds(), Command: command,
		Quick: quick, Only: only, Go: runtime.Version(), Header: p.Header, Runs: records, Rows: results,
	}
	if err := writeJSON(filepath.Join(outDir, "report.json"), rep); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	missing, failedRuns := 0, 0
	for _, r := range results {
		if r.Status != "ok" {
			missing++
		}
	}
	for _, r := range records {
		if r.Error != "" {
			failedRuns++
		}
	}
	if missing > 0 || failedRuns > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d row(s) missing and %d go test run(s) failed; the output of every run is in %s.\n",
			missing, failedRuns, filepath.Join(outDir, "raw.txt"))
		return 1
	}
	return 0
}

// moduleRoot checks that the command runs at the root of the byov module
// (the package paths of the runs are relative to it) and returns the module
// path, which go test prints on its "pkg:" lines.
func moduleRoot() (string, error) {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		return "", fmt.Errorf("run this from the root of the byov module (as `make bench` does): %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", errors.New("go.mod has no module line")
}

func selectRows(only string) []row {
	if only == "" {
		return rows
	}
	needle := strings.ToLower(only)
	var sel []row
	for _, r := range rows {
		hay := []string{r.Group, r.What, r.FloorWhat, r.Value.Bench}
		if r.Floor != nil {
			hay = append(hay, r.Floor.Bench)
		}
		if strings.Contains(strings.ToLower(strings.Join(hay, "\x00")), needle) {
			sel = append(sel, r)
		}
	}
	return sel
}

// neededRuns keeps the order of runs, so a filtered report measures the same
// way as the full one.
func neededRuns(sel []row) []run {
	need := map[string]bool{}
	for _, r := range sel {
		need[r.Value.Run] = true
		if r.Floor != nil {
			need[r.Floor.Run] = true
		}
	}
	var out []run
	for _, r := range runs {
		if need[r.ID] {
			out = append(out, r)
		}
	}
	return out
}

func runByID(id string) (run, bool) {
	for _, r := range runs {
		if r.ID == id {
			return r, true
		}
	}
	return run{}, false
}

// runRecord is what report.json says about one go test invocation.
type runRecord struct {
	ID      string  `json:"id"`
	Command string  `json:"command"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// execRun runs one go test invocation, copies its standard output verbatim
// to out (the benchstat-compatible record), and reports progress and errors
// on standard error, so that the table on standard output stays clean.
func execRun(r run, quick bool, out io.Writer) runRecord {
	n := r.N
	if quick {
		n = r.QuickN
	}
	args := []string{"test", "-run", "^$", "-bench", r.Pattern, "-benchtime", fmt.Sprintf("%dx", n), "./" + r.Pkg}
	rec := runRecord{ID: r.ID, Command: "go " + shellJoin(args)}
	fmt.Fprintf(os.Stderr, "bench: %s\n", rec.Command)
	var stderr bytes.Buffer
	cmd := exec.Command(goCommand(), args...)
	cmd.Stdout, cmd.Stderr = out, &stderr
	start := time.Now()
	err := cmd.Run()
	rec.Seconds = time.Since(start).Seconds()
	if err != nil {
		rec.Error = fmt.Sprintf("go test failed (%v)", err)
		if cause := firstCause(stderr.String()); cause != "" {
			rec.Error += ": " + cause
		}
		fmt.Fprintf(os.Stderr, "bench: %s (%.1fs)\n%s", rec.Error, rec.Seconds, stderr.String())
	} else {
		fmt.Fprintf(os.Stderr, "bench:   done in %.1fs\n", rec.Seconds)
	}
	return rec
}

// firstCause picks the line of go test's standard error that says what went
// wrong: the compiler's "# package" line only says where.
func firstCause(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}

// goCommand honours $GO the way the Makefile does, so `make GO=go1.26.8
// bench` measures with the toolchain it names.
func goCommand() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "^$*?[]{}()|&;<> '\"\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// commandLine is how to reproduce this report: `go run` hides the source
// path behind a temporary binary, so it is spelled out.
func commandLine() string {
	return strings.TrimSpace("go run ./bench " + shellJoin(os.Args[1:]))
}

// report is bench/out/report.json.
type report struct {
	Started string            `json:"started"`
	Seconds float64           `json:"seconds"`
	Command string            `json:"command"`
	Quick   bool              `json:"quick"`
	Only    string            `json:"only,omitempty"`
	Go      string            `json:"go"`
	Header  map[string]string `json:"header"`
	Runs    []runRecord       `json:"runs"`
	Rows    []rowResult       `json:"rows"`
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// printTable writes the report for people; the same rows are in
// report.json.
func printTable(w io.Writer, results []rowResult, header map[string]string, total time.Duration, command string) {
	fmt.Fprintf(w, "byov benchmarks, %s, %s/%s, cpu: %s, %d CPUs\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, orDash(header["cpu"]), runtime.NumCPU())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tWHAT\tVALUE\tFLOOR (same run)\tRATIO\tTARGET\tMEETS TARGET")
	misses := 0
	for _, r := range results {
		value, floor, ratio := "missing", "—", "—"
		if r.Value != nil {
			value = formatValue(*r.Value, r.Unit)
		}
		if r.Floor != nil {
			floor = r.Floor.What + ": missing"
			if r.Floor.Value != nil {
				floor = r.Floor.What + ": " + formatValue(*r.Floor.Value, r.Floor.Unit)
			}
		}
		if r.Ratio != nil {
			ratio = formatNumber(*r.Ratio) + "×"
		}
		if r.Meets == "no" {
			misses++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Group, r.What, value, floor, ratio, orDash(r.Target), r.Meets)
	}
	tw.Flush()
	for _, r := range results {
		if r.Problem != "" {
			fmt.Fprintf(w, "missing: %s: %s\n", r.What, r.Problem)
		}
	}
	fmt.Fprintf(w, "\n%d rows, %d miss their target. Raw output (benchstat): %s; rows as JSON: %s\n",
		len(results), misses, filepath.Join(outDir, "raw.txt"), filepath.Join(outDir, "report.json"))
	fmt.Fprintf(w, "total time %s; command: %s\n", total, command)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
