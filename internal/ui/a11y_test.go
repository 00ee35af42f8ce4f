package ui_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core (testdata/axe), read once.
var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("testdata/axe/axe.min.js")
	return string(b), err
})

// axeRun runs axe-core on the page and answers its serious and critical violations,
// one line each: rule, impact, help and the first offending elements.
const axeRun = `(async () => {
  const r = await axe.run(document, { resultTypes: ['violations'] });
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.slice(0, 4).map((n) => n.target.join(' ') + (n.any[0] ? ' [' + n.any[0].message + ']' : '')).join(', '));
})()`

// checkA11y injects axe-core into the page and fails on any serious or critical
// violation (WCAG 2.x A and AA rules, contrast included).
func (b *browser) checkA11y(page string) {
	b.t.Helper()
	src, err := axeSource()
	if err != nil {
		b.t.Fatalf("axe-core: %v", err)
	}
	var injected bool
	b.eval(`typeof axe !== 'undefined'`, &injected)
	if !injected {
		b.eval(src+"\n;true", nil)
	}
	var violations []string
	b.eval(axeRun, &violations)
	if len(violations) > 0 {
		b.t.Errorf("%s: %d serious or critical accessibility violations:\n%s", page, len(violations), strings.Join(violations, "\n"))
	}
}

// TestBrowserAccessibility visits every page in the light and the dark theme, with
// an execution waiting for approval, one finished with measurement charts, and
// injects axe-core into each: no serious or critical violation may remain.
func TestBrowserAccessibility(t *testing.T) {
	chromium(t)
	s := startSluiceUI(t)
	s.call(t, "POST", "/api/v1/apply?file=shop.yaml", "alice", "application/yaml", uiFiles, nil)
	var done, waiting struct{ ID string }
	s.call(t, "POST", "/api/v1/workflows/shop/run", "alice", "application/json", `{"variables":{"artifact":"shop:v1","bake":"100ms"}}`, &done)
	waitExec(t, s, done.ID, "waiting")
	s.call(t, "POST", "/api/v1/executions/"+done.ID+"/approve", "alice", "application/json", `{}`, nil)
	waitExec(t, s, done.ID, "succeeded")
	s.call(t, "POST", "/api/v1/workflows/shop/run", "alice", "application/json", `{"variables":{"artifact":"shop:v2","bake":"100ms"}}`, &waiting)
	waitExec(t, s, waiting.ID, "waiting")

	// A step that fails and pauses for a person: Retry is the primary action.
	s.call(t, "POST", "/api/v1/apply?file=flaky.yaml", "alice", "application/yaml", flakyFiles, nil)
	var paused struct{ ID string }
	s.call(t, "POST", "/api/v1/workflows/flaky/run", "alice", "application/json", `{}`, &paused)
	waitExec(t, s, paused.ID, "paused")

	b := newBrowser(t, s.url)
	b.do("open", chromedp.EmulateViewport(1366, 900), chromedp.Navigate(s.url+"/executions"))
	b.setUser("alice")
	pages := []struct{ path, ready, extra string }{
		{"/executions", `document.querySelector('#executions tbody tr') !== null`, ""},
		{"/executions/" + waiting.ID, `document.querySelector('[data-action="approve"]') !== null`, ""},
		{"/executions/" + done.ID, `document.querySelector('#exec-status .badge')?.dataset.status === 'succeeded'`, feedMeasurements},
		{"/executions/" + paused.ID, `document.querySelector('[data-action="retry"]') !== null`, ""},
		{"/executions/" + done.ID + "/report", `document.querySelector('main h1') !== null && !document.body.textContent.includes('Loading')`, ""},
		{"/workflows", `document.querySelector('#workflows') !== null`, ""},
		{"/workflows/shop", `document.querySelector('.phases') !== null`, ""},
		{"/workflows/shop/run", `document.querySelector('#run-form') !== null`, ""},
		{"/environments", `document.querySelector('.env') !== null`, ""},
		{"/services", `document.querySelector('#services tbody tr') !== null`, ""},
		{"/services/prod/shop", `document.querySelector('#releases tbody tr') !== null`, ""},
		{"/audit", `document.querySelector('#audit tbody tr') !== null`, ""},
		{"/no-such-page", `document.querySelector('main h1') !== null`, ""},
	}
	for _, scheme := range []string{"light", "dark"} {
		b.do(scheme, colourScheme(scheme))
		for _, p := range pages {
			b.do(p.path, chromedp.Navigate(s.url+p.path))
			b.wait(p.path, p.ready)
			if p.extra != "" {
				b.eval(p.extra, nil)
			}
			b.checkA11y(fmt.Sprintf("%s (%s)", p.path, scheme))
		}
	}
	retryFirst(b, s.url+"/executions/"+paused.ID)
	b.checkClean()
}

// flakyFiles is a workflow whose check fails (nothing listens on port 9) and pauses
// for a person.
const flakyFiles = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: flaky}
spec:
  environment: prod
  service: {name: cart, port: 8080, artifact: "cart:v1"}
  phases:
    - name: check
      steps:
        - deploy: {instances: 1}
        - name: smoke
          onFailure: pause
          webhook: {url: "http://127.0.0.1:9/", method: GET}
`

// retryFirst checks that after a failed step Retry is the first and only highlighted
// action, Resume is offered second and says it skips the step, and the phase and step
// read as they are: the phase paused (not running), the step failed in its name.
func retryFirst(b *browser, url string) {
	b.t.Helper()
	b.do("paused execution", chromedp.Navigate(url))
	b.wait("actions", `document.querySelector('[data-action="retry"]') !== null`)
	var got []string
	b.eval(`[...document.querySelectorAll('#actions button')].map((el) => el.dataset.action + (el.classList.contains('btn-primary') ? '*' : '') + ':' + el.textContent)`, &got)
	want := []string{"retry*:Retry step", "skip:Skip failed step and resume", "rollback:Roll back", "abort:Abort"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		b.fail("actions after a failed step %q, want %q", got, want)
	}
	var phase, step string
	b.eval(`document.querySelector('[data-phase="0"]').dataset.status`, &phase)
	b.eval(`document.querySelector('button.step[data-status="failed"] .step-status')?.textContent ?? ''`, &step)
	if phase != "paused" || step != ", failed" {
		b.fail("phase reads %q (want paused), failed step's name part %q", phase, step)
	}
}
