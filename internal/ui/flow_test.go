package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// recordStatuses keeps every data-status change of a pipeline step, with the number
// of console lines at that moment, in window.__seen, so the test can tell live
// updates from a page that only shows the final state.
const recordStatuses = `(() => {
  window.__seen = [];
  new MutationObserver((ms) => {
    for (const m of ms) {
      const el = m.target;
      if (el.dataset && el.dataset.step && el.matches('button.step')) {
        window.__seen.push([el.dataset.step, el.dataset.status, document.querySelectorAll('#console-lines .ln').length]);
      }
    }
  }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-status'] });
  return true;
})()`

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// TestBrowserReleaseFromTheUI drives a release the way a person would: run the
// workflow from its form, watch the pipeline and the console live, be refused an
// approval, survive a dropped event stream, approve, and roll a second run back.
func TestBrowserReleaseFromTheUI(t *testing.T) {
	chromium(t)
	s := startSluiceUI(t)
	s.call(t, "POST", "/api/v1/apply?file=shop.yaml", "alice", "application/yaml", uiFiles, nil)
	b := newBrowser(t, s.url)
	b.do("open", chromedp.EmulateViewport(1366, 900), chromedp.Navigate(s.url+"/workflows/shop/run"), chromedp.WaitVisible(css("#run-form")))
	b.setUser("mallory")

	id := runFromForm(b)
	watchLive(b)
	refusedApproval(b)
	listShows(b, s, id)
	reconnect(b, s, id)
	approve(b, s, id)
	consoleTools(b, id)
	themesAndWidths(b, "exec-succeeded")
	rollbackSecondRun(b, s)
	measurementCharts(b)
	approveFromLink(b, s)
	otherPages(b, s)
	b.checkClean()
}

