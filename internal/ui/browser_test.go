package ui_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/internal/server"
)

// uiFiles is what the browser tests release: a recorder environment (effects are
// written to a file, nothing runs) and a workflow with waits long enough to watch
// steps change, and an approval only alice may give.
const uiFiles = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  platform: {type: recorder, recorder: {file: effects.jsonl}}
  router: {type: recorder, recorder: {file: effects.jsonl}}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata:
  name: shop
  description: Blue/green with a canary for the shop <img src=x id=xss> & friends.
spec:
  environment: prod
  variables:
    - {name: artifact, type: string, required: true, description: "Image or command of the new version."}
    - {name: canary_percent, type: percent, default: "10", description: "Share of traffic for the canary."}
    - {name: bake, type: duration, default: 2s}
    - {name: tier, type: enum, values: [gold, silver], default: silver}
  service: {name: shop, port: 8080, artifact: "${artifact}", instances: 2}
  phases:
    - name: setup-blue
      steps:
        - service: {hosts: [shop.example.com]}
        - name: upgrade-containers
          deploy: {instances: 100%}
        - name: settle
          wait: ${bake}
    - name: canary
      steps:
        - name: shift-canary
          traffic: ${canary_percent}
        - name: bake-canary
          wait: ${bake}
        - name: approve-promotion
          approval:
            message: "Canary at ${canary_percent}% looks healthy. Promote?"
            approvers: [alice]
            timeout: 1h
            onTimeout: rollback
    - name: promote
      steps:
        - traffic: 100%
        - promote: {}
        - scaledown: {slot: old}
