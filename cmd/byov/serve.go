package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/server"
)

func init() {
	register("serve", "Run the byov host", cmdServe)
	register("config validate", "Check a configuration file and print every problem", cmdConfigValidate)
}

func newFlags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("byov "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: byov %s\n\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitError(0)
		}
		return exitError(2)
	}
	return nil
}

func hostLogger(level string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "byov", Level: hclog.LevelFromString(level), Output: stderr})
}

func cmdServe(args []string) error {
	fs := newFlags("serve", "serve [-config byov.hcl] [-log-level info]")
	configPath := fs.String("config", "byov.hcl", "the configuration file")
	level := fs.String("log-level", "info", "trace, debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := hostLogger(*level)
	s, err := server.New(ctx, server.Options{ConfigPath: *configPath, Logger: logger})
	var diags *server.DiagnosticsError
	if errors.As(err, &diags) {
		// At start the operator is at the terminal: show the source lines.
		fmt.Fprint(stderr, diags.Text)
		return exitError(1)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	if path, err := s.BootstrapRootToken(ctx); err != nil {
		return err
	} else if path != "" {
		fmt.Fprintf(stderr, "A root token was written to %s. Read it, create named tokens with `byov token create`, then delete the file.\n", path)
	}
	// SIGHUP reloads the configuration; an invalid one is refused with its
	// diagnostics and the running one stays.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := s.Reload(ctx); err != nil {
				logger.Error("configuration reload refused; the running configuration stays in force", "error", err)
			}
		}
	}()
	return s.Serve(ctx)
}

func cmdConfigValidate(args []string) error {
	fs := newFlags("config validate", "config validate [-config byov.hcl] [-no-plugins]")
	configPath := fs.String("config", "byov.hcl", "the configuration file")
	noPlugins := fs.Bool("no-plugins", false, "do not start connector plugins to check their config blocks")
	if err := parse(fs, args); err != nil {
		return err
	}
	logger := hclog.NewNullLogger()
	cfg, diags, err := server.LoadConfig(*configPath, nil, logger)
	if err == nil && !*noPlugins {
		// Check the connectors' config blocks against their plugins' schemas.
		opts := server.PluginOptions(cfg, *configPath, logger)
		opts.ExecDir = "" // a temporary one, removed when the manager closes
		mgr, merr := plugins.NewManager(opts)
		if merr == nil {
			defer mgr.Close()
			_, diags, err = server.LoadConfig(*configPath, mgr, logger)
		} else {
			fmt.Fprintf(stderr, "Warning: connector config blocks not checked: %v\n", merr)
		}
	}
	if len(diags) > 0 {
		fmt.Fprint(stdout, server.RenderDiagnostics(diags))
	}
	if err != nil || diags.HasErrors() {
		return exitError(1)
	}
	fmt.Fprintf(stdout, "%s is valid.\n", *configPath)
	return nil
}
