package ui_test

import (
	"context"
	"fmt"
	"github.com/sluicehq/sluice/internal/platform/local/localtest"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/platform/local"
	"github.com/sluicehq/sluice/internal/spec"
)

// localEnvironment is the environment the seed runs in: this test binary as the
// sample app behind the builtin router, whose metrics are the provider "router".
func localEnvironment(listen, admin string) string {
	return fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata:
  name: local
spec:
  platform:
    type: local
    local:
      stopGrace: 1s
      commands:
        - name: sample-app
          executable: %s
          args: [sample-app, --port, "${PORT}", --version, "${VERSION}"]
  router:
    type: builtin
    builtin:
      listen: %s
      admin: %s
  providers:
    - name: router
      type: builtin
`, testExe, listen, admin)
}

// TestBrowserBuilderBuildsTheSeed builds the seed's blue/green canary on an empty
// server in the builders — the local environment, then the workflow, every field
// through the forms and none typed as YAML — saves both, and checks the stored
// workflow validates and equals examples/blue-green-canary.yaml's. It then edits the
// saved workflow in the builder for this machine (verification from the builtin
// router instead of Prometheus, New Relic and Sumo Logic; seconds instead of
// minutes), saves that as version 2 after the diff preview, runs it on the local
// platform from the run form, approves it and sees the new version promoted.
func TestBrowserBuilderBuildsTheSeed(t *testing.T) {
	chromium(t)
	var dataDir string
	t.Run("build-and-release", func(t *testing.T) { dataDir = buildAndRelease(t) })
	if dataDir != "" { // the server has stopped: stop the instances it left running
		stopLocalInstances(t, dataDir)
	}
}

// firstRelease makes sample-app:v1 live on its own, so the seed's canary compares a
// new version with a live one.
const firstRelease = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: first-release}
spec:
  environment: local
  variables: [{name: artifact, type: string, required: true}]
  service: {name: shop, port: 9000, artifact: "${artifact}", instances: 2, health: {path: /healthz, timeout: 2s}}
  phases:
    - name: first
      steps:
        - service: {}
        - deploy: {instances: 2}
        - traffic: 100%
        - promote: {}
`

func buildAndRelease(t *testing.T) string {
	s := startSluiceUI(t)
	listen, admin := localtest.FreeAddr(t), localtest.FreeAddr(t)
	b := newBrowser(t, s.url)
	b.do("open", chromedp.EmulateViewport(1366, 900), chromedp.Navigate(s.url+"/environments"), chromedp.WaitVisible(css(`[data-edit]`)))
	b.setUser("alice")

	// The environment, through the environment builder.
	envSrc := localEnvironment(listen, admin)
	b.do("new environment", chromedp.Click(css(`[data-edit]`)), chromedp.WaitVisible(css("#start-blank")),
		chromedp.Click(css("#start-blank")), chromedp.WaitVisible(css("#builder-form")))
	buildThroughForms(b, envSrc)
	saveInBuilder(b, "/environments")
	var env struct{ Source string }
	s.call(t, "GET", "/api/v1/environments/local", "alice", "", "", &env)
	if !sameDocument(t, env.Source, envSrc) {
		t.Fatalf("the environment built in the form is\n%s\nwant\n%s", env.Source, envSrc)
	}

	// The workflow, from nothing, through the workflow builder.
	seed, err := os.ReadFile(filepath.Join(examplesDir, "blue-green-canary.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b.do("new workflow", chromedp.Navigate(s.url+"/workflows"), chromedp.WaitVisible(css(`[data-edit]`)), chromedp.Click(css(`[data-edit]`)),
		chromedp.WaitVisible(css("#start-blank")), chromedp.Click(css("#start-blank")), chromedp.WaitVisible(css("#builder-form")))
	buildThroughForms(b, string(seed))
	viewShot(b, "builder-laptop-light", `[data-step="spec.phases.1.steps.2"]`)
	saveInBuilder(b, "/workflows/blue-green-canary")
	var wf struct {
		Source  string
		Version int
	}
	s.call(t, "GET", "/api/v1/workflows/blue-green-canary", "alice", "", "", &wf)
	if _, err := spec.ParseWorkflow("saved.yaml", []byte(wf.Source)); err != nil {
		t.Fatalf("the saved workflow does not validate: %v\n%s", err, wf.Source)
	}
	if !sameDocument(t, wf.Source, string(seed)) {
		t.Fatalf("the workflow built in the form is\n%s\nwant examples/blue-green-canary.yaml's:\n%s", wf.Source, seed)
	}
	if strings.Contains(wf.Source, "#") {
		t.Errorf("a document built from nothing has comments:\n%s", wf.Source)
	}

	// Version 2: the same release, measured by the builtin router, in seconds.
	b.do("edit", chromedp.Navigate(s.url+"/workflows/blue-green-canary/edit"), chromedp.WaitVisible(css("#builder-form")))
	verify := "spec.phases.1.steps.2.verify"
	click(b, "remove the log check", fmt.Sprintf(`[data-list="%s.logs"] > li[data-index="0"] [data-remove]`, verify))
	click(b, "remove the apdex metric", fmt.Sprintf(`[data-list="%s.metrics"] > li[data-index="1"] [data-remove]`, verify))
	for path, v := range map[string]string{
		verify + ".metrics.0.provider": "router", verify + ".metrics.0.query": "error_rate",
		verify + ".metrics.0.failureCondition": "result > 0.5", verify + ".initialDelay": "1s",
		verify + ".interval": "2s", verify + ".count": "2",
		"spec.phases.1.steps.1.loadtest.duration": "3s", "spec.phases.1.steps.1.loadtest.maxP99": "5s",
		"spec.phases.1.steps.1.loadtest.rate": "20", "spec.phases.2.steps.2.scaledown.delay": "1s",
	} {
		fill(b, path, v)
	}
	b.wait("valid", `document.querySelector('#builder-status')?.dataset.valid === 'true'`)
	b.do("review", chromedp.Click(css("#builder-save")), chromedp.WaitVisible(css("#builder-diff")))
	if d := b.text("#diff"); !strings.Contains(d, "- ") || !strings.Contains(d, "sumologic") || !strings.Contains(d, "query: error_rate") || strings.Contains(d, "logs: []") {
		b.fail("the diff preview does not show the changes:\n%s", d)
	}
	viewShot(b, "builder-diff-laptop-light", "#builder-diff")
	b.do("save v2", chromedp.Click(css("#builder-confirm")))
	b.wait("workflow page", `location.pathname === '/workflows/blue-green-canary' && document.body.textContent.includes('v2')`)

	// Run it on the local platform, with people using the service meanwhile: v1 is
	// made live first (by the API), then the seed releases v2 from the UI.
	s.call(t, "POST", "/api/v1/apply?file=first.yaml", "alice", "application/yaml", firstRelease, nil)
	var first struct{ ID string }
	s.call(t, "POST", "/api/v1/workflows/first-release/run", "alice", "application/json", `{"variables":{"artifact":"sample-app:v1"}}`, &first)
	waitExecution(t, s, first.ID, "succeeded")
	stopLoad := userLoad(fmt.Sprintf("http://%s/", listen), "shop.example.com", 40)
	defer stopLoad()
	b.do("run form", chromedp.Navigate(s.url+"/workflows/blue-green-canary/run"), chromedp.WaitVisible(css("#run-form")))
	b.do("variables", chromedp.SendKeys(css("#var-artifact"), "sample-app:v2"), chromedp.SetValue(css("#var-environment"), "local"),
		clear("#var-canary_percent"), chromedp.SendKeys(css("#var-canary_percent"), "50"), chromedp.Click(css("#run-submit")))
	b.wait("execution page", `location.pathname.startsWith('/executions/')`)
	var path string
	b.eval(`location.pathname`, &path)
	id := strings.TrimPrefix(path, "/executions/")
	waitFor(b, "the approval", 120*time.Second, `['waiting', 'failed', 'rolled_back', 'aborted', 'paused'].includes(document.querySelector('#exec-status .badge')?.dataset.status)`)
	if st := b.text("#exec-status .badge"); st != "waiting" {
		b.fail("execution %s is %s before its approval", id, st)
	}
	b.do("approve as alice", chromedp.Click(css(`[data-action="approve"]`)), chromedp.WaitVisible(css("#confirm-ok")),
		chromedp.SendKeys(css("#confirm-comment"), "canary healthy"), chromedp.Click(css("#confirm-ok")))
	waitFor(b, "promoted", 120*time.Second, `document.querySelector('#exec-status .badge')?.dataset.status === 'succeeded'`)
	var services []struct {
		Environment, Service, LiveSlot, Artifact string
	}
	var list struct {
		Items []struct{ Environment, Service, LiveSlot, Artifact string }
	}
	s.call(t, "GET", "/api/v1/services", "alice", "", "", &list)
	services = list.Items
	if len(services) != 1 || services[0].LiveSlot == "" || services[0].Artifact != "sample-app:v2" {
		t.Fatalf("services after the promotion: %+v, want shop live with sample-app:v2", services)
	}
	// a finished execution says what it left live (the Services page says what is live now)
	if got, want := b.text("#live-slot"), "Left live: "+services[0].LiveSlot; got != want {
		b.fail("the execution shows %q, want %q", got, want)
	}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/", listen), nil)
	req.Host = "shop.example.com"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the promoted version does not answer through the router: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the router answers %d after the promotion", res.StatusCode)
	}
	b.checkClean()
	return s.dataDir
}

// saveInBuilder waits for the document to validate, opens the diff preview, saves,
// and waits for the page the builder goes to afterwards.
func saveInBuilder(b *browser, next string) {
	b.t.Helper()
	b.wait("valid", `document.querySelector('#builder-status')?.dataset.valid === 'true'`)
	b.do("review", chromedp.Click(css("#builder-save")), chromedp.WaitVisible(css("#builder-diff")))
	b.do("save", chromedp.Click(css("#builder-confirm")))
	b.wait("saved", fmt.Sprintf(`location.pathname === %q`, next))
}

// waitFor polls a predicate for up to limit (a release takes longer than a click).
func waitFor(b *browser, what string, limit time.Duration, predicate string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, limit+5*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Steps(func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingInterval(200*time.Millisecond),
			chromedp.WithPollingTimeout(limit))(ctx, t)
		return chromedp.Void{}, err
	}))
	if err != nil {
		b.fail("wait for %s: %v", what, err)
	}
}

// userLoad sends rps requests a second to url, for host (the service step's), until
// the returned function is called.
func userLoad(url, host string, rps int) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(rps))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				wg.Go(func() {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
					req.Host = host
					if res, err := http.DefaultClient.Do(req); err == nil {
						res.Body.Close()
					}
				})
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// stopLocalInstances stops the instances the server's local platform left running.
func stopLocalInstances(t *testing.T, dataDir string) {
	p, err := local.New(local.Options{StateDir: envrun.LocalStateDir(dataDir, "local"), StopGrace: time.Second})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = p.Close(ctx)
	}
	if err != nil {
		t.Errorf("stop instances: %v", err)
	}
}
