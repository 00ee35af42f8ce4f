package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/engine/enginetest"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/verify"
)

// engineHarness is a real engine on SQLite with a recording platform and router
// and the verify step answered by a scripted provider.
type engineHarness struct{ *enginetest.Harness }

func newEngine(t *testing.T, p verify.Provider) *engineHarness {
	return &engineHarness{enginetest.New(t, engine.Options{
		Steps: map[spec.StepType]engine.StepRunner{spec.StepVerify: verify.NewStep(oneSource{p}, verify.WithErrorRetry(5*time.Millisecond))},
	})}
}

func (h *engineHarness) measurements(id string) []verify.Measurement {
	var out []verify.Measurement
	for _, raw := range h.Records(id, "measurement") {
		var m verify.Measurement
		if err := json.Unmarshal(raw, &m); err != nil {
			h.T.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

const verifyWorkflow = `apiVersion: sluice.dev/v1alpha1
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
  service: {name: shop, port: 8080, artifact: "shop:v2"}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - traffic: 10%
        - verify:
            interval: 20ms
            count: %d
            metrics:
              - name: error-rate
                provider: prom
                query: 'sum(rate(http_errors{slot="{{slot}}"}[{{window}}]))'
                successCondition: result < 0.01
`

func TestVerifyStepInTheEngine(t *testing.T) {
	tests := []struct {
		name    string
		answers []answer
		count   int
		status  store.Status
		reason  []string
	}{
		{"passes", nums(0.001), 3, store.StatusSucceeded, nil},
		{"fails and rolls back", nums(0.001, 0.2), 5, store.StatusRolledBack, []string{"error-rate", "0.2", "result < 0.01"}},
		{"no data pauses for a person", nil, 3, store.StatusPaused, []string{"a person must decide"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newEngine(t, &scripted{answers: map[string][]answer{"green": tt.answers}})
			h.Apply(strings.Replace(verifyWorkflow, "%d", fmt.Sprint(tt.count), 1))
			ex, err := h.Engine.Start(context.Background(), engine.StartRequest{Workflow: "shop", StartedBy: "tester"})
			if err != nil {
				t.Fatal(err)
			}
			got := h.Settle(ex.ID)
			if got.Status != tt.status {
				t.Fatalf("%s (%s)\n%s", got.Status, got.Reason, h.Console(ex.ID))
			}
			if got.Status == store.StatusPaused {
				defer func() {
					if err := h.Engine.Abort(context.Background(), ex.ID, "tester", "done"); err != nil {
						t.Fatal(err)
					}
					h.Finish(ex.ID)
				}()
			}
			for _, s := range tt.reason {
				if !strings.Contains(got.Reason, s) {
					t.Fatalf("reason %q does not mention %q\n%s", got.Reason, s, h.Console(ex.ID))
				}
			}
			ms := h.measurements(ex.ID)
			if len(ms) == 0 || ms[0].Canary.Query == "" || !strings.Contains(ms[0].Canary.Query, `slot="`) {
				t.Fatalf("measurements %+v", ms)
			}
			if c := h.Console(ex.ID); !strings.Contains(c, "error-rate on ") {
				t.Fatalf("console shows no measurement:\n%s", c)
			}
		})
	}
}

// TestVerifyStepResumesAfterRestart closes the engine mid-analysis and starts a new
// one on the same store: the step continues from its recorded measurements.
func TestVerifyStepResumesAfterRestart(t *testing.T) {
	h := newEngine(t, &scripted{answers: map[string][]answer{"green": nums(0.001)}})
	h.Apply(strings.Replace(verifyWorkflow, "%d", "25", 1))
	ex, err := h.Engine.Start(context.Background(), engine.StartRequest{Workflow: "shop", StartedBy: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(h.measurements(ex.ID)) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	h.Engine.Close()
	before := len(h.measurements(ex.ID))
	h.Restart()
	if _, err := h.Engine.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.Finish(ex.ID); got.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)\n%s", got.Status, got.Reason, h.Console(ex.ID))
	}
	ms := h.measurements(ex.ID)
	if len(ms) != 25 {
		t.Fatalf("%d measurements, want 25 (%d before the restart)", len(ms), before)
	}
	for i, m := range ms {
		if m.Index != i {
			t.Fatalf("measurement %d has index %d: repeated or skipped across the restart", i, m.Index)
		}
	}
	if !strings.Contains(h.Console(ex.ID), "resuming verification") {
		t.Fatalf("console does not say it resumed:\n%s", h.Console(ex.ID))
	}
}
