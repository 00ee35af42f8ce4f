package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// MethodOIDC is an Identity proved by an OpenID Connect ID token sent as a bearer token.
const MethodOIDC = "oidc"

// OIDCConfig configures sign-in with an OpenID Connect provider.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; its discovery document is read at start.
	Issuer string
	// ClientID and ClientSecret are sluice's client at the provider.
	ClientID     string
	ClientSecret string
	// RedirectURL is where the provider sends the browser back, registered at the
	// provider: https://HOST/api/v1/oidc/callback. Empty: made from each request's
	// scheme and (checked) Host header.
	RedirectURL string
	// Scopes asked for besides openid; DefaultOIDCScopes when nil.
	Scopes []string
	// UserClaim names the claim that becomes the user name: "email" by default (then
	// email_verified must not be false), or "sub", "preferred_username", ...
	UserClaim string
	// GroupsClaim names the claim listing the user's groups: "groups" by default.
	GroupsClaim string
	// Audiences are the audiences a bearer token may carry, one of which must be in
	// its aud claim; ClientID by default.
	Audiences []string
	// Roles are grants to the provider's groups (subject group:<name>) and users, made
	// by configuration instead of the store; see ParseRoleMapping.
	Roles []Grant
	// HTTPClient reaches the provider; http.DefaultClient when nil.
	HTTPClient *http.Client
}

// DefaultOIDCScopes are the scopes asked for besides openid: the user's email, profile
// and groups (Dex, Keycloak and Okta name the last one "groups").
var DefaultOIDCScopes = []string{"email", "profile", "groups"}

// ErrOIDC marks an ID token, code or sign-in answer that was refused; its message is
// safe to show to the caller.
var ErrOIDC = errors.New("oidc sign-in refused")

// OIDC signs people in with an OpenID Connect provider: the authorization-code flow
// with PKCE, state and nonce for the web UI, and ID tokens as bearer tokens for
// machines.
type OIDC struct {
	cfg      OIDCConfig
	provider *oidc.Provider
	login    *oidc.IDTokenVerifier // the UI's code flow: aud must hold ClientID
	bearer   *oidc.IDTokenVerifier // bearer tokens: aud checked against Audiences
	now      func() time.Time
}

// NewOIDC reads the provider's discovery document and returns a ready OIDC.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Scopes == nil {
		cfg.Scopes = DefaultOIDCScopes
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = "email"
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if len(cfg.Audiences) == 0 {
		cfg.Audiences = []string{cfg.ClientID}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("auth: oidc discovery of %s: %w", cfg.Issuer, err)
	}
	o := &OIDC{cfg: cfg, provider: p, now: time.Now}
	o.login = p.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: o.clock})
	o.bearer = p.Verifier(&oidc.Config{SkipClientIDCheck: true, Now: o.clock})
	return o, nil
}

func (o *OIDC) clock() time.Time { return o.now() }

// check names the first missing or malformed setting.
func (c OIDCConfig) check() error {
	switch {
	case c.Issuer == "":
		return fmt.Errorf("oidc issuer: a URL is required (--oidc-issuer): %w", ErrInvalid)
	case !strings.HasPrefix(c.Issuer, "https://") && !strings.HasPrefix(c.Issuer, "http://"):
		return fmt.Errorf("oidc issuer %q: want an http(s) URL: %w", c.Issuer, ErrInvalid)
	case c.ClientID == "":
		return fmt.Errorf("oidc client id: required (--oidc-client-id): %w", ErrInvalid)
	case c.ClientSecret == "":
		return fmt.Errorf("oidc client secret: required (--oidc-client-secret-file): %w", ErrInvalid)
	}
	for _, g := range c.Roles {
		if err := CheckGrant(g); err != nil {
			return fmt.Errorf("oidc role mapping: %w", err)
		}
	}
	return nil
}

// Issuer returns the provider's issuer URL.
func (o *OIDC) Issuer() string { return o.cfg.Issuer }

// RedirectURL returns the configured redirect URL ("" when made per request).
func (o *OIDC) RedirectURL() string { return o.cfg.RedirectURL }

// Grants returns the grants made by configuration (OIDCConfig.Roles).
func (o *OIDC) Grants() []Grant { return slices.Clone(o.cfg.Roles) }

// Flow is the secret state of one browser sign-in, kept by the browser between
// AuthCodeURL and Exchange (in a short-lived cookie only sluice's pages get).
type Flow struct {
	State    string `json:"s"` // echoed by the provider; must match
	Nonce    string `json:"n"` // must come back in the ID token
	Verifier string `json:"v"` // PKCE code verifier
	Return   string `json:"r"` // the local path to open after sign-in
}

// Begin starts a sign-in: it returns the provider's authorization URL, which sends
// the browser back to redirectURL, and the flow to keep until it returns.
func (o *OIDC) Begin(redirectURL, returnPath string) (string, Flow, error) {
	state, err := randomString()
	if err != nil {
		return "", Flow{}, err
	}
	nonce, err := randomString()
	if err != nil {
		return "", Flow{}, err
	}
	f := Flow{State: state, Nonce: nonce, Verifier: oauth2.GenerateVerifier(), Return: returnPath}
	u := o.oauth(redirectURL).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(f.Verifier))
	return u, f, nil
}

// Claims is what sluice takes from a verified ID token.
type Claims struct {
	Subject string
	Email   string
	User    string
	Groups  []string
	Expiry  time.Time
}

// Identity is the identity the claims prove, with the given method and token id.
func (c Claims) Identity(method, tokenID string) Identity {
	return Identity{User: c.User, Groups: c.Groups, TokenID: tokenID, Method: method}
}

