package ui_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserAudit: the audit log page is hidden from and refused to a viewer (the
// API answers 403 too); an admin sees it, filters it by who and what, and pages
// through it. The tab title names the page, and says an approval waits only to the
// person who may give it.
func TestBrowserAudit(t *testing.T) {
	chromium(t)
	s := startAuthUI(t)
	s.call(t, "POST", "/api/v1/apply?file=shop.yaml", s.admin, "application/yaml", uiFiles, nil)
	viewer, approver := s.tokenFor(t, "victor", "viewer"), s.tokenFor(t, "alice", "approver")
	var ex struct{ ID string }
	s.call(t, "POST", "/api/v1/workflows/shop/run", s.admin, "application/json", `{"variables":{"artifact":"shop:v9","bake":"1s"}}`, &ex)
	waitStatus(t, s, ex.ID, "waiting")
	var me struct{ User string }
	s.call(t, "GET", "/api/v1/whoami", s.admin, "", "", &me)

	// The API refuses the viewer.
	req, _ := http.NewRequest("GET", s.url+"/api/v1/audit", nil)
	req.Header.Set("Authorization", "Bearer "+viewer)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /api/v1/audit as a viewer: HTTP %d, want 403", res.StatusCode)
	}

	b := newBrowser(t, s.url)
	b.do("open", chromedp.EmulateViewport(1366, 900), chromedp.Navigate(s.url+"/executions"), chromedp.WaitVisible(css("#signin-form")))
	signIn(b, viewer)
	b.wait("signed in as victor", `document.querySelector('#whoami')?.textContent === 'Signed in as victor'`)
	b.wait("executions listed", `document.querySelector('#executions tbody tr') !== null`)
	var hidden bool
	b.eval(`document.querySelector('[data-nav="audit"]').hidden`, &hidden)
	if !hidden {
		b.fail("a viewer sees the Audit link")
	}
	if title := b.text("title"); title != "Executions · sluice" {
		b.fail("tab title %q, want the page named and no approval waiting for victor", title)
	}
	b.do("audit as viewer", chromedp.Navigate(s.url+"/audit"))
	b.wait("refused", `document.querySelector('#audit-error') !== null`)
	if msg := b.text("#audit-error"); !strings.Contains(msg, "Only admins") || !strings.Contains(msg, "admin") {
		b.fail("refusal shows %q", msg)
	}
	if n := b.count("#audit tbody tr"); n != 0 {
		b.fail("a viewer sees %d audit entries", n)
	}

	b.do("sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#signin-form")))
	signIn(b, s.admin)
	b.wait("audit link shown", `document.querySelector('[data-nav="audit"]')?.hidden === false`)
	b.do("audit", chromedp.Click(css(`[data-nav="audit"]`)))
	b.wait("entries", `document.querySelectorAll('#audit tbody tr').length >= 4`)
	b.wait("title", `document.title === 'Audit log · sluice'`)
	b.shot("audit-laptop-light")
	b.checkA11y("/audit as admin (light)")

	// Filter by what: only runs.
	b.do("filter run", chromedp.SendKeys(css(`input[name="action"]`), "run"), chromedp.Click(css(`.filters button[type="submit"]`)))
	b.wait("runs only", `location.search.includes('action=run') && document.querySelectorAll('#audit tbody tr').length === 1`)
	if got := b.text("#audit tbody tr td[data-label='Target']"); got != "execution/"+ex.ID {
		b.fail("the run entry targets %q, want execution/%s", got, ex.ID)
	}
	// Filter by who: nobody called mallory did anything.
	b.do("filter mallory", chromedp.Navigate(s.url+"/audit?actor=mallory"))
	b.wait("none", `document.querySelector('.list-note')?.textContent === 'No entries match.'`)

	// Pages of two entries: next, next, previous.
	b.do("paged", chromedp.Navigate(s.url+"/audit?actor="+me.User+"&limit=2"))
	b.wait("page 1", `document.querySelectorAll('#audit tbody tr').length === 2 && document.querySelector('#audit-next') !== null`)
	var page1, page2 []int
	b.eval(`[...document.querySelectorAll('#audit tbody tr')].map((r) => +r.dataset.seq)`, &page1)
	b.do("next", chromedp.Click(css("#audit-next")))
	b.wait("page 2", `document.querySelector('#audit-prev') !== null && document.querySelector('.list-note').textContent.startsWith('Entries 3')`)
	b.eval(`[...document.querySelectorAll('#audit tbody tr')].map((r) => +r.dataset.seq)`, &page2)
	if len(page1) != 2 || page1[0] <= page1[1] || len(page2) == 0 || page2[0] >= page1[1] {
		b.fail("page 2 %v does not follow page 1 %v, newest first", page2, page1)
	}
	b.do("previous", chromedp.Click(css("#audit-prev")))
	b.wait("page 1 again", fmt.Sprintf(`document.querySelector('#audit tbody tr')?.dataset.seq === '%d' && document.querySelector('#audit-prev') === null`, page1[0]))

	// alice may approve: her tab says so, with a dot on the icon.
	b.do("sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#signin-form")))
	signIn(b, approver)
	b.wait("approval waiting in the title", `document.title.startsWith('(1) Approval waiting · ')`)
	b.wait("favicon dot", `document.querySelector('link[rel="icon"]').href.startsWith('data:image/svg+xml')`)
	s.call(t, "POST", "/api/v1/executions/"+ex.ID+"/approve", approver, "application/json", `{}`, nil)
	b.wait("title cleared", `!document.title.includes('Approval waiting') && document.querySelector('link[rel="icon"]').href.endsWith('/favicon.svg')`)
	b.checkClean()
}

// count is how many elements match a selector.
func (b *browser) count(selector string) int {
	var n int
	b.eval(fmt.Sprintf(`document.querySelectorAll(%q).length`, selector), &n)
	return n
}
