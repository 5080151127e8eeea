package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/store"
)

// RootTokenFile is where a new host leaves its first administrator token.
const RootTokenFile = "root-token"

// BootstrapRootToken creates an administrator token when the database has
// none, and writes it to data_dir/root-token (0600), like Vault's root
// token at init: the operator reads it once, makes named tokens with it and
// removes the file. It returns the file's path, or "" when tokens existed.
func (s *Server) BootstrapRootToken(ctx context.Context) (string, error) {
	toks, err := s.store.Tokens(ctx)
	if err != nil {
		return "", err
	}
	if len(toks) > 0 {
		return "", nil
	}
	secret, tok, err := s.store.CreateToken(ctx, store.TokenSpec{Name: "root", Role: store.RoleAdmin, User: "root"})
	if err != nil {
		return "", fmt.Errorf("creating the root token: %w", err)
	}
	path := filepath.Join(s.cfg.Load().Server.DataDir, RootTokenFile)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the root token: %w", err)
	}
	if _, err := s.audit.Append(ctx, audit.Event{Type: audit.TypeTokenCreate, Actor: "host", Outcome: audit.OutcomeOK,
		Detail: map[string]string{"token_id": tok.ID, "name": "root", "role": string(store.RoleAdmin)}}); err != nil {
		return "", err
	}
	s.logger.Info("created the root token; read it once from the file, create named tokens with it, then delete the file", "file", path)
	return path, nil
}
