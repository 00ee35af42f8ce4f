package ui_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/internal/server"
)

// authUI is a sluice server with authentication on, serving the UI itself, and the
// admin token it bootstrapped.
type authUI struct {
	url   string
	admin string
}

func startAuthUI(t *testing.T) *authUI {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin-token")
	addr := runServer(t, server.Config{DataDir: filepath.Join(dir, "data"),
		Security: server.Security{Auth: true, BootstrapTokenFile: tokenFile}})
	return &authUI{url: "http://" + addr, admin: bootstrapToken(t, tokenFile)}
}

// call makes one API request with a bearer token and decodes the JSON answer into out.
func (s *authUI) call(t *testing.T, method, path, token, ctype, body string, out any) {
	t.Helper()
	callJSON(t, method, s.url+path, "Authorization", "Bearer "+token, ctype, body, out)
}

// tokenFor makes an API token for user holding role in prod.
func (s *authUI) tokenFor(t *testing.T, user, role string) string {
	t.Helper()
	var tok struct{ Secret string }
	s.call(t, "POST", "/api/v1/tokens", s.admin, "application/json", fmt.Sprintf(`{"user":%q}`, user), &tok)
	s.call(t, "POST", "/api/v1/roles", s.admin, "application/json",
		fmt.Sprintf(`{"subject":%q,"role":%q,"environment":"prod"}`, user, role), nil)
	return tok.Secret
}

// TestBrowserSignIn runs the UI against a server that requires authentication: the
// first refused request opens the sign-in view, a viewer's approval is refused with
// the server's own message, signing out returns to the sign-in view, and an
// approver's approval from a notification's approve link (made with the session
// cookie and its CSRF header) is accepted.
func TestBrowserSignIn(t *testing.T) {
	chromium(t)
	s := startAuthUI(t)
	s.call(t, "POST", "/api/v1/apply?file=shop.yaml", s.admin, "application/yaml", uiFiles, nil)
	viewer, approver := s.tokenFor(t, "victor", "viewer"), s.tokenFor(t, "alice", "approver")
	var ex struct{ ID string }
	s.call(t, "POST", "/api/v1/workflows/shop/run", s.admin, "application/json", `{"variables":{"artifact":"shop:v9","bake":"1s"}}`, &ex)
	waitStatus(t, s, ex.ID, "waiting")

	b := newBrowser(t, s.url)
	b.do("open", chromedp.EmulateViewport(1366, 900), chromedp.Navigate(s.url+"/executions/"+ex.ID), chromedp.WaitVisible(css("#signin-form")))
	if !strings.Contains(b.text("#signin"), "sluice token create") {
		b.fail("the sign-in view does not say where tokens come from")
	}
	b.shot("signin-laptop-light")
	signIn(b, "sluice_000000000000_not-a-token")
	b.wait("bad token refused", `document.querySelector('#signin-error')?.textContent.startsWith('Sign-in refused')`)

	signIn(b, viewer)
	b.wait("page after sign-in", `!document.querySelector('#signin') && document.querySelector('[data-action="approve"]') !== null`)
	if got := b.text("#whoami"); got != "Signed in as victor" {
		b.fail("header shows %q", got)
	}
	var denied bool
	b.eval(`document.querySelector('[data-action="approve"]').hasAttribute('data-denied')`, &denied)
	if !denied {
		b.fail("a viewer's approve button is not greyed out")
	}
	b.do("approve as viewer", chromedp.Click(css(`[data-action="approve"]`)), chromedp.WaitVisible(css("#confirm-ok")),
		chromedp.SendKeys(css("#confirm-comment"), "lgtm"), chromedp.Click(css("#confirm-ok")))
	b.wait("refusal", `document.querySelector('#action-result')?.dataset.kind === 'error'`)
	if msg := b.text("#action-result"); !strings.Contains(msg, "victor") || !strings.Contains(msg, "approver") {
		b.fail("refusal shows %q, want the server's 403 message", msg)
	}
	b.shot("signin-refused-laptop-light")

	b.do("sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#signin-form")))
	if got := b.text("#signed-in"); got != "Not signed in" {
		b.fail("header after sign-out shows %q", got)
	}
	// The approve link of a notification, opened without a session: sign in, and the
	// approval dialog opens.
	b.do("open the approve link", chromedp.Navigate(s.url+"/executions/"+ex.ID+"?action=approve"), chromedp.WaitVisible(css("#signin-form")))
	signIn(b, approver)
	b.wait("signed in as alice", `document.querySelector('#whoami')?.textContent === 'Signed in as alice'`)
	b.wait("approve offered", `document.querySelector('[data-action="approve"]')?.hasAttribute('data-denied') === false`)
	b.do("approve as alice", chromedp.WaitVisible(css("#confirm-ok")),
		chromedp.SendKeys(css("#confirm-comment"), "signed in"), chromedp.Click(css("#confirm-ok")))
	b.wait("accepted", `document.querySelector('#action-result')?.dataset.kind === 'ok'`)
	b.wait("succeeded", `document.querySelector('#exec-status .badge')?.dataset.status === 'succeeded'`)
	if txt := b.text("#approvals"); !strings.Contains(txt, "Approved by alice") {
		b.fail("approvals show %q", txt)
	}
	b.shot("signin-approved-laptop-light")
	b.checkClean()
}

func signIn(b *browser, token string) {
	b.t.Helper()
	b.do("sign in", clear("#signin-token"), chromedp.SendKeys(css("#signin-token"), token), chromedp.Click(css("#signin-submit")))
}

// waitStatus polls the API until the execution has status want.
func waitStatus(t *testing.T, s *authUI, id, want string) {
	t.Helper()
	for i := 0; ; i++ {
		var got struct{ Status string }
		s.call(t, "GET", "/api/v1/executions/"+id, s.admin, "", "", &got)
		if got.Status == want {
			return
		}
		if i == 300 {
			t.Fatalf("execution %s never reached %s (status %s)", id, want, got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
