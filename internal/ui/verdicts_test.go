package ui_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func init() {
	for _, n := range []string{"exec-approval-evidence-laptop-light", "exec-verdicts-laptop-light", "report-rolledback-laptop-light"} {
		docShots[n] = true
	}
}

// verdictFiles release shop on the recorder platform with two verify steps whose
// metrics an http provider (the test's metrics server) answers per slot; %[1]s is
// that server's URL.
const verdictFiles = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  platform: {type: recorder, recorder: {file: effects.jsonl}}
  router: {type: recorder, recorder: {file: effects.jsonl}}
  providers:
    - name: metrics
      type: http
      url: "%[1]s/metric?slot={{slot}}&q={{query}}"
      settings: {path: value}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: prod
  variables:
    - {name: version, type: string, default: v1}
  service: {name: shop, port: 8080, artifact: "shop:${version}"}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - name: shift-10
          traffic: 10%%
        - name: verify-at-10
          verify:
            interval: 400ms
            count: 5
            metrics:
              - {name: errors, title: error rate, unit: ratio, provider: metrics, query: errors, baseline: true, successCondition: "result < 0.01"}
              - {name: p99, title: p99 latency, unit: ms, provider: metrics, query: p99, baseline: true, successCondition: "result < 250"}
        - name: approve-50
          approval: {approvers: [alice], message: "Canary at 10%% looks healthy. Go to 50%%?"}
        - name: shift-50
          traffic: 50%%
        - name: verify-at-50
          verify:
            interval: 400ms
            count: 5
            metrics:
              - {name: errors, title: error rate, unit: ratio, provider: metrics, query: errors, baseline: true, successCondition: "result < 0.01"}
              - {name: p99, title: p99 latency, unit: ms, provider: metrics, query: p99, baseline: true, successCondition: "result < 250"}
    - name: promote
      steps:
        - promote: {}
`

// metricsServer answers the http provider: green is healthy; blue is healthy at
// 10% and, once bad() is called, its error rate climbs 0.3%, 0.6%, 2.6%.
type metricsServer struct {
	mu   sync.Mutex
	bad  bool
	n    map[string]int
	errs []float64
}

func (m *metricsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	slot, q := r.URL.Query().Get("slot"), r.URL.Query().Get("query")
	if q == "" {
		q = r.URL.Query().Get("q")
	}
	m.n[slot+q]++
	i := m.n[slot+q]
	v := 0.0
	switch {
	case q == "p99" && slot == "green":
		v = 110 + float64(i%4)*3
	case q == "p99":
		v = 118 + float64(i%3)*5
	case slot == "green":
		v = 0.001
	case m.bad:
		v = m.errs[min(len(m.errs)-1, i-1)]
	default:
		v = 0.002 + 0.0005*float64(i%3)
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"value": %g}`, v)
}

func (m *metricsServer) turnBad() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bad, m.n["blueerrors"] = true, 0
}