// clear empties an input's value (chromedp.Clear resets only the value attribute,
// which a field that was typed into no longer follows).
func clear(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = ''; el.dispatchEvent(new Event('input', { bubbles: true })); return true; })()`, sel))(ctx, t)
		return err
	})
}

func (b *browser) setUser(name string) {
	b.t.Helper()
	b.do("set user", clear("#user"), chromedp.SendKeys(css("#user"), name), chromedp.Blur(css("#user")))
	b.wait("user stored", fmt.Sprintf(`localStorage.getItem('sluice.user') === %q`, name))
}

// runFromForm checks the generated form and its validation, then starts the run.
func runFromForm(b *browser) string {
	b.t.Helper()
	var defaults []string
	b.eval(`['artifact','canary_percent','bake','tier'].map((n) => document.getElementById('var-' + n).value)`, &defaults)
	if want := []string{"", "10", "2s", "silver"}; !slices.Equal(defaults, want) {
		b.fail("form defaults %q, want %q", defaults, want)
	}
	var tierTag string
	b.eval(`document.getElementById('var-tier').tagName`, &tierTag)
	if tierTag != "SELECT" {
		b.fail("enum variable rendered as %s, want a select", tierTag)
	}
	b.shot("run-form-laptop-light")
	b.do("submit empty", chromedp.Click(css("#run-submit")))
	b.wait("required error", `document.querySelector('[data-var="artifact"] .field-error').textContent === 'required'`)
	b.do("bad percent", chromedp.SendKeys(css("#var-artifact"), "shop:v2"),
		clear("#var-canary_percent"), chromedp.SendKeys(css("#var-canary_percent"), "150"), chromedp.Click(css("#run-submit")))
	b.wait("percent error", `document.querySelector('[data-var="canary_percent"] .field-error').textContent.includes('0-100')`)
	b.shot("run-form-invalid-laptop-light")
	var ok bool
	b.eval(recordStatuses, &ok)
	b.do("submit", clear("#var-canary_percent"), chromedp.SendKeys(css("#var-canary_percent"), "20"), chromedp.Click(css("#run-submit")))
	b.wait("execution page", `location.pathname.startsWith('/executions/')`)
	var path string
	b.eval(`location.pathname`, &path)
	return strings.TrimPrefix(path, "/executions/")
}

// watchLive waits for the approval and checks the steps changed while the page watched.
func watchLive(b *browser) {
	b.t.Helper()
	b.wait("waiting", `document.querySelector('#exec-status .badge')?.dataset.status === 'waiting'`)
	b.wait("approval box", `document.querySelector('#approval')?.textContent.includes('Canary at 20% looks healthy')`)
	var seen [][3]any
	b.eval(`window.__seen`, &seen)
	lines := func(step, status string) int {
		for _, s := range seen {
			if s[0] == step && s[1] == status {
				return int(s[2].(float64))
			}
		}
		return -1
	}
	// bake-canary starts at least one bake (2s) after the page opened, so even a slow
	// machine sees it run; settle, earlier, may have been over before the first render.
	run, done := lines("p2.s2", "running"), lines("p2.s2", "succeeded")
	if run < 0 || done < 0 {
		b.fail("step p2.s2 was not seen running and then succeeded: %v", seen)
	}
	var now int
	b.eval(`document.querySelectorAll('#console-lines .ln').length`, &now)
	if now <= run {
		b.fail("console lines did not arrive while the steps ran: %d lines when p2.s2 ran, %d at the approval", run, now)
	}
	b.shot("exec-waiting-laptop-light")
}

// refusedApproval approves as someone who may not and expects the server's words.
func refusedApproval(b *browser) {
	b.t.Helper()
	b.do("approve as mallory", chromedp.Click(css(`[data-action="approve"]`)), chromedp.WaitVisible(css("#confirm-ok")),
		chromedp.SendKeys(css("#confirm-comment"), "looks fine to me"))
	b.shot("exec-confirm-dialog-laptop-light")
	b.do("confirm", chromedp.Click(css("#confirm-ok")))
	b.wait("refusal", `document.querySelector('#action-result')?.dataset.kind === 'error'`)
	msg := b.text("#action-result")
	if !strings.Contains(msg, "mallory may not decide on approve-promotion") || !strings.Contains(msg, "forbidden") {
		b.fail("refusal shows %q, want the server's message and code", msg)
	}
	b.shot("exec-refused-laptop-light")
}

// listShows finds the execution in the list, filters, and opens it from there.
func listShows(b *browser, s *sluiceUI, id string) {
	b.t.Helper()
	row := fmt.Sprintf(`#executions tr[data-id=%q]`, id)
	b.do("list", chromedp.Navigate(s.url+"/executions?workflow=shop&status=waiting"))
	b.wait("row", fmt.Sprintf(`document.querySelector('%s [data-status="waiting"]') !== null`, row))
	b.shot("executions-laptop-light")
	b.do("phone", chromedp.EmulateViewport(390, 844), chromedp.Sleep(200e6))
	b.shot("executions-phone-light")
	b.do("laptop", chromedp.EmulateViewport(1366, 900))
	b.do("filtered out", chromedp.Navigate(s.url+"/executions?status=succeeded"))
	b.wait("no match", `document.querySelector('.list-note')?.textContent === 'No executions match.'`)
	b.do("all", chromedp.Navigate(s.url+"/executions"), chromedp.WaitVisible(css(row+" a")), chromedp.Click(css(row+" a")))
	b.wait("execution view", fmt.Sprintf(`location.pathname === '/executions/%s' && document.querySelector('.con-state')?.dataset.state === 'live'`, id))
}

// reconnect cuts the event stream and checks the page resumes from its last event.
func reconnect(b *browser, s *sluiceUI, id string) {
	b.t.Helper()
	total := len(apiSeqs(b, s, id))
	b.wait("all lines", fmt.Sprintf(`document.querySelectorAll('#console-lines .ln').length === %d`, total))
	if n := s.dropper.drop(); n == 0 {
		b.fail("no open event stream to drop")
	}
	b.wait("reconnecting", `document.querySelector('.con-state').dataset.state === 'reconnecting'`)
	b.wait("live again", `document.querySelector('.con-state').dataset.state === 'live'`)
	if r := s.dropper.resumed(); !slices.Contains(r, fmt.Sprintf("Last-Event-ID:%d", total)) {
		b.fail("the stream did not resume from event %d: %q", total, r)
	}
}

