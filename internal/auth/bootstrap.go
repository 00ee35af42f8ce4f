package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// BootstrapUser is the user of the first admin token.
const BootstrapUser = "admin"

// Bootstrap creates an admin token with an admin grant on every environment when no
// active admin token exists, and returns its secret (empty when one exists). Only one of
// several servers starting at once creates it: the store decides in one transaction.
func (s *Service) Bootstrap(ctx context.Context) (string, error) {
	secret, id, err := newSecret()
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	t := Token{ID: id, Hash: hashSecret(secret), Kind: KindAPI, User: BootstrapUser,
		Description: "bootstrap admin token", CreatedAt: now, CreatedBy: "sluice server"}
	g := Grant{Subject: BootstrapUser, Role: RoleAdmin, Environment: AllEnvironments, CreatedAt: now, CreatedBy: "sluice server"}
	created, err := s.st.Bootstrap(ctx, t, g)
	if err != nil {
		return "", fmt.Errorf("auth: bootstrap: %w", err)
	}
	if !created {
		return "", nil
	}
	return secret, nil
}

// BootstrapTo runs Bootstrap and shows a fresh secret exactly once: written to path
// (mode 0600, never over an existing file) when path is set, else printed to w. The
// file is opened before the token is made, so a token is never created unshown.
func (s *Service) BootstrapTo(ctx context.Context, path string, w io.Writer) (bool, error) {
	if path == "" {
		secret, err := s.Bootstrap(ctx)
		if err != nil || secret == "" {
			return false, err
		}
		_, err = fmt.Fprintf(w, "\nsluice: created the first admin token (user %q, admin on *). It is shown only this once:\n\n    %s\n\nUse it with: export SLUICE_TOKEN=<token>; then create personal tokens and revoke this one.\n\n", BootstrapUser, secret)
		return true, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		need, nerr := s.needsBootstrap(ctx)
		if nerr != nil || !need {
			return false, nerr
		}
		return false, fmt.Errorf("auth: no active admin token, and the bootstrap token file %s already exists; remove it so a new token can be written", path)
	}
	if err != nil {
		return false, fmt.Errorf("auth: bootstrap token file: %w", err)
	}
	secret, err := s.Bootstrap(ctx)
	if err != nil || secret == "" {
		f.Close()
		os.Remove(path)
		return false, err
	}
	if _, err := fmt.Fprintln(f, secret); err != nil {
		f.Close()
		return true, fmt.Errorf("auth: write bootstrap token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return true, fmt.Errorf("auth: write bootstrap token file: %w", err)
	}
	return true, nil
}

// needsBootstrap reports whether no active API token belongs to a user with a direct
// admin grant on "*" (the store's Bootstrap rule).
func (s *Service) needsBootstrap(ctx context.Context) (bool, error) {
	tokens, err := s.Tokens(ctx, KindAPI)
	if err != nil {
		return false, err
	}
	grants, err := s.Grants(ctx)
	if err != nil {
		return false, err
	}
	for _, t := range tokens {
		if t.Active(s.now()) && RoleIn(grants, Identity{User: t.User}, AllEnvironments) == RoleAdmin {
			return false, nil
		}
	}
	return true, nil
}
