package ui_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sluicehq/sluice/internal/secrets"
)

// TestBrowserBuilderRoles signs in as a viewer, who sees no New or Edit buttons and
// no Save in the builder, and whose save through the UI's own API call is refused by
// the server anyway; an admin sees the buttons.
func TestBrowserBuilderRoles(t *testing.T) {
	chromium(t)
	s := startAuthUI(t)
	s.call(t, "POST", "/api/v1/apply?file=shop.yaml", s.admin, "application/yaml", uiFiles, nil)
	viewer := s.tokenFor(t, "victor", "viewer")

	b := newBrowser(t, s.url)
	b.do("open", chromedp.Navigate(s.url+"/workflows/shop"), chromedp.WaitVisible(css("#signin-form")))
	signIn(b, viewer)
	b.wait("workflow page", `document.querySelector('a[href="/workflows/shop/run"]') !== null`)
	b.wait("no edit button for a viewer", `document.querySelector('[data-edit]') === null`)
	b.do("environments", chromedp.Navigate(s.url+"/environments"), chromedp.WaitVisible(css(`[data-env="prod"]`)))
	b.wait("no new or edit button for a viewer", `document.querySelector('[data-edit]') === null`)

	b.do("builder", chromedp.Navigate(s.url+"/workflows/shop/edit"), chromedp.WaitVisible(css("#builder-form")))
	if got := b.text("#builder-readonly"); !strings.Contains(got, "needs admin") || !strings.Contains(got, "victor") {
		b.fail("the builder tells a viewer %q", got)
	}
	var hasSave bool
	b.eval(`document.querySelector('#builder-save') !== null`, &hasSave)
	if hasSave {
		b.fail("a viewer is offered Save")
	}
	// The server refuses the builder's own save call, whatever the page shows.
	var status float64
	b.eval(fmt.Sprintf(`import('/js/api.js').then((m) => m.api.applyYAML('builder.yaml', %q, false)).then(() => 0, (e) => e.status)`,
		strings.Replace(strings.SplitN(uiFiles, "---\n", 2)[1], "friends.", "friends, changed.", 1)), &status)
	if status != 403 {
		b.fail("a viewer's save answered %v, want 403", status)
	}
	var wf struct{ Version int }
	s.call(t, "GET", "/api/v1/workflows/shop", s.admin, "", "", &wf)
	if wf.Version != 1 {
		t.Fatalf("the workflow is at v%d after a viewer's refused save", wf.Version)
	}

	b.do("sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#signin-form")))
	signIn(b, s.admin)
	b.do("workflow page as admin", chromedp.Navigate(s.url+"/workflows/shop"))
	b.wait("edit button for an admin", `document.querySelector('[data-edit]')?.hidden === false`)
	b.do("builder as admin", chromedp.Click(css("[data-edit]")), chromedp.WaitVisible(css("#builder-save")))
	b.checkClean()
}

// TestBrowserBuilderNeverPostsRedacted opens an environment whose source the server
// answers with a secret masked: the builder flags the placeholder at its line and
// column and refuses to save it, so the mask never replaces the real value.
func TestBrowserBuilderNeverPostsRedacted(t *testing.T) {
	chromium(t)
	const secret = "hunter2-builder-secret"
	secrets.Default.Add(secret)
	s := startSluiceUI(t)
	env := `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata:
  name: prod
spec:
  platform: {type: recorder, recorder: {file: effects.jsonl}}
  router: {type: recorder, recorder: {file: effects.jsonl}}
  providers:
    - name: metrics
      type: prometheus
      url: http://prometheus:9090
      settings:
        header.X-Org: ` + secret + `
`
	s.call(t, "POST", "/api/v1/apply?file=prod.yaml", "admin", "application/yaml", env, nil)
	b := newBrowser(t, s.url)
	b.do("builder", chromedp.Navigate(s.url+"/environments/prod/edit"), chromedp.WaitVisible(css("#builder-form")))
	b.wait("flagged", `document.querySelector('#builder-problems')?.textContent.includes('builder.yaml:13:23')`)
	if yml := builderYAML(b); strings.Contains(yml, secret) || !strings.Contains(yml, secrets.Mask) {
		b.fail("the builder holds the secret or no mask:\n%s", yml)
	}
	b.do("form", chromedp.Click(css("#tab-form")))
	fill(b, "spec.providers.0.url", "http://prometheus.monitoring:9090") // a real edit elsewhere
	b.do("save", chromedp.Click(css("#builder-save")))
	b.wait("refused", `document.querySelector('#builder-save-note')?.textContent === 'Fix the problems before saving.'`)
	var open bool
	b.eval(`document.querySelector('#builder-diff') !== null`, &open)
	if open {
		b.fail("the save dialog opened for a document holding %s", secrets.Mask)
	}
	var got struct{ Version int }
	s.call(t, "GET", "/api/v1/environments/prod", "admin", "", "", &got)
	if got.Version != 1 {
		t.Fatalf("the environment is at v%d: the builder saved the masked document", got.Version)
	}
	b.checkClean()
}