// Finish ends a sign-in: it checks the state the provider echoed, exchanges the code
// (with the PKCE verifier) for tokens, and verifies the ID token and its nonce.
func (o *OIDC) Finish(ctx context.Context, redirectURL string, f Flow, state, code string) (Claims, error) {
	if f.State == "" || state != f.State {
		return Claims{}, fmt.Errorf("%w: the state does not match this browser's sign-in (start again)", ErrOIDC)
	}
	if code == "" {
		return Claims{}, fmt.Errorf("%w: the provider sent no code", ErrOIDC)
	}
	ctx = oidc.ClientContext(ctx, o.cfg.HTTPClient)
	tok, err := o.oauth(redirectURL).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Claims{}, fmt.Errorf("%w: the provider refused the code: %s", ErrOIDC, re.ErrorCode)
		}
		return Claims{}, fmt.Errorf("auth: oidc code exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Claims{}, fmt.Errorf("%w: the provider answered no id_token", ErrOIDC)
	}
	idt, err := o.login.Verify(ctx, raw)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: id token: %v", ErrOIDC, err)
	}
	if idt.Nonce != f.Nonce {
		return Claims{}, fmt.Errorf("%w: the id token's nonce does not match this sign-in", ErrOIDC)
	}
	return o.claims(idt)
}

// VerifyBearer verifies an ID token (or a JWT access token) sent as a bearer token:
// signature by the provider's keys, issuer, expiry, and an audience in Audiences.
func (o *OIDC) VerifyBearer(ctx context.Context, raw string) (Claims, error) {
	idt, err := o.bearer.Verify(oidc.ClientContext(ctx, o.cfg.HTTPClient), raw)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	if !slices.ContainsFunc(idt.Audience, func(a string) bool { return slices.Contains(o.cfg.Audiences, a) }) {
		return Claims{}, fmt.Errorf("%w: token audience %v is not one of %v", ErrBadToken, idt.Audience, o.cfg.Audiences)
	}
	c, err := o.claims(idt)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	return c, nil
}

// LooksLikeJWT reports whether a bearer token has the three-part shape of a JWT.
func LooksLikeJWT(s string) bool {
	return strings.Count(s, ".") == 2 && !strings.HasPrefix(s, tokenPrefix)
}

func (o *OIDC) oauth(redirectURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: redirectURL,
		Endpoint: o.provider.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, o.cfg.Scopes...)}
}

// claims reads the user and groups of a verified ID token.
func (o *OIDC) claims(idt *oidc.IDToken) (Claims, error) {
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return Claims{}, fmt.Errorf("%w: read claims: %v", ErrOIDC, err)
	}
	c := Claims{Subject: idt.Subject, Expiry: idt.Expiry}
	c.Email, _ = all["email"].(string)
	user, err := userClaim(all, o.cfg.UserClaim)
	if err != nil {
		return Claims{}, err
	}
	c.User = user
	c.Groups = groupsClaim(all[o.cfg.GroupsClaim])
	return c, nil
}

// userClaim returns the user name a token's claims give, or why there is none.
func userClaim(all map[string]any, claim string) (string, error) {
	user, _ := all[claim].(string)
	if user == "" {
		return "", fmt.Errorf("%w: the id token has no %q claim to name the user (see --oidc-user-claim)", ErrOIDC, claim)
	}
	if v, ok := all["email_verified"].(bool); claim == "email" && ok && !v {
		return "", fmt.Errorf("%w: the email %s is not verified by the provider", ErrOIDC, user)
	}
	if checkSubject(user) != nil || strings.HasPrefix(user, GroupPrefix) {
		return "", fmt.Errorf("%w: the %q claim %q is not a usable user name (no spaces or commas, no group: prefix)", ErrOIDC, claim, user)
	}
	return user, nil
}

// groupsClaim reads a groups claim: a list of strings or one string. Groups that
// could never be granted a role (with spaces or commas) are left out.
func groupsClaim(v any) []string {
	var raw []string
	switch g := v.(type) {
	case string:
		raw = []string{g}
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok {
				raw = append(raw, s)
			}
		}
	}
	var out []string
	for _, g := range raw {
		if checkSubject(GroupPrefix+g) == nil && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// ParseRoleMapping parses one --oidc-role value, GROUP=ROLE@ENV (ENV may be * for
// every environment), into a grant to group:GROUP. A subject that already names a
// user or group (user:NAME, group:NAME) is taken as it is.
func ParseRoleMapping(s string) (Grant, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 {
		return Grant{}, fmt.Errorf("oidc role %q: want GROUP=ROLE@ENVIRONMENT, e.g. sre=deployer@prod: %w", s, ErrInvalid)
	}
	subject, rest := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	role, env, ok := strings.Cut(rest, "@")
	if !ok || env == "" {
		return Grant{}, fmt.Errorf("oidc role %q: %q has no @ENVIRONMENT (use @* for every environment): %w", s, rest, ErrInvalid)
	}
	r, err := ParseRole(role)
	if err != nil {
		return Grant{}, fmt.Errorf("oidc role %q: %w", s, err)
	}
	if u, ok := strings.CutPrefix(subject, "user:"); ok {
		subject = u
	} else if !strings.HasPrefix(subject, GroupPrefix) {
		subject = GroupPrefix + subject
	}
	g := Grant{Subject: subject, Role: r, Environment: env, CreatedBy: "--oidc-role"}
	if err := CheckGrant(g); err != nil {
		return Grant{}, fmt.Errorf("oidc role %q: %w", s, err)
	}
	return g, nil
}

func randomString() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
