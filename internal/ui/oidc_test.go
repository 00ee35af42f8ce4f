package ui_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/auth/oidctest"
	"github.com/sluicehq/sluice/internal/server"
)

// startSSOUI is a sluice server with authentication and single sign-on against the
// provider of scripts/oidc.sh, whose groups hold roles in prod.
func startSSOUI(t *testing.T, p oidctest.Provider) *authUI {
	t.Helper()
	var roles []auth.Grant
	for _, m := range []string{"sluice-viewers=viewer@prod", "sluice-deployers=deployer@prod", "sluice-approvers=approver@prod"} {
		g, err := auth.ParseRoleMapping(m)
		if err != nil {
			t.Fatal(err)
		}
		roles = append(roles, g)
	}
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin-token")
	addr := runServer(t, server.Config{DataDir: filepath.Join(dir, "data"),
		Security: server.Security{Auth: true, BootstrapTokenFile: tokenFile, OIDC: &auth.OIDCConfig{
			Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret, Roles: roles}}})
	return &authUI{url: "http://" + addr, admin: bootstrapToken(t, tokenFile)}
}

// TestBrowserSSO signs in through the real provider's login form with "Sign in with
// SSO": the browser comes back to the execution it was on, signed in by email with the
// role of the user's group. A member of the viewers group sees the approve button
// greyed out and is refused by the server; after signing out, a member of the
// approvers group approves from the same page (the step names the group) and the
// execution succeeds.
func TestBrowserSSO(t *testing.T) {
	chromium(t)
	p := oidctest.Find(t)
	s := startSSOUI(t, p)
	// The approval step names the provider's group, not a person.
	files := strings.Replace(uiFiles, "approvers: [alice]", "approvers: [group:sluice-approvers]", 1)
	if files == uiFiles {
		t.Fatal("the UI workflow has no approvers: [alice] to replace")
	}
	s.call(t, "POST", "/api/v1/apply?file=shop.yaml", s.admin, "application/yaml", files, nil)
	var ex struct{ ID string }
	s.call(t, "POST", "/api/v1/workflows/shop/run", s.admin, "application/json", `{"variables":{"artifact":"shop:v9","bake":"1s"}}`, &ex)
	waitStatus(t, s, ex.ID, "waiting")

	b := newBrowser(t, s.url)
	b.do("open", chromedp.EmulateViewport(1366, 900), chromedp.Navigate(s.url+"/executions/"+ex.ID), chromedp.WaitVisible(css("#signin-sso")))
	b.shot("signin-sso-laptop-light")
	ssoSignIn(b, p, oidctest.Viewer)
	waitBack(b, s.url+"/executions/"+ex.ID)
	b.wait("the execution", `document.querySelector('[data-action="approve"]') !== null`)
	b.wait("signed in as vera", `document.querySelector('#whoami')?.textContent === 'Signed in as vera@example.com'`)
	if roles := b.text(".signed-in .roles"); roles != "viewer in prod" {
		b.fail("roles shown: %q, want viewer in prod", roles)
	}
	// (The page may have drawn the buttons before it learnt the roles; it draws
	// them again when it does.)
	b.wait("a viewer's approve button greyed out", `document.querySelector('[data-action="approve"]').hasAttribute('data-denied')`)
	b.do("approve as viewer", chromedp.Click(css(`[data-action="approve"]`)), chromedp.WaitVisible(css("#confirm-ok")),
		chromedp.SendKeys(css("#confirm-comment"), "lgtm"), chromedp.Click(css("#confirm-ok")))
	b.wait("refusal", `document.querySelector('#action-result')?.dataset.kind === 'error'`)
	if msg := b.text("#action-result"); !strings.Contains(msg, "vera@example.com") || !strings.Contains(msg, "approver") {
		b.fail("refusal shows %q, want the server's 403 message", msg)
	}

	b.do("sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#signin-sso")))
	ssoSignIn(b, p, oidctest.Approver)
	waitBack(b, s.url+"/executions/"+ex.ID)
	b.wait("signed in as abe", `document.querySelector('#whoami')?.textContent === 'Signed in as abe@example.com'`)
	b.wait("approve offered", `document.querySelector('[data-action="approve"]')?.hasAttribute('data-denied') === false`)
	b.do("approve as abe", chromedp.Click(css(`[data-action="approve"]`)), chromedp.WaitVisible(css("#confirm-ok")),
		chromedp.SendKeys(css("#confirm-comment"), "via sso"), chromedp.Click(css("#confirm-ok")))
	b.wait("accepted", `document.querySelector('#action-result')?.dataset.kind === 'ok'`)
	b.wait("succeeded", `document.querySelector('#exec-status .badge')?.dataset.status === 'succeeded'`)
	if txt := b.text("#approvals"); !strings.Contains(txt, "Approved by abe@example.com") {
		b.fail("approvals show %q", txt)
	}
	b.checkClean()
}

// waitBack waits until the browser, sent through the provider and sluice's callback,
// shows the page at want. Polling the page itself would fail while it navigates.
func waitBack(b *browser, want string) {
	b.t.Helper()
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState === 'complete' ? location.href : ''`))
		cancel()
		if err == nil && loc == want {
			return
		}
		if err == nil && loc != "" {
			last = loc
		}
	}
	b.fail("the browser did not come back to %s; last at %s", want, last)
}

// ssoSignIn clicks "Sign in with SSO" and fills in the provider's own login form.
func ssoSignIn(b *browser, p oidctest.Provider, user string) {
	b.t.Helper()
	b.do("sign in with SSO as "+user, chromedp.Click(css("#signin-sso")), chromedp.WaitVisible(css("#username")),
		chromedp.SendKeys(css("#username"), user), chromedp.SendKeys(css("#password"), p.Password),
		chromedp.Click(css(`button[type="submit"]`)))
}
