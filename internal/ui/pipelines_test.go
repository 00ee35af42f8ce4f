package ui_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

const pipelineFiles = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  platform: {type: recorder, recorder: {file: staging.jsonl}}
  router: {type: recorder, recorder: {file: staging.jsonl}}
---
apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: production}
spec:
  platform: {type: recorder, recorder: {file: production.jsonl}}
  router: {type: recorder, recorder: {file: production.jsonl}}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: ${env}
  variables:
    - {name: env, type: string, required: true}
    - {name: artifact, type: string, required: true}
  service: {name: shop, port: 8080, artifact: "${artifact}"}
  phases:
    - name: release
      steps:
        - deploy: {instances: 1}
        - traffic: 100%
        - promote: {}
        - scaledown: {}
---
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  variables:
    - {name: artifact, type: string, required: true}
  stages:
    - {name: staging, workflow: shop, environment: staging}
    - name: production
      workflow: shop
      environment: production
      gates:
        - approval: {approvers: [carol], message: staging looks right}
`

// TestBrowserPipelineRun shows a run as one release across environments: the
// Pipelines page lists it; its page shows staging released (with a link to its
// execution) and production held by its approval gate; carol approves from the page
// and production is released.
func TestBrowserPipelineRun(t *testing.T) {
	s, b, run := startPipelineRun(t)
	b.do("pipelines", chromedp.EmulateViewport(1366, 900), chromedp.Navigate(s.url+"/pipelines"))
	b.wait("run listed", `document.querySelector('#pipeline-runs tr[data-id="`+run.ID+`"]') !== null`)
	b.wait("nav marks pipelines", `document.querySelector('[data-nav="pipelines"]').getAttribute('aria-current') === 'page'`)
	b.do("open run", chromedp.Click(css(`#pipeline-runs tr[data-id="`+run.ID+`"] a`)))
	b.wait("run page", `location.pathname === '/pipelines/runs/`+run.ID+`'`)
	b.wait("two stages in order", `[...document.querySelectorAll('#pipeline-stages [data-stage]')].map((e) => e.dataset.stage).join() === 'staging,production'`)
	b.wait("staging released", `document.querySelector('[data-stage="staging"]').dataset.status === 'succeeded'`)
	b.wait("staging links its execution", `document.querySelector('[data-stage="staging"] a[href^="/executions/"]') !== null`)
	b.wait("production gated", `document.querySelector('[data-stage="production"]').dataset.status === 'gated'`)
	b.wait("gate shown", `document.querySelector('[data-stage="production"] [data-gate="approval"]').textContent.includes('carol')`)
	b.wait("run waiting", `document.querySelector('#pipeline-status .badge').dataset.status === 'waiting'`)
	b.shot("pipeline-run-gated-laptop-light")
	b.setUser("carol")
	b.do("approve", chromedp.Click(css(`[data-stage="production"] [data-action="approve"]`)), chromedp.WaitVisible(css("#confirm-ok")),
		chromedp.SendKeys(css("#confirm-comment"), "ship it"), chromedp.Click(css("#confirm-ok")))
	b.wait("production released", `document.querySelector('[data-stage="production"]')?.dataset.status === 'succeeded'`)
	b.wait("run succeeded", `document.querySelector('#pipeline-status .badge').dataset.status === 'succeeded'`)
	b.wait("decision in the log", `document.querySelector('#pipeline-log').textContent.includes('approved by carol: ship it')`)
	b.checkClean()
}

// TestBrowserPipelineRunLive: a run's page follows the run's event stream. With the
// page open and the run held at production's gate, carol approves through the API
// (not the page); the page shows production released and the run succeeded, and the
// decision in its log, without being reloaded.
func TestBrowserPipelineRunLive(t *testing.T) {
	s, b, run := startPipelineRun(t)
	b.do("run page", chromedp.EmulateViewport(1366, 900), chromedp.Navigate(s.url+"/pipelines/runs/"+run.ID))
	b.wait("production gated", `document.querySelector('[data-stage="production"]')?.dataset.status === 'gated'`)
	var marked bool
	b.eval(`window.sluiceNotReloaded = true`, &marked)
	s.call(t, "POST", "/api/v1/pipeline-runs/"+run.ID+"/approve", "carol", "application/json", `{"stage":"production","comment":"from the CLI"}`, nil)
	b.wait("decision in the log", `document.querySelector('#pipeline-log').textContent.includes('approved by carol: from the CLI')`)
	b.wait("production released", `document.querySelector('[data-stage="production"]')?.dataset.status === 'succeeded'`)
	b.wait("run succeeded", `document.querySelector('#pipeline-status .badge').dataset.status === 'succeeded'`)
	b.wait("same page, not reloaded", `window.sluiceNotReloaded === true`)
	b.checkClean()
}

// startPipelineRun starts a server with pipelineFiles applied, a run of release
// started by alice, and a browser.
func startPipelineRun(t *testing.T) (*sluiceUI, *browser, struct{ ID string }) {
	chromium(t)
	s := startSluiceUI(t)
	s.call(t, "POST", "/api/v1/apply?file=release.yaml", "alice", "application/yaml", pipelineFiles, nil)
	var run struct{ ID string }
	s.call(t, "POST", "/api/v1/pipelines/release/run", "alice", "application/json", `{"variables":{"artifact":"shop:v2"}}`, &run)
	return s, newBrowser(t, s.url), run
}