// TestBrowserVerdictsAndReport releases v1 (green), then v2 on blue: the
// approval box shows the phase's evidence in plain words; after the approval
// blue's error rate climbs and verification rolls it back; the page shows one
// section per verify step with its name, charts in units and a table of
// measurements, and the release report names the cause and its time to 100/0.
func TestBrowserVerdictsAndReport(t *testing.T) {
	chromium(t)
	s := startSluiceUI(t)
	ms := &metricsServer{n: map[string]int{}, errs: []float64{0.003, 0.006, 0.026}}
	probe := httptest.NewServer(ms)
	t.Cleanup(probe.Close)
	files := fmt.Sprintf(verdictFiles, probe.URL)
	// The first release has no live slot to compare with.
	s.call(t, "POST", "/api/v1/apply?file=shop.yaml", "alice", "application/yaml", strings.ReplaceAll(files, "baseline: true", "baseline: false"), nil)
	first := releaseTo(t, s, "v1", "waiting")
	s.call(t, "POST", "/api/v1/executions/"+first+"/approve", "alice", "application/json", `{"comment":"first"}`, nil)
	waitExecution(t, s, first, "succeeded")

	s.call(t, "POST", "/api/v1/apply?file=shop.yaml", "alice", "application/yaml", files, nil)
	id := releaseTo(t, s, "v2", "")
	b := newBrowser(t, s.url)
	b.do("open", chromedp.EmulateViewport(1366, 900), chromedp.Navigate(s.url+"/executions/"+id))
	b.wait("approval evidence", `document.querySelectorAll('#approval .evidence li').length === 2`)
	evidence := b.text("#approval .evidence")
	for _, want := range []string{"verify-at-10: error rate ", "% on blue vs 0.1% on green — limit 1% — passed",
		"verify-at-10: p99 latency ", " ms on blue vs ", " ms on green — limit 250 ms — passed"} {
		if !strings.Contains(evidence, want) {
			b.fail("the approval box's evidence %q lacks %q", evidence, want)
		}
	}
	b.shot("exec-approval-evidence-laptop-light")

	ms.turnBad()
	s.call(t, "POST", "/api/v1/executions/"+id+"/approve", "alice", "application/json", `{"comment":"p99 and errors flat at 10%"}`, nil)
	b.wait("rolled back", `document.querySelector('#exec-status .badge')?.dataset.status === 'rolled_back'`)
	b.wait("two verify steps", `document.querySelectorAll('.verify-step').length === 2 && document.querySelectorAll('.verify-step canvas').length >= 4`)
	var got struct {
		Steps  []string
		Chips  int
		Rows   int
		Failed []string
		Axis   bool
	}
	b.eval(`(() => ({
	  steps: [...document.querySelectorAll('.verify-step h3')].map((e) => e.firstChild.textContent),
	  chips: [...document.querySelectorAll('.measurements .chip')].filter((c) => /^#/.test(c.textContent)).length,
	  rows: document.querySelectorAll('.verify-step tbody tr').length,
	  failed: [...document.querySelectorAll('.verify-step tr.v-Failed')].map((r) => r.textContent + ' | ' + r.title),
	}))()`, &got)
	if strings.Join(got.Steps, ",") != "verify-at-10,verify-at-50" || got.Chips != 0 || got.Rows < 10 {
		b.fail("verification sections %q, %d numbered chips, %d table rows", got.Steps, got.Chips, got.Rows)
	}
	if len(got.Failed) != 1 || !strings.Contains(got.Failed[0], "2.6%") || !strings.Contains(got.Failed[0], "error rate 2.6% on blue vs 0.1% on green — limit 1% — failed") {
		b.fail("failed rows %q, want the 2.6%% measurement in words", got.Failed)
	}
	b.do("settle", chromedp.Sleep(300e6))
	b.shot("exec-verdicts-laptop-light")

	b.do("report", chromedp.Click(css(`a[href$="/report"]`)))
	b.wait("report", `document.getElementById('time-to-100') !== null`)
	rb := b.text("#report-rollback")
	for _, want := range []string{"Causestep verify-at-50 failed: verify: error rate 2.6% on blue vs 0.1% on green — limit 1% — failed",
		"Time to 100/0", "the router confirmed 100% on green", "after the failing measurement"} {
		if !strings.Contains(rb, want) {
			b.fail("the report's rollback %q lacks %q", rb, want)
		}
	}
	if txt := b.text("#report"); !strings.Contains(txt, "p99 and errors flat at 10%") || !strings.Contains(txt, "approve-50") {
		b.fail("the report does not show the approval and its comment:\n%s", txt)
	}
	b.shot("report-rolledback-laptop-light")
	b.checkClean()
}

// releaseTo starts a release of version and, unless status is empty, waits for it.
func releaseTo(t *testing.T, s *sluiceUI, version, status string) string {
	t.Helper()
	var ex struct{ ID string }
	s.call(t, "POST", "/api/v1/workflows/shop/run", "alice", "application/json", fmt.Sprintf(`{"variables":{"version":%q}}`, version), &ex)
	if status != "" {
		waitExecution(t, s, ex.ID, status)
	}
	return ex.ID
}

// waitExecution polls the execution until it has status.
func waitExecution(t *testing.T, s *sluiceUI, id, status string) {
	t.Helper()
	for i := 0; ; i++ {
		var got struct{ Status, Reason string }
		s.call(t, "GET", "/api/v1/executions/"+id, "alice", "", "", &got)
		if got.Status == status {
			return
		}
		if i == 600 {
			t.Fatalf("execution %s is %s (%s), never %s", id, got.Status, got.Reason, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