// approve approves as alice and checks the console equals the stored events.
func approve(b *browser, s *sluiceUI, id string) {
	b.t.Helper()
	b.setUser("alice")
	b.do("approve as alice", chromedp.Click(css(`[data-action="approve"]`)), chromedp.WaitVisible(css("#confirm-ok")),
		chromedp.SendKeys(css("#confirm-comment"), "p99 fine"), chromedp.Click(css("#confirm-ok")))
	b.wait("accepted", `document.querySelector('#action-result')?.dataset.kind === 'ok'`)
	b.wait("succeeded", `document.querySelector('#exec-status .badge')?.dataset.status === 'succeeded'`)
	b.wait("stream ended", `document.querySelector('.con-state').dataset.state === 'ended'`)
	if txt := b.text("#approvals"); !strings.Contains(txt, "Approved by alice") || !strings.Contains(txt, "p99 fine") {
		b.fail("approvals show %q", txt)
	}
	var ex struct {
		State struct{ NewSlot string } `json:"state"`
	}
	s.call(b.t, "GET", "/api/v1/executions/"+id, "alice", "", "", &ex)
	if got, want := b.text("#live-slot"), "Left live: "+ex.State.NewSlot; got != want {
		b.fail("live slot shows %q, want %q", got, want)
	}
	want := apiSeqs(b, s, id)
	b.wait("every line", fmt.Sprintf(`document.querySelectorAll('#console-lines .ln').length >= %d`, len(want)))
	var got []int
	b.eval(`[...document.querySelectorAll('#console-lines .ln')].map((l) => +l.dataset.seq)`, &got)
	if !slices.Equal(got, want) {
		b.fail("console seqs %v, want the stored events %v (none lost, none twice)", got, want)
	}
}

func apiSeqs(b *browser, s *sluiceUI, id string) []int {
	var page struct{ Items []struct{ Seq int } }
	s.call(b.t, "GET", "/api/v1/executions/"+id+"/events?limit=5000", "alice", "", "", &page)
	seqs := make([]int, len(page.Items))
	for i, e := range page.Items {
		seqs[i] = e.Seq
	}
	return seqs
}

// themesAndWidths screenshots the page light and dark, on a laptop and a phone,
// and checks the theme toggle.
func themesAndWidths(b *browser, name string) {
	b.t.Helper()
	for _, vp := range []struct {
		label string
		w, h  int64
	}{{"laptop", 1366, 900}, {"phone", 390, 844}} {
		for _, scheme := range []string{"light", "dark"} {
			b.do("emulate", chromedp.EmulateViewport(vp.w, vp.h), colourScheme(scheme), chromedp.Sleep(300e6))
			b.wait("console at the bottom", atBottom)
			b.shot(fmt.Sprintf("%s-%s-%s", name, vp.label, scheme))
		}
	}
	b.do("toggle", chromedp.EmulateViewport(1366, 900), colourScheme("dark"), chromedp.Click(css("#theme")))
	var bg string
	b.eval(`document.documentElement.dataset.theme + ' ' + getComputedStyle(document.body).backgroundColor`, &bg)
	if bg != "light rgb(246, 247, 249)" {
		b.fail("after the toggle in a dark browser: %q, want the light theme", bg)
	}
	b.eval(`localStorage.removeItem('sluice.theme'); delete document.documentElement.dataset.theme; true`, nil)
	b.do("light", colourScheme("light"))
}

// atBottom says the console shows its last line.
const atBottom = `(() => { const c = document.getElementById('console-lines'); return c.scrollHeight - c.scrollTop - c.clientHeight < 24; })()`

func colourScheme(s string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: s}},
		})
		return err
	})
}

// rollbackSecondRun starts another release and rolls it back from the UI.
func rollbackSecondRun(b *browser, s *sluiceUI) {
	b.t.Helper()
	var first struct {
		State struct{ NewSlot string } `json:"state"`
	}
	var ex struct{ ID string }
	s.call(b.t, "POST", "/api/v1/workflows/shop/run", "alice", "application/json", `{"variables":{"artifact":"shop:v3","bake":"1s"}}`, &ex)
	s.call(b.t, "GET", "/api/v1/executions/"+ex.ID, "alice", "", "", &first)
	b.do("open", chromedp.Navigate(s.url+"/executions/"+ex.ID))
	b.wait("waiting", `document.querySelector('#exec-status .badge')?.dataset.status === 'waiting'`)
	b.wait("console follows", atBottom)
	b.eval(`document.getElementById('console-lines').scrollTop = 0; true`, nil)
	b.do("scroll event", chromedp.Sleep(100e6))
	b.do("roll back", chromedp.Click(css(`[data-action="rollback"]`)), chromedp.WaitVisible(css("#confirm-ok")),
		chromedp.SendKeys(css("#confirm-comment"), "error budget burning"), chromedp.Click(css("#confirm-ok")))
	b.wait("rolled back", `document.querySelector('#exec-status .badge')?.dataset.status === 'rolled_back'`)
	b.wait("new lines kept below", `!document.querySelector('.con-jump').hidden && document.getElementById('console-lines').scrollTop === 0`)
	b.do("jump", chromedp.Click(css(".con-jump")))
	b.wait("at the bottom again", atBottom+` && document.querySelector('.con-jump').hidden`)
	b.wait("rollback shown", `!document.querySelector('.rollback-box').hidden && document.querySelector('.rollback-box').textContent.includes('error budget burning')`)
	var live struct {
		State struct{ LiveSlot string } `json:"state"`
	}
	s.call(b.t, "GET", "/api/v1/executions/"+ex.ID, "alice", "", "", &live)
	if got, want := b.text("#live-slot"), "Left live: "+live.State.LiveSlot; got != want || live.State.LiveSlot == "" {
		b.fail("after the rollback the live slot shows %q, want %q", got, want)
	}
	b.do("settle", chromedp.Sleep(300e6))
	b.shot("exec-rolledback-laptop-light")
}

