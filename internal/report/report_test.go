package report_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/engine/enginetest"
	"github.com/sluicehq/sluice/internal/report"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/verify"
)

// bySlot answers every query with one error rate per slot: green is healthy,
// blue fails 2.6% of requests.
type bySlot map[string]float64

func (b bySlot) Query(_ context.Context, q verify.Query) (verify.Result, error) {
	v, ok := b[string(q.Slot)]
	if !ok {
		return verify.Result{}, verify.ErrNoData
	}
	return verify.Number(v), nil
}

func (b bySlot) Check(context.Context) error { return nil }

type source struct{ p verify.Provider }

func (s source) Provider(context.Context, string, *spec.Environment, string) (verify.Provider, error) {
	return s.p, nil
}

const workflow = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  platform: {type: recorder, recorder: {file: unused.jsonl}}
  router: {type: recorder, recorder: {file: unused.jsonl}}
  providers:
    - {name: prom, type: prometheus, url: "http://127.0.0.1:1"}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: test
  service: {name: shop, port: 8080, artifact: "shop:{{version}}"}
  variables:
    - {name: version, type: string, default: v1}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - traffic: 10%
        - approval: {approvers: [alice], message: look at the dashboards}
        - name: errors-at-10
          verify:
            interval: 20ms
            count: 3
            metrics:
              - name: errors
                title: error rate
                unit: ratio
                provider: prom
                query: 'sum(rate(http_errors{slot="{{slot}}"}[{{window}}]))'
                successCondition: result < 0.01
                baseline: true
    - name: live
      steps:
        - promote: {}
`

// release runs the workflow once, approving as alice, and returns the execution.
func release(t *testing.T, h *enginetest.Harness, version string) store.Execution {
	t.Helper()
	ex := h.Start("shop", map[string]string{"version": version})
	h.WaitFor(ex.ID, store.StatusWaiting)
	err := h.Engine.Decide(context.Background(), ex.ID, engine.Decision{Approve: true, By: "alice", Comment: "dashboards look fine"})
	if err != nil {
		t.Fatal(err)
	}
	return h.Finish(ex.ID)
}

// TestReportOfARolledBackRelease releases v1 (green becomes live), then v2 on
// blue, whose error rate fails verification after the approval: the report names
// the cause, the failing verdict in words, the approval and its comment, and the
// rollback's time to 100/0 on green.
func TestReportOfARolledBackRelease(t *testing.T) {
	// The first release's canary has no baseline, so its slot (green) must pass
	// alone; the second's canary (blue) is compared with the live green.
	h := enginetest.New(t, engine.Options{Steps: map[spec.StepType]engine.StepRunner{
		spec.StepVerify: verify.NewStep(source{bySlot{"green": 0.001, "blue": 0.026}}),
	}})
	h.Apply(strings.Replace(workflow, "baseline: true", "baseline: false", 1))
	first := release(t, h, "v1")
	if first.Status != store.StatusSucceeded {
		t.Fatalf("first release %s (%s)\n%s", first.Status, first.Reason, h.Console(first.ID))
	}
	h.Apply(workflow)
	ex := release(t, h, "v2")
	if ex.Status != store.StatusRolledBack {
		t.Fatalf("second release %s (%s), want rolled back\n%s", ex.Status, ex.Reason, h.Console(ex.ID))
	}
	evs, err := h.Store.Events(context.Background(), ex.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := report.Build(ex, evs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rb := rep.Rollback
	if rb == nil || !strings.Contains(rb.Cause, "error rate 2.6% on blue vs 0.1% on green — limit 1% — failed") {
		t.Fatalf("rollback %+v does not name the failing verdict as its cause\n%s", rb, h.Console(ex.ID))
	}
	if rb.StepName != "errors-at-10" || rb.Evidence != "error rate 2.6% on blue vs 0.1% on green — limit 1% — failed" {
		t.Fatalf("rollback step %q, evidence %q", rb.StepName, rb.Evidence)
	}
	if rb.ToFull == nil || rb.Restored == nil || rb.LiveSlot != "green" || rb.Restored.Before(*rb.Began) {
		t.Fatalf("no time to 100/0 on green: %+v", rb)
	}
	if time.Duration(*rb.ToFull) != rb.Restored.Sub(*rb.Began) || rb.SinceEvidence == nil || time.Duration(*rb.SinceEvidence) < time.Duration(*rb.ToFull) {
		t.Fatalf("time to 100/0 %v, since the evidence %v: inconsistent with began %v, evidence %v, restored %v",
			rb.ToFull, rb.SinceEvidence, rb.Began, rb.EvidenceAt, rb.Restored)
	}
	last := rep.Traffic[len(rep.Traffic)-1]
	if last.Green != 100 || last.Blue != 0 || !last.At.Equal(*rb.Restored) {
		t.Fatalf("last traffic move %+v, want 100/0 on green at %v", last, rb.Restored)
	}
	if len(rep.Approvals) != 1 || rep.Approvals[0].By != "alice" || rep.Approvals[0].Comment != "dashboards look fine" {
		t.Fatalf("approvals %+v", rep.Approvals)
	}
	if len(rep.Verdicts) != 1 || rep.Verdicts[0].Verdict != verify.Failed || rep.Verdicts[0].Summary == nil ||
		rep.Verdicts[0].Summary.Unit != verify.UnitRatio || *rep.Verdicts[0].Summary.Canary != 0.026 {
		t.Fatalf("verdicts %+v", rep.Verdicts)
	}
	md := rep.Markdown()
	for _, want := range []string{
		"# Release report: shop v2 in test — rolled back",
		"| Started by | tester at ",
		"version=v2",
		"- **Cause:** step errors-at-10 failed: verify: error rate 2.6% on blue vs 0.1% on green — limit 1% — failed",
		"- **Evidence:** error rate 2.6% on blue vs 0.1% on green — limit 1% — failed, measured at ",
		"- **Time to 100/0:** " + rb.ToFull.String() + " — the router confirmed 100% on green at ",
		"| errors-at-10 | errors | Failed | 1 (1 failed, 0 inconclusive, 0 errors) | error rate 2.6% on blue vs 0.1% on green — limit 1% — failed |",
		"| approval | approved | alice | ",
		"| dashboards look fine |",
		"| 100% | 0% |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown report lacks %q:\n%s", want, md)
		}
	}
	if regexp.MustCompile(`\n\|[^\n]*\n[^|\n]`).MatchString(strings.Split(md, "## Verdicts")[1][:200]) {
		t.Errorf("a table row spans lines:\n%s", md)
	}
	b, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(b), `"timeTo100":{"ms":`) {
		t.Fatalf("JSON %s (%v) lacks timeTo100", b, err)
	}
}
