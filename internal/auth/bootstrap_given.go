package auth

import (
	"context"
	"errors"
	"fmt"
)

// ErrBootstrapRevoked says the given bootstrap token was revoked (or expired) while
// no other admin token is active: it is never brought back.
var ErrBootstrapRevoked = errors.New("the given bootstrap token was revoked or expired; put a new token where it is read from")

// BootstrapWith is Bootstrap with a secret chosen outside sluice (for example kept
// in a Kubernetes Secret and mounted into every replica): when no active admin token
// exists, it stores secret's hash as the admin token. The secret must have the shape
// of sluice's tokens, sluice_<12 hex>_<43 base64url characters>. It reports whether
// it stored the token; several servers starting at once store it once.
func (s *Service) BootstrapWith(ctx context.Context, secret string) (bool, error) {
	id, err := splitSecret(secret)
	if err != nil {
		return false, fmt.Errorf("auth: bootstrap token: want sluice_<12 hex digits>_<43 base64url characters>: %w", err)
	}
	tokens, err := s.Tokens(ctx, KindAPI)
	if err != nil {
		return false, err
	}
	for _, t := range tokens {
		if t.ID != id {
			continue
		}
		if t.Active(s.now()) {
			return false, nil // stored before, by this server or another
		}
		need, err := s.needsBootstrap(ctx)
		if err != nil || !need {
			return false, err
		}
		return false, fmt.Errorf("auth: %w", ErrBootstrapRevoked)
	}
	now := s.now().UTC()
	t := Token{ID: id, Hash: hashSecret(secret), Kind: KindAPI, User: BootstrapUser,
		Description: "bootstrap admin token (given)", CreatedAt: now, CreatedBy: "sluice server"}
	g := Grant{Subject: BootstrapUser, Role: RoleAdmin, Environment: AllEnvironments, CreatedAt: now, CreatedBy: "sluice server"}
	created, err := s.st.Bootstrap(ctx, t, g)
	if err != nil {
		return false, fmt.Errorf("auth: bootstrap: %w", err)
	}
	return created, nil
}