// otherPages checks environments and workflows, and that supplied text stays text.
func otherPages(b *browser, s *sluiceUI) {
	b.t.Helper()
	b.do("environments", chromedp.Navigate(s.url+"/environments"))
	b.wait("service", `document.querySelector('[data-env="prod"] [data-service="shop"] .slot') !== null`)
	if txt := b.text(`[data-env="prod"] .facts`); !strings.Contains(txt, "recorder") {
		b.fail("environment facts %q do not name the recorder platform", txt)
	}
	b.shot("environments-laptop-light")
	b.do("workflows", chromedp.Navigate(s.url+"/workflows"), chromedp.WaitVisible(css("#workflows")))
	b.shot("workflows-laptop-light")
	b.do("workflow", chromedp.Navigate(s.url+"/workflows/shop"), chromedp.WaitVisible(css(".phases")))
	var injected bool
	b.eval(`document.getElementById('xss') !== null`, &injected)
	if lead := b.text(".lead"); injected || !strings.Contains(lead, "<img src=x id=xss> & friends") {
		b.fail("workflow description rendered as HTML (injected=%v) or lost: %q", injected, lead)
	}
	b.do("dark", colourScheme("dark"))
	b.shot("workflow-laptop-dark")
	b.do("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.url+"/environments"), chromedp.WaitVisible(css(".env")))
	b.shot("environments-phone-dark")
	b.do("reset", colourScheme("light"), chromedp.EmulateViewport(1366, 900))
	workflowDiff(b, s)
}

// feedMeasurements gives the page's own chart module the measurement events a
// verify step records (the server wires no verify step into this environment), to
// check they are drawn with the vendored uPlot: one chart per metric, a verdict
// chip per measurement, baseline drawn when there is one, NaN as a gap.
const feedMeasurements = `(async () => {
  const { Measurements } = await import('/js/views/charts.js');
  const m = new Measurements(document.querySelector('section.measurements'));
  m.thresholds = (step, metric) => (metric === 'error-rate' ? [{ value: 0.01, kind: 'fail' }] : []);
  const t0 = Date.now() - 90000;
  const rate = [0.002, 0.004, 'NaN', 0.031];
  const verdicts = ['Successful', 'Successful', 'Inconclusive', 'Failed'];
  rate.forEach((v, i) => {
    const at = new Date(t0 + i * 20000).toISOString();
    m.add({ seq: 1, type: 'measurement', at, data: { metric: 'error-rate', judge: 'threshold', index: i, at,
      canary: { slot: 'green', value: v }, verdict: verdicts[i], reason: 'result > 0.01', counted: true } });
    m.add({ seq: 1, type: 'measurement', at, data: { metric: 'latency-p99', judge: 'mann-whitney', index: i, at,
      canary: { slot: 'green', value: 120 + i * 9 }, baseline: { slot: 'blue', value: 118 + i }, verdict: 'Successful', counted: true } });
  });
  const sec = document.querySelector('section.measurements');
  return [sec.hidden ? 0 : 1, sec.querySelectorAll('canvas').length, sec.querySelectorAll('.chip.v-Failed').length,
    sec.querySelectorAll('.chip').length];
})()`

func measurementCharts(b *browser) {
	b.t.Helper()
	var got []int
	b.eval(feedMeasurements, &got)
	if want := []int{1, 2, 1, 8}; !slices.Equal(got, want) {
		b.fail("measurement charts: shown, canvases, failed chips, chips = %v, want %v", got, want)
	}
	b.do("scroll", chromedp.Sleep(200e6))
	b.shot("exec-verification-laptop-light")
	b.do("dark", colourScheme("dark"), chromedp.Sleep(200e6))
	b.shot("exec-verification-laptop-dark")
	b.do("light", colourScheme("light"))
}

// approveFromLink opens the link a notification carries (?action=approve) and
// approves in the dialog it opens.
func approveFromLink(b *browser, s *sluiceUI) {
	b.t.Helper()
	var ex struct{ ID string }
	s.call(b.t, "POST", "/api/v1/workflows/shop/run", "alice", "application/json", `{"variables":{"artifact":"shop:v4","bake":"1s"}}`, &ex)
	for i := 0; ; i++ {
		var got struct{ Status string }
		s.call(b.t, "GET", "/api/v1/executions/"+ex.ID, "alice", "", "", &got)
		if got.Status == "waiting" {
			break
		}
		if i == 200 {
			b.fail("execution %s never waited for approval (status %s)", ex.ID, got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.do("open link", chromedp.Navigate(s.url+"/executions/"+ex.ID+"?action=approve"), chromedp.WaitVisible(css("#confirm-ok")))
	b.wait("link consumed", `location.search === ''`)
	b.do("approve", chromedp.SendKeys(css("#confirm-comment"), "from the link"), chromedp.Click(css("#confirm-ok")))
	b.wait("succeeded", `document.querySelector('#exec-status .badge')?.dataset.status === 'succeeded'`)
	b.do("stale link", chromedp.Navigate(s.url+"/executions/"+ex.ID+"?action=approve"))
	b.wait("refused link", `document.querySelector('#action-result')?.textContent.includes('not possible now')`)
}

// workflowDiff applies a second version and compares it with the first.
func workflowDiff(b *browser, s *sluiceUI) {
	b.t.Helper()
	v2 := strings.Replace(uiFiles, `default: "10"`, `default: "15"`, 1)
	s.call(b.t, "POST", "/api/v1/apply?file=shop.yaml", "bob", "application/yaml", v2, nil)
	b.do("workflow", chromedp.Navigate(s.url+"/workflows/shop"), chromedp.WaitVisible(css(".versions")))
	b.do("diff", chromedp.Click(css(`.versions a[href$="diff=1"]`)), chromedp.WaitVisible(css("#diff")))
	var changed []string
	b.eval(`[...document.querySelectorAll('#diff .dadd, #diff .ddel')].map((l) => l.textContent)`, &changed)
	if len(changed) != 2 || !strings.HasPrefix(changed[0], "- ") || !strings.Contains(changed[1], `default: "15"`) {
		b.fail("diff of v1 and v2 shows %q", changed)
	}
	b.shot("workflow-diff-laptop-light")
}

// consoleTools checks the step filter, the search box and the download.
func consoleTools(b *browser, id string) {
	b.t.Helper()
	const visible = `[...document.querySelectorAll('#console-lines .ln')].filter((l) => !l.hidden)`
	b.do("select a step", chromedp.Click(css(`button.step[data-step="p2.s1"]`)))
	var steps []string
	b.eval(visible+`.map((l) => l.dataset.step)`, &steps)
	if len(steps) == 0 || slices.ContainsFunc(steps, func(s string) bool { return s != "p2.s1" }) {
		b.fail("with p2.s1 selected the console shows steps %q", steps)
	}
	b.do("all steps", chromedp.Click(css(`.con-bar .btn-small`)), chromedp.SendKeys(css(".con-search"), "router reads back"))
	var found []string
	b.eval(visible+`.map((l) => l.querySelector('.ln-m').textContent)`, &found)
	if len(found) < 2 || slices.ContainsFunc(found, func(s string) bool { return !strings.HasPrefix(s, "router reads back") }) {
		b.fail("searching for %q shows %q", "router reads back", found)
	}
	b.eval(`(() => { const s = document.querySelector('.con-search'); s.value = ''; s.dispatchEvent(new Event('input')); return true; })()`, nil)

	dir := b.t.TempDir()
	b.do("allow downloads", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
		})
		return err
	}))
	var lines int
	b.eval(`document.querySelectorAll('#console-lines .ln').length`, &lines)
	b.do("download", chromedp.Click(css(`.con-tools .btn-small`)))
	file := filepath.Join(dir, "sluice-"+id+"-console.txt")
	for i := 0; ; i++ {
		data, err := os.ReadFile(file)
		if err == nil && strings.Count(string(data), "\n") == lines {
			if !strings.Contains(string(data), "approved by alice: p99 fine") {
				b.fail("the downloaded console lacks the approval:\n%s", data)
			}
			return
		}
		if i == 100 {
			b.fail("no complete download at %s (%v)", file, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
