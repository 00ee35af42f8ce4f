package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/secrets"
)

// errOIDCNeedsAuth refuses single sign-on without authentication.
var errOIDCNeedsAuth = errors.New("server: --oidc-issuer needs --auth: single sign-on makes web sessions, which exist only with authentication on")

// setupOIDC connects to the OIDC provider of s (nil when single sign-on is off) and
// returns the auth options its role mappings need.
func setupOIDC(ctx context.Context, s Security, log *slog.Logger) (*auth.OIDC, []auth.Option, error) {
	if s.OIDC == nil {
		return nil, nil, nil
	}
	secrets.Default.Add(s.OIDC.ClientSecret)
	o, err := auth.NewOIDC(ctx, *s.OIDC)
	if err != nil {
		return nil, nil, fmt.Errorf("server: %w", err)
	}
	log.Info("single sign-on is on", "issuer", o.Issuer(), "client", s.OIDC.ClientID, "role mappings", len(s.OIDC.Roles))
	return o, []auth.Option{auth.WithGrants(o.Grants()...)}, nil
}
