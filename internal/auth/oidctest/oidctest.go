package oidctest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Test users of scripts/oidc.sh and their groups.
const (
	Viewer   = "vera" // vera@example.com, group sluice-viewers
	Deployer = "dora" // dora@example.com, groups sluice-deployers and staff
	Approver = "abe"  // abe@example.com, group sluice-approvers
	NoGroups = "nora" // nora@example.com, no groups
	// OtherClient is a second client of the provider: its ID tokens have the wrong
	// audience for sluice.
	OtherClient = "other"
)

// Provider is the running test provider.
type Provider struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Password     string // every test user's password
}

// Email returns the email of a test user.
func Email(user string) string { return user + "@example.com" }

// Find returns the provider scripts/oidc.sh started (its SLUICE_TEST_OIDC_* exports).
// Without one the test skips locally and fails under CI=true.
func Find(t testing.TB) Provider {
	t.Helper()
	p := Provider{Issuer: os.Getenv("SLUICE_TEST_OIDC_ISSUER"), ClientID: os.Getenv("SLUICE_TEST_OIDC_CLIENT_ID"),
		ClientSecret: os.Getenv("SLUICE_TEST_OIDC_CLIENT_SECRET"), Password: os.Getenv("SLUICE_TEST_OIDC_PASSWORD")}
	if p.Issuer == "" || p.ClientID == "" || p.ClientSecret == "" || p.Password == "" {
		msg := `no OIDC provider: run eval "$(scripts/oidc.sh start)" first`
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// IDToken signs user in at the provider as client (sluice's own client when empty)
// with the authorization-code flow and PKCE, filling in the provider's login form
// over HTTP, and returns the ID token it issues.
func (p Provider) IDToken(ctx context.Context, t testing.TB, client, user string) string {
	t.Helper()
	tok, err := p.idToken(ctx, client, user)
	if err != nil {
		t.Fatalf("oidctest: sign %s in as client %q: %v", user, client, err)
	}
	return tok
}

func (p Provider) idToken(ctx context.Context, client, user string) (string, error) {
	cfg, redirect := p.oauth(ctx, client)
	if cfg == nil {
		return "", fmt.Errorf("discovery of %s failed", p.Issuer)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirect) {
			return http.ErrUseLastResponse // the code is for us, not for a server
		}
		return nil
	}}
	state, verifier := random(), oauth2.GenerateVerifier()
	res, err := hc.Get(cfg.AuthCodeURL(state, oidc.Nonce(random()), oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return "", err
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		return "", fmt.Errorf("no login form at %s (HTTP %d): %.300s", res.Request.URL, res.StatusCode, page)
	}
	form := url.Values{"id": {string(m[1])}, "username": {user}, "password": {p.Password}}
	res, err = hc.PostForm(res.Request.URL.ResolveReference(&url.URL{Path: "/login/username"}).String(), form)
	if err != nil {
		return "", err
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != state {
		return "", fmt.Errorf("login answered HTTP %d to %q, want a redirect with a code", res.StatusCode, res.Header.Get("Location"))
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return "", fmt.Errorf("exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", fmt.Errorf("the token answer has no id_token")
	}
	return raw, nil
}

// oauth returns the client's configuration and a redirect URI the provider accepts.
func (p Provider) oauth(ctx context.Context, client string) (*oauth2.Config, string) {
	op, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		return nil, ""
	}
	cfg := &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: op.Endpoint(),
		RedirectURL: "http://127.0.0.1:1/api/v1/oidc/callback", Scopes: []string{oidc.ScopeOpenID, "email", "profile", "groups"}}
	if client == OtherClient {
		cfg.ClientID, cfg.ClientSecret, cfg.RedirectURL = OtherClient, p.ClientSecret+"-other", "http://127.0.0.1:1/callback"
	}
	return cfg, cfg.RedirectURL
}

func random() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
