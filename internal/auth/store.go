package auth

import (
	"context"
	"time"
)

// Store keeps tokens and grants. Errors wrap store.ErrNotFound and store.ErrConflict.
// Implementations: internal/store/sqlite and internal/store/postgres; conformance in
// internal/auth/authtest.
type Store interface {
	// CreateToken inserts a token; an existing ID is store.ErrConflict.
	CreateToken(ctx context.Context, t Token) error
	// GetToken returns one token by ID, or store.ErrNotFound.
	GetToken(ctx context.Context, id string) (Token, error)
	// ListTokens returns the tokens of a kind (all kinds when empty), oldest first.
	ListTokens(ctx context.Context, kind string) ([]Token, error)
	// RevokeToken marks a token and the sessions made from it revoked at at, and returns
	// the token. Revoking a revoked token keeps the first revocation.
	RevokeToken(ctx context.Context, id, by string, at time.Time) (Token, error)
	// Bootstrap stores t and g in one transaction unless an active API token (at t's
	// CreatedAt) belongs to a user granted admin on "*"; it reports whether it stored them.
	Bootstrap(ctx context.Context, t Token, g Grant) (bool, error)

	// PutGrant stores a grant; it reports false when the same grant already exists.
	PutGrant(ctx context.Context, g Grant) (bool, error)
	// DeleteGrant removes the grant of (subject, role, environment), or store.ErrNotFound.
	DeleteGrant(ctx context.Context, g Grant) error
	// ListGrants returns every grant ordered by subject, environment and role.
	ListGrants(ctx context.Context) ([]Grant, error)
}
