package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestOIDCFlags checks that the single sign-on flags become a configuration, and that
// each mistake is refused with the flag it concerns.
func TestOIDCFlags(t *testing.T) {
	dir := t.TempDir()
	secret, empty := filepath.Join(dir, "secret"), filepath.Join(dir, "empty")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--oidc-issuer", "https://id.example.com", "--oidc-client-id", "sluice", "--oidc-client-secret-file", secret}
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"off", nil, ""},
		{"on", append(base, "--oidc-role", "sre=deployer@prod", "--oidc-role", "admins=admin@*"), ""},
		{"client without issuer", []string{"--oidc-client-id", "sluice"}, "need --oidc-issuer"},
		{"no secret file", base[:4], "--oidc-client-secret-file: required"},
		{"missing secret file", append(base[:4:4], "--oidc-client-secret-file", filepath.Join(dir, "nope")), "--oidc-client-secret-file"},
		{"empty secret file", append(base[:4:4], "--oidc-client-secret-file", empty), "is empty"},
		{"bad role", append(base, "--oidc-role", "sre=boss@prod"), "--oidc-role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f oidcFlags
			fl := pflag.NewFlagSet("server", pflag.ContinueOnError)
			f.add(fl)
			if err := fl.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.config()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.args) == 0 {
				if cfg != nil {
					t.Fatalf("cfg = %+v without --oidc-issuer", cfg)
				}
				return
			}
			if cfg.ClientSecret != "s3cret" || len(cfg.Roles) != 2 || cfg.Roles[1].Subject != "group:admins" || cfg.UserClaim != "email" {
				t.Errorf("cfg = %+v", cfg)
			}
		})
	}
}
