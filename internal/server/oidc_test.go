package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/auth/oidctest"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// TestSetupOIDC refuses single sign-on without --auth and an issuer that does not
// answer, and wires a working one with its role mappings, never logging the secret.
func TestSetupOIDC(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out, logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	cfg := &auth.OIDCConfig{Issuer: "http://127.0.0.1:1", ClientID: "sluice", ClientSecret: "never-logged-secret"}
	if _, err := setupSecurity(ctx, Security{OIDC: cfg}, "127.0.0.1:0", st, log); !errors.Is(err, errOIDCNeedsAuth) {
		t.Errorf("OIDC without auth: %v, want errOIDCNeedsAuth", err)
	}
	// A port nothing listens on: discovery fails and the server does not start.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = "http://" + ln.Addr().String()
	ln.Close()
	_, err = setupSecurity(ctx, Security{Auth: true, OIDC: cfg, BootstrapOutput: &out}, "127.0.0.1:0", st, log)
	if err == nil || !strings.Contains(err.Error(), "oidc discovery of "+cfg.Issuer) {
		t.Errorf("unreachable issuer: %v", err)
	}

	p := oidctest.Find(t)
	g, err := auth.ParseRoleMapping("sluice-viewers=viewer@prod")
	if err != nil {
		t.Fatal(err)
	}
	cfg = &auth.OIDCConfig{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret, Roles: []auth.Grant{g}}
	sec, err := setupSecurity(ctx, Security{Auth: true, OIDC: cfg, BootstrapOutput: &out}, "127.0.0.1:0", st, log)
	if err != nil {
		t.Fatal(err)
	}
	var d api.Deps
	sec.apply(&d)
	if d.OIDC == nil || d.Auth == nil {
		t.Fatal("the API gets no OIDC")
	}
	role, err := d.Auth.RoleIn(ctx, auth.Identity{User: "vera@example.com", Groups: []string{"sluice-viewers"}}, "prod")
	if err != nil || role != auth.RoleViewer {
		t.Errorf("role of a mapped group = %q, %v; want viewer", role, err)
	}
	if strings.Contains(logs.String(), p.ClientSecret) || strings.Contains(logs.String(), "never-logged-secret") {
		t.Errorf("the client secret is in the log:\n%s", logs.String())
	}
}
