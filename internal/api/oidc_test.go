package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/auth/oidctest"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// newOIDCHarness is the API with authentication, the audit log and single sign-on
// against the provider of scripts/oidc.sh; its groups map to roles in staging.
func newOIDCHarness(t *testing.T) (*authHarness, oidctest.Provider) {
	t.Helper()
	p := oidctest.Find(t)
	ctx := context.Background()
	var roles []auth.Grant
	for _, m := range []string{"sluice-viewers=viewer@staging", "sluice-deployers=deployer@staging", "sluice-approvers=approver@staging"} {
		g, err := auth.ParseRoleMapping(m)
		if err != nil {
			t.Fatal(err)
		}
		roles = append(roles, g)
	}
	o, err := auth.NewOIDC(ctx, auth.OIDCConfig{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	svc := auth.New(st, auth.WithClock(func() time.Time { return clock }), auth.WithGrants(o.Grants()...))
	h := &authHarness{harness: &harness{t: t, store: st, spy: &engineSpy{}}, auth: svc, sqlite: st, tokens: map[string]string{}}
	h.broker = events.New(st, events.WithPollInterval(0))
	h.srv = httptest.NewServer(api.New(api.Deps{Store: st, Engine: h.spy, Broker: h.broker, Auth: svc, Audit: st, OIDC: o,
		Now: func() time.Time { return clock }, Heartbeat: 20 * time.Millisecond, StatusPoll: 50 * time.Millisecond}))
	t.Cleanup(func() {
		h.srv.Close()
		_ = st.Close()
	})
	h.user("root", auth.RoleAdmin, "*")
	h.seedDefinitions()
	return h, p
}

// TestOIDCBearer sends ID tokens from the real provider as bearer tokens: each user
// holds the role its groups map to, a viewer cannot run what a deployer can, the audit
// entry names the deployer's email and subject, and a token for another client, a
// forged one and a malformed one are refused.
func TestOIDCBearer(t *testing.T) {
	h, p := newOIDCHarness(t)
	ctx := context.Background()
	vera, dora := p.IDToken(ctx, t, "", oidctest.Viewer), p.IDToken(ctx, t, "", oidctest.Deployer)

	code, b := h.do("GET", "/api/v1/whoami", "", "Authorization: Bearer "+vera)
	var who api.WhoAmI
	if err := json.Unmarshal(b, &who); code != http.StatusOK || err != nil {
		t.Fatalf("whoami: %d %s", code, b)
	}
	if who.User != "vera@example.com" || who.Method != auth.MethodOIDC || len(who.Grants) != 1 ||
		who.Grants[0].Role != "viewer" || who.Grants[0].Environment != "staging" {
		t.Errorf("whoami = %+v", who)
	}

	run := func(tok string) (int, []byte) {
		return h.do("POST", "/api/v1/workflows/checkout/run", `{"variables":{"version":"v2"}}`,
			"Authorization: Bearer "+tok, "Content-Type: application/json")
	}
	if code, b := run(vera); code != http.StatusForbidden || !strings.Contains(string(b), "vera@example.com") {
		t.Errorf("a viewer's run: %d %s, want 403 naming her", code, b)
	}
	if code, b := run(dora); code >= 300 {
		t.Fatalf("a deployer's run: %d %s", code, b)
	}
	entries, err := h.sqlite.ListAudit(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Action == "run" && e.Outcome == audit.OutcomeOK {
			found = e.Actor == "dora@example.com" && e.Method == auth.MethodOIDC && e.TokenID == "oidc:u-dora"
			if !found {
				t.Errorf("audit entry of the run = %+v, want dora's email and subject", e)
			}
		}
	}
	if !found {
		t.Error("no audit entry for the deployer's run")
	}

	other := p.IDToken(ctx, t, oidctest.OtherClient, oidctest.Approver)
	// dora's token with vera's email and an admin group, under dora's signature.
	parts := strings.Split(dora, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = []byte(strings.Replace(strings.Replace(string(payload), "dora@", "vera@", 1), `"staff"`, `"sluice-admins"`, 1))
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	if forged == dora {
		t.Fatal("the forged token is the real one")
	}
	for name, tok := range map[string]string{"wrong audience": other, "forged": forged, "not a token": "x.y.z"} {
		t.Run(name, func(t *testing.T) {
			if code, b := h.do("GET", "/api/v1/whoami", "", "Authorization: Bearer "+tok); code != http.StatusUnauthorized {
				t.Errorf("got %d %s, want 401", code, b)
			}
			if code, _ := run(tok); code != http.StatusUnauthorized {
				t.Errorf("run: got %d, want 401", code)
			}
		})
	}
}

// TestOIDCCodeFlow signs in through the API's code flow without a browser: the login
// route sends the caller to the provider with a PKCE challenge, the provider's form
// sends them back with a code, and the callback makes a web session for the user
// with the roles of their groups. A callback with another sign-in's flow cookie, with
// none, or with a used code is refused, and the return path never leaves the server.
func TestOIDCCodeFlow(t *testing.T) {
	h, p := newOIDCHarness(t)
	flow, callback := startSignIn(t, h, p, oidctest.Deployer, "/executions/e-1?action=approve")

	code, page, cookies := get(t, callback, flow)
	if code != http.StatusOK || !strings.Contains(page, `content="0;url=/executions/e-1?action=approve"`) {
		t.Fatalf("callback: %d %s", code, page)
	}
	session, csrf := cookieValue(cookies, api.SessionCookie), cookieValue(cookies, api.CSRFCookie)
	if session == "" || csrf == "" {
		t.Fatalf("callback set no session cookies: %v", cookies)
	}
	code, b := h.do("GET", "/api/v1/whoami", "", "Cookie: "+api.SessionCookie+"="+session)
	var who api.WhoAmI
	if err := json.Unmarshal(b, &who); code != http.StatusOK || err != nil {
		t.Fatalf("whoami: %d %s", code, b)
	}
	if who.User != "dora@example.com" || who.Method != auth.MethodSession || len(who.Grants) != 1 || who.Grants[0].Role != "deployer" {
		t.Errorf("whoami = %+v", who)
	}
	code, b = h.do("POST", "/api/v1/workflows/checkout/run", `{"variables":{"version":"v3"}}`, "Content-Type: application/json",
		"Cookie: "+api.SessionCookie+"="+session, api.HeaderCSRF+": "+csrf)
	if code >= 300 {
		t.Fatalf("a deployer's run with the SSO session: %d %s", code, b)
	}
	entries, err := h.sqlite.ListAudit(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var login bool
	for _, e := range entries {
		if e.Action == "login" {
			login = e.Actor == "dora@example.com" && strings.Contains(e.Summary, "subject u-dora of "+p.Issuer)
			if !login {
				t.Errorf("audit entry of the sign-in = %+v", e)
			}
		}
	}
	if !login {
		t.Error("no audit entry for the sign-in")
	}

	t.Run("code used twice", func(t *testing.T) {
		if code, page, _ := get(t, callback, flow); code != http.StatusUnauthorized || !strings.Contains(page, "refused") {
			t.Errorf("replayed callback: %d %s", code, page)
		}
	})
	t.Run("another sign-in's flow cookie", func(t *testing.T) {
		other, _ := startSignIn(t, h, p, oidctest.Viewer, "/")
		_, cb := startSignIn(t, h, p, oidctest.Viewer, "/")
		if code, page, _ := get(t, cb, other); code != http.StatusUnauthorized || !strings.Contains(page, "state does not match") {
			t.Errorf("callback with a foreign state: %d %s", code, page)
		}
	})
	t.Run("no flow cookie", func(t *testing.T) {
		_, cb := startSignIn(t, h, p, oidctest.Viewer, "/")
		if code, page, _ := get(t, cb, nil); code != http.StatusBadRequest || !strings.Contains(page, "not started in this browser") {
			t.Errorf("callback without the flow cookie: %d %s", code, page)
		}
	})
	t.Run("return to another site", func(t *testing.T) {
		for _, ret := range []string{"//evil.example/x", "https://evil.example/", `/\evil.example`} {
			f, cb := startSignIn(t, h, p, oidctest.Viewer, ret)
			if code, page, _ := get(t, cb, f); code != http.StatusOK || !strings.Contains(page, `content="0;url=/"`) {
				t.Errorf("return %q: %d %s", ret, code, page)
			}
		}
	})
	t.Run("info", func(t *testing.T) {
		code, b := h.do("GET", "/api/v1/oidc", "")
		var info api.OIDCInfo
		if err := json.Unmarshal(b, &info); code != http.StatusOK || err != nil || !info.Enabled || info.LoginURL != "/api/v1/oidc/login" {
			t.Errorf("GET /api/v1/oidc: %d %s", code, b)
		}
	})
}

// startSignIn opens the login route for user and returns sluice's flow cookie and the
// callback URL the provider sent the browser back to, after its login form.
func startSignIn(t *testing.T, h *authHarness, p oidctest.Provider, user, ret string) (*http.Cookie, string) {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(h.srv.URL + "/api/v1/oidc/login?return=" + url.QueryEscape(ret))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var flow *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == api.OIDCFlowCookie {
			flow = c
		}
	}
	to := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || flow == nil || !strings.HasPrefix(to, p.Issuer) ||
		!strings.Contains(to, "code_challenge_method=S256") || !strings.Contains(to, "nonce=") {
		t.Fatalf("login: %d to %q with cookie %v", res.StatusCode, to, flow)
	}
	if !flow.HttpOnly || !flow.Secure || flow.SameSite != http.SameSiteLaxMode {
		t.Errorf("flow cookie %v: want HttpOnly, Secure, SameSite=Lax", flow)
	}
	res, err = http.Get(to) // the provider's own redirects, to its login form
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(form)
	if m == nil {
		t.Fatalf("no login form: %s", form)
	}
	toSluice := &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), h.srv.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err = toSluice.PostForm(p.Issuer+"/login/username", url.Values{"id": {string(m[1])}, "username": {user}, "password": {p.Password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cb := res.Header.Get("Location")
	if !strings.HasPrefix(cb, h.srv.URL+"/api/v1/oidc/callback?") {
		t.Fatalf("the provider sent the browser to %q (HTTP %d)", cb, res.StatusCode)
	}
	return flow, cb
}

// get requests u with the flow cookie and returns the status, page and cookies set.
func get(t *testing.T, u string, flow *http.Cookie) (int, string, []*http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if flow != nil {
		req.AddCookie(&http.Cookie{Name: flow.Name, Value: flow.Value})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Cookies()
}

func cookieValue(cs []*http.Cookie, name string) string {
	for _, c := range cs {
		if c.Name == name && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}
