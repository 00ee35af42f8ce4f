package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice/internal/auth"
)

// oidcFlags are the server's single sign-on flags.
type oidcFlags struct {
	issuer, clientID, secretFile, redirectURL, userClaim, groupsClaim string
	scopes, audiences, roles                                          []string
}

// add registers the flags on fl.
func (f *oidcFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.issuer, "oidc-issuer", "", "OpenID Connect issuer URL: adds \"Sign in with SSO\" and ID tokens as bearer tokens (needs --auth)")
	fl.StringVar(&f.clientID, "oidc-client-id", "", "client id of sluice at the OIDC provider")
	fl.StringVar(&f.secretFile, "oidc-client-secret-file", "", "file holding the client secret (never on the command line)")
	fl.StringVar(&f.redirectURL, "oidc-redirect-url", "", "callback registered at the provider, https://HOST/api/v1/oidc/callback (default: from the request's Host)")
	fl.StringVar(&f.userClaim, "oidc-user-claim", "email", "ID token claim that names the user (email needs email_verified)")
	fl.StringVar(&f.groupsClaim, "oidc-groups-claim", "groups", "ID token claim listing the user's groups")
	fl.StringSliceVar(&f.scopes, "oidc-scopes", auth.DefaultOIDCScopes, "scopes asked for besides openid")
	fl.StringArrayVar(&f.audiences, "oidc-audience", nil, "audience a bearer ID token may carry (repeatable; default the client id)")
	fl.StringArrayVar(&f.roles, "oidc-role", nil, "GROUP=ROLE@ENV: members of the provider's group hold ROLE in ENV (* for all); repeatable")
}

// config returns the OIDC configuration the flags ask for, nil when --oidc-issuer is
// not set; a flag without --oidc-issuer, a missing secret or a bad mapping is an error
// naming the flag.
func (f *oidcFlags) config() (*auth.OIDCConfig, error) {
	if f.issuer == "" {
		if f.clientID != "" || f.secretFile != "" || len(f.roles) > 0 {
			return nil, fmt.Errorf("--oidc-client-id, --oidc-client-secret-file and --oidc-role need --oidc-issuer")
		}
		return nil, nil
	}
	if f.secretFile == "" {
		return nil, fmt.Errorf("--oidc-client-secret-file: required with --oidc-issuer")
	}
	b, err := os.ReadFile(f.secretFile)
	if err != nil {
		return nil, fmt.Errorf("--oidc-client-secret-file: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return nil, fmt.Errorf("--oidc-client-secret-file %s: the file is empty", f.secretFile)
	}
	cfg := &auth.OIDCConfig{Issuer: f.issuer, ClientID: f.clientID, ClientSecret: secret, RedirectURL: f.redirectURL,
		Scopes: f.scopes, UserClaim: f.userClaim, GroupsClaim: f.groupsClaim, Audiences: f.audiences}
	for _, r := range f.roles {
		g, err := auth.ParseRoleMapping(r)
		if err != nil {
			return nil, fmt.Errorf("--oidc-role: %w", err)
		}
		cfg.Roles = append(cfg.Roles, g)
	}
	return cfg, nil
}
