// Command psemu runs the Password Secure emulator (package psemu) on its own,
// for demos and for testing a client by hand, and mints API keys for it.
//
//	psemu serve -seed FILE [-addr 127.0.0.1:0] [-base /api/] [-cert FILE -key FILE]
//	            [-ca-out FILE] [-keys-out FILE] [-bom] [-session-ttl 30m]
//	psemu key create -seed FILE -user NAME [-rights Read] [-scopes Passwords] [-expires 720h]
//
// serve prints the API URL and the path of the CA certificate to trust, then
// runs until interrupted. key create prints one API key on stdout; it works
// with a running `psemu serve` of the same seed file because both derive the
// JWT secret from it (see package psemu).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/byov/byov/plugins/passwordsecure/psemu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "psemu:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  psemu serve -seed FILE [-addr 127.0.0.1:0] [-base /api/] [-cert FILE -key FILE] [-ca-out FILE] [-keys-out FILE] [-bom] [-session-ttl DURATION]
  psemu key create -seed FILE -user NAME [-rights Read] [-scopes Passwords] [-expires 720h]`

// ready, when set (by tests), receives the server once it listens.
var ready func(*psemu.Server)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) >= 1 && args[0] == "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case len(args) >= 2 && args[0] == "key" && args[1] == "create":
		return keyCreate(args[2:], stdout, stderr)
	default:
		fmt.Fprintln(stderr, usage)
		return errors.New("unknown or missing command; see the usage above")
	}
}

func loadSeed(path string) (*psemu.Seed, error) {
	if path == "" {
		return nil, errors.New("-seed is required: the emulator needs users and entries to serve")
	}
	return psemu.LoadSeed(path)
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("psemu serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seedPath := fs.String("seed", "", "seed file (JSON, see package psemu)")
	addr := fs.String("addr", "127.0.0.1:0", "listen address; port 0 picks a free port")
	base := fs.String("base", "/api/", "base path of the API")
	cert := fs.String("cert", "", "TLS certificate file (default: a fresh self-signed one)")
	key := fs.String("key", "", "TLS key file, with -cert")
	caOut := fs.String("ca-out", "", "where to write the CA certificate (default: a file in the temp dir)")
	keysOut := fs.String("keys-out", "", "write the seed's API keys here (mode 0600), one NAME=KEY per line")
	bom := fs.Bool("bom", false, "prefix JSON responses with a UTF-8 BOM")
	ttl := fs.Duration("session-ttl", 0, "session lifetime (0: until CloseSession)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	seed, err := loadSeed(*seedPath)
	if err != nil {
		return err
	}
	srv, err := psemu.New(psemu.Options{
		Addr: *addr, BasePath: *base, CertFile: *cert, KeyFile: *key, BOM: *bom, SessionTTL: *ttl, Seed: seed,
		Logger: slog.New(slog.NewTextHandler(stderr, nil)),
	})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()
	caPath := *caOut
	if caPath == "" {
		f, err := os.CreateTemp("", "psemu-ca-*.pem")
		if err != nil {
			return fmt.Errorf("creating a file for the CA certificate: %w", err)
		}
		caPath = f.Name()
		f.Close()
	}
	if err := os.WriteFile(caPath, srv.CACertPEM(), 0o644); err != nil {
		return fmt.Errorf("writing the CA certificate: %w", err)
	}
	if abs, err := filepath.Abs(caPath); err == nil {
		caPath = abs
	}
	if *keysOut != "" {
		var out []byte
		for name, k := range srv.SeedAPIKeys() {
			out = fmt.Appendf(out, "%s=%s\n", name, k)
		}
		if err := os.WriteFile(*keysOut, out, 0o600); err != nil {
			return fmt.Errorf("writing the API keys: %w", err)
		}
	}
	fmt.Fprintf(stdout, "url: %s\nca_cert: %s\ndatabase: %s\n", srv.URL(), caPath, srv.Database())
	if ready != nil {
		ready(srv)
	}
	<-ctx.Done()
	return nil
}

func keyCreate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("psemu key create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seedPath := fs.String("seed", "", "seed file the server runs with")
	user := fs.String("user", "", "user the key acts as")
	rights := fs.String("rights", "Read", "access rights (enum names joined by \", \")")
	scopes := fs.String("scopes", "Passwords", "access scopes (enum names joined by \", \")")
	expires := fs.Duration("expires", 365*24*time.Hour, "lifetime of the key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *user == "" {
		return errors.New("-user is required: name a user of the seed file")
	}
	seed, err := loadSeed(*seedPath)
	if err != nil {
		return err
	}
	srv, err := psemu.New(psemu.Options{Seed: seed})
	if err != nil {
		return err
	}
	k, err := srv.CreateAPIKey(*user, *rights, *scopes, *expires)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, k)
	return nil
}
