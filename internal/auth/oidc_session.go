package auth

import (
	"context"
	"fmt"
	"slices"
)

// WithGrants adds grants made by configuration (such as OIDC role mappings) to the
// stored ones: they count in RoleIn and are listed by Grants, but cannot be revoked
// through the store.
func WithGrants(gs ...Grant) Option {
	return func(s *Service) { s.fixed = append(s.fixed, gs...) }
}

// allGrants returns the stored grants followed by the configured ones.
func (s *Service) allGrants(ctx context.Context) ([]Grant, error) {
	gs, err := s.st.ListGrants(ctx)
	if err != nil {
		return nil, err
	}
	return append(gs, slices.Clone(s.fixed)...), nil
}

// StartSession makes a web session for an identity proved elsewhere (an OIDC sign-in):
// it has no parent token, lasts the session lifetime and can be revoked like any other.
// description says how it was proved; it is listed with the session.
func (s *Service) StartSession(ctx context.Context, id Identity, description string) (Session, error) {
	if err := checkSubject(id.User); err != nil {
		return Session{}, fmt.Errorf("session user %q: %w", id.User, err)
	}
	secret, tid, err := newSecret()
	if err != nil {
		return Session{}, err
	}
	now := s.now().UTC()
	t := Token{ID: tid, Hash: hashSecret(secret), Kind: KindSession, User: id.User, Groups: slices.Clone(id.Groups),
		Description: description, CreatedAt: now, CreatedBy: id.User, ExpiresAt: now.Add(s.sessionTTL)}
	if err := s.st.CreateToken(ctx, t); err != nil {
		return Session{}, fmt.Errorf("auth: create session: %w", err)
	}
	return Session{Secret: secret, CSRF: csrfFor(secret), ExpiresAt: t.ExpiresAt,
		Identity: Identity{User: t.User, Groups: t.Groups, TokenID: t.ID, Method: MethodSession}}, nil
}
