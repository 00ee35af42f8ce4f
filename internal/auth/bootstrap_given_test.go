package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/internal/auth"
)

// TestBootstrapWith stores a token chosen outside sluice once, refuses a malformed
// one, and never brings a revoked one back.
func TestBootstrapWith(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	const given = "sluice_0123456789ab_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
	if _, err := s.BootstrapWith(ctx, "not-a-token"); err == nil {
		t.Fatal("a malformed token was accepted")
	}
	if created, err := s.BootstrapWith(ctx, given); err != nil || !created {
		t.Fatalf("first: %v %v", created, err)
	}
	id, err := s.Authenticate(ctx, given)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Authorize(ctx, id, auth.RoleAdmin, "*", "manage tokens"); err != nil {
		t.Fatal(err)
	}
	// A second replica, or a restart, stores nothing more.
	if created, err := s.BootstrapWith(ctx, given); err != nil || created {
		t.Fatalf("second: %v %v", created, err)
	}
	if _, err := s.Revoke(ctx, id.TokenID, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BootstrapWith(ctx, given); !errors.Is(err, auth.ErrBootstrapRevoked) {
		t.Fatalf("revoked token given again: %v, want ErrBootstrapRevoked", err)
	}
	if _, err := s.Authenticate(ctx, given); err == nil {
		t.Fatal("the revoked token authenticates again")
	}
}
