// Command soak runs byov under load and faults and checks that it comes
// out whole. Users start and end sessions through the HTTP API against the
// builtin connector and a Password Secure emulator while a chaos loop
// SIGKILLs plugin processes, swaps connectors between two versions, lets
// sessions expire and restarts the host. At the end it checks: no failed
// call beyond those a fault explains, no session stuck, the audit chain
// valid with one record per session event, file descriptors, goroutines
// and plugin processes back to their baseline, and no test secret in any
// log. It exits 1 when a check fails.
//
//	go run ./soak -duration 60s        (make soak SOAK=60s)
//	go run ./soak -inject drop-audit   (proves that a failed check fails the run)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long the load and the chaos run")
	flag.IntVar(&o.users, "users", 8, "concurrent users")
	flag.DurationVar(&o.chaosEvery, "chaos-every", 3*time.Second, "time between faults")
	flag.StringVar(&o.inject, "inject", "", `a deliberate fault the checks must catch: "drop-audit" or "stuck-session"`)
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory for inspection")
	flag.DurationVar(&o.settle, "settle", 45*time.Second, "how long open sessions may take to end after the load stops")
	flag.Parse()
	if s := os.Getenv("SOAK"); s != "" && !flagSet("duration") {
		d, err := time.ParseDuration(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "soak: SOAK=%q is not a duration such as 60s or 10m\n", s)
			os.Exit(2)
		}
		o.duration = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, o, os.Stdout))
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

type options struct {
	duration   time.Duration
	users      int
	chaosEvery time.Duration
	inject     string
	keep       bool
	// settle is how long open sessions may take to end after the load
	// stops (their maximum duration is 4 s, the expiry worker runs every 5 s).
	settle time.Duration
}

// run performs one soak and returns the exit code.
func run(ctx context.Context, o options, out io.Writer) int {
	s, err := newSoak(o, out)
	if err != nil {
		fmt.Fprintf(out, "soak: setting up: %v\n", err)
		return 1
	}
	defer s.cleanup()
	if err := s.run(ctx); err != nil {
		fmt.Fprintf(out, "soak: %v\n", err)
		return 1
	}
	if !s.report() {
		return 1
	}
	return 0
}
