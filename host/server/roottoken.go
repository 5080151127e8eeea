package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/store"
)

// RootTokenFile is where a new host leaves its first administrator token.
const RootTokenFile = "root-token"

// BootstrapRootToken creates an administrator token when the database has
// no usable one (none, or all revoked or expired), and writes it to
// data_dir/root-token (0600), like Vault's root token at init: the operator
// reads it once, makes named tokens with it and removes the file. Revoking
// every administrator token and restarting is thus also the way back in.
// It returns the file's path, or "" when an administrator token exists.
func (s *Server) BootstrapRootToken(ctx context.Context) (string, error) {
	toks, err := s.store.Tokens(ctx)
	if err != nil {
		return "", err
	}
	now := time.Now()
	for _, t := range toks {
		if t.Role == store.RoleAdmin && t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt)) {
			return "", nil // someone holds a usable administrator token
		}
	}
	var (
		secret string
		tok    store.Token
	)
	// The token and its audit record are one commit.
	err = s.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		if secret, tok, err = tx.CreateToken(store.TokenSpec{Name: "root", Role: store.RoleAdmin, User: "root"}); err != nil {
			return err
		}
		_, err = s.audit.AppendTx(tx, audit.Event{Type: audit.TypeTokenCreate, Actor: "host", Outcome: audit.OutcomeOK,
			Detail: map[string]string{"token_id": tok.ID, "name": "root", "role": string(store.RoleAdmin)}})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("creating the root token: %w", err)
	}
	path := filepath.Join(s.cfg.Load().Server.DataDir, RootTokenFile)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		// A token nobody holds would stop the next start from making one.
		if _, rerr := s.store.RevokeToken(ctx, tok.ID, now); rerr != nil {
			return "", fmt.Errorf("writing the root token failed (%v), and revoking it failed too: %w", err, rerr)
		}
		return "", fmt.Errorf("writing the root token: %w", err)
	}
	s.logger.Info("created the root token; read it once from the file, create named tokens with it, then delete the file", "file", path)
	return path, nil
}
