package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// rowResult is one row as measured: the table and report.json print these.
type rowResult struct {
	Group     string       `json:"component"`
	What      string       `json:"what"`
	Benchmark string       `json:"benchmark"`
	Value     *float64     `json:"value"` // nil when missing
	Unit      string       `json:"unit"`
	Floor     *floorResult `json:"floor,omitempty"`
	Ratio     *float64     `json:"ratio,omitempty"` // value / floor
	Target    string       `json:"target,omitempty"`
	Meets     string       `json:"meets_target"` // "yes", "no" or "—" (no target, or nothing to judge)
	Status    string       `json:"status"`       // "ok" or "missing"
	Problem   string       `json:"problem,omitempty"`
}

type floorResult struct {
	What      string   `json:"what"`
	Benchmark string   `json:"benchmark"`
	Value     *float64 `json:"value"`
	Unit      string   `json:"unit"`
}

// evaluate looks every selected row's metrics up in the parsed output. It
// explains a missing metric by the most likely cause, so that the reader of
// the table knows where to look in raw.txt.
func evaluate(sel []row, p parsed, module string, records []runRecord) []rowResult {
	runErr := map[string]string{}
	for _, r := range records {
		runErr[r.ID] = r.Error
	}
	find := func(m metric) (*float64, string) {
		r, ok := runByID(m.Run)
		if !ok {
			return nil, fmt.Sprintf("row refers to run %q, which is not defined", m.Run)
		}
		pkg := module + "/" + r.Pkg
		if v, ok := p.lookup(pkg, m.Bench, m.Unit); ok {
			return &v, ""
		}
		switch {
		case p.failed(pkg, m.Bench):
			return nil, fmt.Sprintf("%s failed in %s (see raw.txt)", m.Bench, r.Pkg)
		case p.has(pkg, m.Bench):
			return nil, fmt.Sprintf("%s in %s reported no %q metric", m.Bench, r.Pkg, m.Unit)
		case runErr[m.Run] != "":
			return nil, fmt.Sprintf("no %s line from %s: %s", m.Bench, r.Pkg, runErr[m.Run])
		default:
			return nil, fmt.Sprintf("no %s line in the output of %s", m.Bench, r.Pkg)
		}
	}

	var out []rowResult
	for _, r := range sel {
		res := rowResult{Group: r.Group, What: r.What, Benchmark: benchRef(r.Value), Unit: r.Value.Unit, Meets: "—", Status: "ok"}
		var problems []string
		v, problem := find(r.Value)
		res.Value = v
		if problem != "" {
			problems = append(problems, problem)
		}
		var floor *float64
		if r.Floor != nil {
			var problem string
			floor, problem = find(*r.Floor)
			res.Floor = &floorResult{What: r.FloorWhat, Benchmark: benchRef(*r.Floor), Value: floor, Unit: r.Floor.Unit}
			if problem != "" {
				problems = append(problems, problem)
			}
		}
		if v != nil && floor != nil && *floor != 0 {
			ratio := *v / *floor
			res.Ratio = &ratio
		}
		if t := r.Target; t != nil {
			res.Target = describeTarget(*t, r.Value.Unit)
			judged := res.Ratio
			if t.OnValue {
				judged = res.Value
			}
			if judged != nil {
				res.Meets = "no"
				if t.meets(*judged) {
					res.Meets = "yes"
				}
			}
		}
		if len(problems) > 0 {
			res.Status = "missing"
			res.Problem = strings.Join(slices.Compact(problems), "; ") // value and floor often share the cause
		}
		out = append(out, res)
	}
	return out
}

func benchRef(m metric) string {
	r, _ := runByID(m.Run)
	return r.Pkg + " " + m.Bench + " " + m.Unit
}

func describeTarget(t target, unit string) string {
	op := "≤"
	if t.Op == ">=" {
		op = "≥"
	}
	limit := strconv.FormatFloat(t.Limit, 'g', -1, 64)
	if t.OnValue {
		return fmt.Sprintf("%s %s %s", op, limit, displayUnit(unit))
	}
	return fmt.Sprintf("%s %s×", op, limit)
}

// displayUnit drops the qualifier the benchmarks put in front of a unit to
// tell their metrics apart ("ping-ns/op", "rss-100-kB"): in the table the
// WHAT column says which one it is.
func displayUnit(unit string) string {
	if i := strings.LastIndex(unit, "-"); i >= 0 {
		return unit[i+1:]
	}
	return unit
}

// formatValue scales times to a readable unit; other units are printed as
// the benchmark reports them.
func formatValue(v float64, unit string) string {
	u := displayUnit(unit)
	per := ""
	if base, rest, ok := strings.Cut(u, "/"); ok && (base == "ns" || base == "us" || base == "ms") {
		u, per = base, "/"+rest
	}
	scale := map[string]float64{"ns": 1, "us": 1e3, "ms": 1e6}
	if f, ok := scale[u]; ok {
		ns := v * f
		switch {
		case ns >= 1e9:
			return formatNumber(ns/1e9) + " s" + per
		case ns >= 1e6:
			return formatNumber(ns/1e6) + " ms" + per
		case ns >= 1e3:
			return formatNumber(ns/1e3) + " µs" + per
		default:
			return formatNumber(ns) + " ns" + per
		}
	}
	return formatNumber(v) + " " + u
}

// formatNumber keeps three or four significant digits, which is all a
// benchmark on a shared machine can promise.
func formatNumber(v float64) string {
	a := v
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 10:
		return fmt.Sprintf("%.2f", v)
	case a >= 0.01 || a == 0:
		return fmt.Sprintf("%.3f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}
