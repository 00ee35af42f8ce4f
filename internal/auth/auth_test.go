package auth_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t testing.TB) (*auth.Service, *clock) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	return auth.New(st, auth.WithClock(c.now), auth.WithSessionTTL(time.Hour)), c
}

func TestTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t)
	secret, tok, err := s.CreateToken(ctx, auth.NewToken{User: "alice", Groups: []string{"ops"}, TTL: 2 * time.Hour, CreatedBy: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "sluice_"+tok.ID+"_") || strings.Contains(tok.Hash, secret) {
		t.Fatalf("secret %q, token %+v", secret, tok)
	}
	id, err := s.Authenticate(ctx, secret)
	if err != nil || id.User != "alice" || id.Groups[0] != "ops" || id.Method != auth.MethodToken {
		t.Fatalf("authenticate: %+v %v", id, err)
	}
	for name, bad := range map[string]string{
		"empty":      "",
		"shape":      "Bearer nonsense",
		"wrong body": secret[:len(secret)-1] + "x",
		"unknown id": "sluice_000000000000_" + strings.Repeat("a", 43),
	} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, auth.ErrBadToken) {
			t.Errorf("%s: %v, want ErrBadToken", name, err)
		}
	}
	c.t = c.t.Add(3 * time.Hour)
	if _, err := s.Authenticate(ctx, secret); !errors.Is(err, auth.ErrBadToken) {
		t.Fatalf("expired token: %v", err)
	}
}

func TestSessionEndsWithToken(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t)
	secret, tok, err := s.CreateToken(ctx, auth.NewToken{User: "alice", CreatedBy: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.Login(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if !auth.CheckCSRF(sess.Secret, sess.CSRF) || auth.CheckCSRF(sess.Secret, "") || auth.CheckCSRF(sess.Secret, sess.CSRF+"x") {
		t.Fatal("CSRF check does not match the session")
	}
	if _, err := s.Authenticate(ctx, sess.Secret); err == nil {
		t.Fatal("a session secret works as a bearer token")
	}
	if _, err := s.AuthenticateSession(ctx, secret); err == nil {
		t.Fatal("an API token works as a session cookie")
	}
	if id, err := s.AuthenticateSession(ctx, sess.Secret); err != nil || id.User != "alice" {
		t.Fatalf("session: %+v %v", id, err)
	}
	if _, err := s.Revoke(ctx, tok.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateSession(ctx, sess.Secret); err == nil {
		t.Fatal("the session outlived its revoked token")
	}
	secret2, _, _ := s.CreateToken(ctx, auth.NewToken{User: "bob", CreatedBy: "admin"})
	sess2, err := s.Login(ctx, secret2)
	if err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(2 * time.Hour)
	if _, err := s.AuthenticateSession(ctx, sess2.Secret); err == nil {
		t.Fatal("the session outlived its TTL")
	}
}

func TestRoles(t *testing.T) {
	grants := []auth.Grant{
		{Subject: "alice", Role: auth.RoleDeployer, Environment: "staging"},
		{Subject: "alice", Role: auth.RoleViewer, Environment: "*"},
		{Subject: "group:sre", Role: auth.RoleApprover, Environment: "prod"},
		{Subject: "root", Role: auth.RoleAdmin, Environment: "*"},
	}
	alice := auth.Identity{User: "alice", Groups: []string{"sre"}}
	for _, tc := range []struct {
		id   auth.Identity
		env  string
		want auth.Role
	}{
		{alice, "staging", auth.RoleDeployer},
		{alice, "prod", auth.RoleApprover},
		{alice, "dev", auth.RoleViewer},
		{alice, "*", auth.RoleViewer},
		{auth.Identity{User: "bob"}, "prod", ""},
		{auth.Identity{User: "root"}, "anything", auth.RoleAdmin},
		{auth.Identity{User: "sre"}, "prod", ""}, // a user named like a group is not the group
	} {
		if got := auth.RoleIn(grants, tc.id, tc.env); got != tc.want {
			t.Errorf("%s in %s: %q, want %q", tc.id.User, tc.env, got, tc.want)
		}
	}
	if auth.Role("").Includes(auth.RoleViewer) || !auth.RoleAdmin.Includes(auth.RoleDeployer) || auth.RoleDeployer.Includes(auth.RoleApprover) {
		t.Fatal("role order")
	}
}

func TestBootstrapShownOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	var out bytes.Buffer
	created, err := s.BootstrapTo(ctx, "", &out)
	if err != nil || !created {
		t.Fatalf("first: %v %v", created, err)
	}
	secret := strings.TrimSpace(strings.Split(strings.Split(out.String(), "\n\n")[1], "\n")[0])
	id, err := s.Authenticate(ctx, secret)
	if err != nil {
		t.Fatalf("printed token %q: %v", secret, err)
	}
	if err := s.Authorize(ctx, id, auth.RoleAdmin, "*", "manage tokens"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if created, err := s.BootstrapTo(ctx, "", &out); err != nil || created || out.Len() > 0 {
		t.Fatalf("second bootstrap: %v %v %q", created, err, out.String())
	}
	// With the admin token revoked, a restart bootstraps again, into a file.
	if _, err := s.Revoke(ctx, id.TokenID, "admin"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "admin.token")
	if created, err := s.BootstrapTo(ctx, path, &out); err != nil || !created || out.Len() > 0 {
		t.Fatalf("file bootstrap: %v %v %q", created, err, out.String())
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if _, err := s.Authenticate(ctx, strings.TrimSpace(string(b))); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file token: %v, mode %v", err, fi.Mode())
	}
	// An existing file is left alone when an admin exists...
	if created, err := s.BootstrapTo(ctx, path, &out); err != nil || created {
		t.Fatalf("file exists, admin exists: %v %v", created, err)
	}
}

func TestForbiddenMessage(t *testing.T) {
	err := &auth.ForbiddenError{User: "bob", Need: auth.RoleApprover, Environment: "prod", Action: "approve"}
	if got, want := err.Error(), "approve needs role approver in environment prod; bob does not have it"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