// TestBrowserBuilderReorders moves steps and phases of the seed template with the
// keyboard (Alt+ArrowDown), a Move up button and by dragging, and checks the YAML
// follows with every comment still attached, focus stays on the moved item, and
// each move is announced.
func TestBrowserBuilderReorders(t *testing.T) {
	chromium(t)
	s := startSluiceUI(t)
	b := newBrowser(t, s.url)
	b.do("template", chromedp.Navigate(s.url+"/workflows/new"), chromedp.WaitVisible(css("#start-template")),
		chromedp.Click(css("#start-template")), chromedp.WaitVisible(css("#builder-form")))
	steps := `[...document.querySelectorAll('[data-list="%s"] > li [data-path$=".name"]')].filter((el) => /steps\.\d+\.name$|phases\.\d+\.name$/.test(el.dataset.path)).map((el) => el.value).join(',')`
	names := func(list string) string {
		var s string
		b.eval(fmt.Sprintf(steps, list), &s)
		return s
	}
	if got := names("spec.phases.0.steps"); got != "service-setup,upgrade-containers,traffic-stays-live" {
		b.fail("phase 1 steps %s", got)
	}
	b.do("keyboard move", chromedp.Focus(css(`[data-path="spec.phases.0.steps.0.name"]`)),
		chromedp.KeyEvent(kb.ArrowDown, chromedp.KeyModifiers(chromedp.ModifierAlt)))
	b.wait("moved down", `document.querySelector('[data-path="spec.phases.0.steps.1.name"]')?.value === 'service-setup'`)
	var focus string
	b.eval(`document.activeElement.closest('li[data-index]')?.dataset.index + ':' + document.activeElement.getAttribute('aria-label')`, &focus)
	if focus != "1:Move step service-setup up" && focus != "1:Move step service-setup down" {
		b.fail("focus after the move is on %q", focus)
	}
	if got := b.text("#builder-live"); got != "Moved to position 2 of 3." {
		b.fail("the move was announced as %q", got)
	}
	click(b, "move the promote phase up", `[data-list="spec.phases"] > li[data-index="2"] > .b-item-head [data-move="up"]`)
	b.wait("phase moved", `document.querySelector('[data-path="spec.phases.1.name"]')?.value === 'promote'`)
	// Drag all-traffic-to-new (now phase 2's first step) below retire-old.
	b.eval(`(() => {
		const list = document.querySelector('[data-list="spec.phases.1.steps"]');
		const from = list.querySelector(':scope > li[data-index="0"] .b-handle');
		const to = list.querySelector(':scope > li[data-index="2"]');
		const dt = new DataTransfer();
		from.dispatchEvent(new DragEvent('dragstart', { bubbles: true, dataTransfer: dt }));
		to.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: dt }));
		to.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dt }));
		return true; })()`, nil)
	b.wait("dragged", `document.querySelector('[data-path="spec.phases.1.steps.2.name"]')?.value === 'all-traffic-to-new'`)
	yml := builderYAML(b)
	order := []string{"name: setup-new", "name: upgrade-containers", "name: service-setup", "# Users come in through the Istio gateway",
		"name: traffic-stays-live", "name: promote", "name: make-new-live", "name: retire-old", "name: all-traffic-to-new", "name: canary"}
	at := 0
	for _, want := range order {
		i := strings.Index(yml[at:], want)
		if i < 0 {
			b.fail("after the moves the YAML lacks %q in order:\n%s", want, yml)
		}
		at += i
	}
	if !strings.HasPrefix(yml, "# The seed workflow: blue/green with a canary phase.") {
		b.fail("the document's head comment is gone:\n%s", yml)
	}
	b.checkClean()
}
