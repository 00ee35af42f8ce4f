package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sluicehq/sluice/internal/auth/oidctest"
)

func TestParseRoleMapping(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Grant
		err  string
	}{
		{in: "sre=deployer@prod", want: Grant{Subject: "group:sre", Role: RoleDeployer, Environment: "prod"}},
		{in: "admins=admin@*", want: Grant{Subject: "group:admins", Role: RoleAdmin, Environment: "*"}},
		{in: "user:alice@example.com=approver@staging", want: Grant{Subject: "alice@example.com", Role: RoleApprover, Environment: "staging"}},
		{in: "group:ops=Viewer@prod", want: Grant{Subject: "group:ops", Role: RoleViewer, Environment: "prod"}},
		{in: "sre", err: "want GROUP=ROLE@ENVIRONMENT"},
		{in: "=viewer@prod", err: "want GROUP=ROLE@ENVIRONMENT"},
		{in: "sre=viewer", err: "no @ENVIRONMENT"},
		{in: "sre=viewer@", err: "no @ENVIRONMENT"},
		{in: "sre=boss@prod", err: "unknown role"},
		{in: "my team=viewer@prod", err: "no commas or spaces"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			g, err := ParseRoleMapping(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				if !strings.Contains(err.Error(), tc.in) {
					t.Errorf("error %q does not name the value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Subject != tc.want.Subject || g.Role != tc.want.Role || g.Environment != tc.want.Environment {
				t.Errorf("got %+v, want %+v", g, tc.want)
			}
		})
	}
}

func TestOIDCConfigCheck(t *testing.T) {
	ok := OIDCConfig{Issuer: "https://id.example.com", ClientID: "sluice", ClientSecret: "s"}
	for _, tc := range []struct {
		name string
		edit func(*OIDCConfig)
		want string
	}{
		{"no issuer", func(c *OIDCConfig) { c.Issuer = "" }, "--oidc-issuer"},
		{"not a URL", func(c *OIDCConfig) { c.Issuer = "id.example.com" }, "want an http(s) URL"},
		{"no client", func(c *OIDCConfig) { c.ClientID = "" }, "--oidc-client-id"},
		{"no secret", func(c *OIDCConfig) { c.ClientSecret = "" }, "--oidc-client-secret-file"},
		{"bad grant", func(c *OIDCConfig) { c.Roles = []Grant{{Subject: "group:x", Role: "boss", Environment: "prod"}} }, "unknown role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			_, err := NewOIDC(context.Background(), c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestGroupsClaim(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want []string
	}{
		{[]any{"a", "b", "a"}, []string{"a", "b"}},
		{"solo", []string{"solo"}},
		{[]any{"ok", "with space", "a,b", 7}, []string{"ok"}},
		{nil, nil},
		{map[string]any{"x": 1}, nil},
	} {
		if got := groupsClaim(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("groupsClaim(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestUserClaim(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims map[string]any
		claim  string
		want   string
		err    string
	}{
		{"verified email", map[string]any{"email": "a@x.io", "email_verified": true}, "email", "a@x.io", ""},
		{"unverified email", map[string]any{"email": "a@x.io", "email_verified": false}, "email", "", "not verified"},
		{"no claim", map[string]any{"sub": "1"}, "email", "", `no "email" claim`},
		{"sub", map[string]any{"sub": "1234"}, "sub", "1234", ""},
		{"group prefix", map[string]any{"preferred_username": "group:admins"}, "preferred_username", "", "not a usable user name"},
		{"space", map[string]any{"name": "Ann Lee"}, "name", "", "not a usable user name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := userClaim(tc.claims, tc.claim)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// newTestOIDC connects to the provider of scripts/oidc.sh.
func newTestOIDC(t *testing.T) (*OIDC, oidctest.Provider) {
	t.Helper()
	p := oidctest.Find(t)
	o, err := NewOIDC(context.Background(), OIDCConfig{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	return o, p
}

// TestVerifyBearer checks ID tokens from the real provider: a good one names the user
// by email with the provider's groups; a token for another client, an expired one,
// one with a changed payload and one signed by another key are all refused.
func TestVerifyBearer(t *testing.T) {
	o, p := newTestOIDC(t)
	ctx := context.Background()
	good := p.IDToken(ctx, t, "", oidctest.Deployer)
	c, err := o.VerifyBearer(ctx, good)
	if err != nil {
		t.Fatalf("a good token is refused: %v", err)
	}
	if c.User != oidctest.Email(oidctest.Deployer) || c.Subject == "" || !slices.Equal(c.Groups, []string{"sluice-deployers", "staff"}) {
		t.Errorf("claims = %+v", c)
	}
	if !LooksLikeJWT(good) || LooksLikeJWT("sluice_0123456789ab_x.y.z") {
		t.Error("LooksLikeJWT is wrong")
	}

	other := p.IDToken(ctx, t, oidctest.OtherClient, oidctest.Deployer)
	forged := tamper(t, good, func(claims map[string]any) { claims["groups"] = []any{"sluice-admins"} })
	selfSigned := signOwn(t, good)
	for name, tok := range map[string]string{"wrong audience": other, "changed payload": forged, "own key": selfSigned, "garbage": "a.b.c"} {
		t.Run(name, func(t *testing.T) {
			if _, err := o.VerifyBearer(ctx, tok); !errors.Is(err, ErrBadToken) {
				t.Fatalf("err = %v, want ErrBadToken", err)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		o.now = func() time.Time { return c.Expiry.Add(time.Hour) }
		defer func() { o.now = time.Now }()
		_, err := o.VerifyBearer(ctx, good)
		if !errors.Is(err, ErrBadToken) || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("err = %v, want an expired token refused", err)
		}
	})
	t.Run("second audience", func(t *testing.T) {
		o2, err := NewOIDC(ctx, OIDCConfig{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			Audiences: []string{p.ClientID, oidctest.OtherClient}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o2.VerifyBearer(ctx, other); err != nil {
			t.Fatalf("a token for a listed audience is refused: %v", err)
		}
	})
}

// tamper changes a JWT's payload and keeps its signature.
func tamper(t *testing.T, jwt string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	edit(claims)
	b, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// signOwn signs the claims of jwt with a fresh key under the provider's key id.
func signOwn(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct{ Kid string }
	_ = json.Unmarshal(hdr, &h)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: h.Kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