`

// updateDocs rewrites the screenshots docs/ui.md shows: go test ./internal/ui -run TestBrowser -docs
var updateDocs = flag.Bool("docs", false, "write the screenshots of docs/ui.md into docs/ui/")

// docShots are the screenshots docs/ui.md shows.
var docShots = map[string]bool{
	"executions-laptop-light": true, "exec-waiting-laptop-light": true, "exec-succeeded-laptop-dark": true,
	"exec-succeeded-phone-light": true, "exec-verification-laptop-light": true, "run-form-laptop-light": true,
	"workflow-laptop-dark": true, "environments-phone-dark": true, "services-laptop-light": true, "audit-laptop-light": true, "signin-laptop-light": true, "signin-refused-laptop-light": true,
}

// chromium returns the browser binary: SLUICE_TEST_CHROMIUM or /usr/bin/chromium.
// Without one the test skips locally and fails under CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("SLUICE_TEST_CHROMIUM")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	if _, err := os.Stat(bin); err != nil {
		msg := fmt.Sprintf("no Chromium at %s (run: eval \"$(scripts/chromium.sh)\"): %v", bin, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// streamDropper sits between the UI and the API and can cut every open event
// stream at once, the way a restarting proxy or a lost network would.
type streamDropper struct {
	next http.Handler

	mu      sync.Mutex
	cancels map[int]context.CancelFunc
	n       int
	resumes []string // Last-Event-ID (or ?after=) of each stream request after the first
}

func (d *streamDropper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/events") || !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		d.next.ServeHTTP(w, r)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	d.mu.Lock()
	d.n++
	id := d.n
	d.cancels[id] = cancel
	if from := r.Header.Get("Last-Event-ID"); from != "" {
		d.resumes = append(d.resumes, "Last-Event-ID:"+from)
	} else if after := r.URL.Query().Get("after"); after != "0" {
		d.resumes = append(d.resumes, "after:"+after)
	}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.cancels, id)
		d.mu.Unlock()
		cancel()
	}()
	d.next.ServeHTTP(w, r.WithContext(ctx))
}

// drop cuts the open streams and says how many it cut.
func (d *streamDropper) drop() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.cancels {
		c()
	}
	return len(d.cancels)
}

func (d *streamDropper) resumed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.resumes...)
}

// sluiceUI runs a real sluice server and serves the UI in front of it through
// server.WithUI, with a streamDropper on the API side.
type sluiceUI struct {
	url     string
	dropper *streamDropper
	dataDir string // the server's data directory
}

func startSluiceUI(t *testing.T) *sluiceUI {
	t.Helper()
	dataDir := t.TempDir()
	addr := runServer(t, server.Config{DataDir: dataDir})
	target, _ := url.Parse("http://" + addr)
	d := &streamDropper{next: httputil.NewSingleHostReverseProxy(target), cancels: map[int]context.CancelFunc{}}
	front := httptest.NewServer(server.WithUI(d))
	t.Cleanup(func() {
		front.CloseClientConnections()
		front.Close()
	})
	return &sluiceUI{url: front.URL, dropper: d, dataDir: dataDir}
}

// call makes one API request as user and decodes the JSON answer into out.
func (s *sluiceUI) call(t *testing.T, method, path, user, ctype, body string, out any) {
	t.Helper()
	callJSON(t, method, s.url+path, "X-Sluice-User", user, ctype, body, out)
}

// browser drives one headless Chromium tab and collects what the page logs.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string

	mu       sync.Mutex
	problems []string // uncaught exceptions, CSP violations, console errors
}

func newBrowser(t *testing.T, base string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1366, 900),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base, shots: screenshotDir(t)}
	// The first run starts the browser and must not carry a timeout (that would end
	// the browser with it), so it is bounded from the outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, chromedp.Sleep(0)) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start chromium: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not start within 30s")
	}
	go b.collect()
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx2, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchCSP}); err != nil {
		t.Fatalf("install the CSP watch: %v", err)
	}
	return b
}

// watchCSP records every Content-Security-Policy violation of a page in
// window.__csp; the UI must work under the strict policy the server sends.
const watchCSP = `window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));`

// collect records console errors and exceptions; a page that works logs none.
func (b *browser) collect() {
	for m, err := range chromedp.Console(b.ctx) {
		if err != nil {
			return
		}
		// Refused requests (403, 409) are logged by the browser as network errors;
		// they are expected here, the page shows them.
		if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
			b.mu.Lock()
			b.problems = append(b.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
			b.mu.Unlock()
		}
	}
}

// screenshotDir is SLUICE_TEST_SCREENSHOTS when set (kept as artifacts), else a temp dir.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SLUICE_TEST_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// do runs actions with a bound on how long they may take.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// wait polls a JavaScript predicate until it is true.
func (b *browser) wait(what, predicate string) {
	b.t.Helper()
	b.do("wait for "+what, chromedp.Steps(func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingInterval(50*time.Millisecond),
			chromedp.WithPollingTimeout(15*time.Second))(ctx, t)
		return chromedp.Void{}, err
	}))
}

// eval evaluates a JavaScript expression (awaiting a promise) into out.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Steps(func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := chromedp.Evaluate[json.RawMessage](expr, chromedp.EvalAwaitPromise)(ctx, t)
		if err == nil && out != nil {
			err = json.Unmarshal(v, out)
		}
		return chromedp.Void{}, err
	})); err != nil {
		b.fail("eval %s: %v", expr, err)
	}
}

func (b *browser) text(selector string) string {
	var s string
	b.eval(fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ""`, selector), &s)
	return s
}

// shot saves a full-page screenshot.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail("screenshot %s: %v", name, err)
	}
	var csp []string
	b.eval(`window.__csp`, &csp)
	if len(csp) > 0 {
		b.fail("%s: the page broke its Content-Security-Policy: %q", name, csp)
	}
	p := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", p)
	if *updateDocs && docShots[name] {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "ui", name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// fail stops the test with what the page showed and logged.
func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	var body string
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	body, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main')?.innerText ?? ''`))
	b.mu.Lock()
	problems := strings.Join(b.problems, "\n")
	b.mu.Unlock()
	b.t.Fatalf(format+"\npage:\n%s\nconsole:\n%s", append(args, body, problems)...)
}

// checkClean fails on any console error or exception the page produced.
func (b *browser) checkClean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		b.t.Errorf("the page logged problems:\n%s", strings.Join(b.problems, "\n"))
	}
}
