package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
	"github.com/sluicehq/sluice/internal/verify"
)

type recResolver struct{ rec *recorder.Recorder }

func (r recResolver) Resolve(context.Context, string, *spec.Environment) (engine.Runtime, error) {
	return engine.Runtime{Platform: r.rec, Router: r.rec}, nil
}

// engineHarness is a real engine on SQLite with a recording platform and router
// and the verify step answered by a scripted provider.
type engineHarness struct {
	t   *testing.T
	st  store.Store
	rec *recorder.Recorder
	eng *engine.Engine
	src oneSource
}

func newEngine(t *testing.T, p verify.Provider) *engineHarness {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := &engineHarness{t: t, st: st, rec: recorder.New(), src: oneSource{p}}
	h.start()
	t.Cleanup(func() { h.eng.Close(); st.Close() })
	return h
}

func (h *engineHarness) start() {
	eng, err := engine.New(engine.Options{
		Store: h.st, Resolver: recResolver{h.rec}, PollInterval: 5 * time.Millisecond, RetryBackoff: 5 * time.Millisecond,
		Steps: map[spec.StepType]engine.StepRunner{spec.StepVerify: verify.NewStep(h.src, verify.WithErrorRetry(5*time.Millisecond))},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng = eng
}

func (h *engineHarness) apply(src string) {
	docs, err := spec.ParseDocuments("test.yaml", []byte(src))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, d := range docs {
		kind := store.KindWorkflow
		if d.Kind == spec.KindEnvironment {
			kind = store.KindEnvironment
		}
		if _, _, err := h.st.PutDefinition(context.Background(), store.Definition{Kind: kind, Name: d.Name, Source: string(d.Source), CreatedAt: time.Now()}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *engineHarness) finish(id string) store.Execution {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.eng.Wait(ctx, id); err != nil {
		h.t.Fatalf("execution %s did not finish: %v\n%s", id, err, h.console(id))
	}
	ex, err := h.st.GetExecution(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return ex
}

// settle waits until the execution is finished or paused for a person.
func (h *engineHarness) settle(id string) store.Execution {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ex, err := h.st.GetExecution(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if ex.Status.Terminal() || ex.Status == store.StatusPaused {
			return ex
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("execution %s is still %s\n%s", id, ex.Status, h.console(id))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *engineHarness) console(id string) string {
	evs, err := h.st.Events(context.Background(), id, 0, 0)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%-12s %-6s %s\n", e.Type, e.Step, e.Message)
	}
	return b.String()
}

func (h *engineHarness) measurements(id string) []verify.Measurement {
	j, err := h.st.Journal(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []verify.Measurement
	for _, e := range j {
		if e.Kind == "record.measurement" {
			var m verify.Measurement
			if err := json.Unmarshal(e.Data, &m); err != nil {
				h.t.Fatal(err)
			}
			out = append(out, m)
		}
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
			h := newEngine(t, &scripted{answers: map[string][]answer{"blue": tt.answers}})
			h.apply(strings.Replace(verifyWorkflow, "%d", fmt.Sprint(tt.count), 1))
			ex, err := h.eng.Start(context.Background(), engine.StartRequest{Workflow: "shop", StartedBy: "tester"})
			if err != nil {
				t.Fatal(err)
			}
			got := h.settle(ex.ID)
			if got.Status != tt.status {
				t.Fatalf("%s (%s)\n%s", got.Status, got.Reason, h.console(ex.ID))
			}
			if got.Status == store.StatusPaused {
				defer func() {
					if err := h.eng.Abort(context.Background(), ex.ID, "tester", "done"); err != nil {
						t.Fatal(err)
					}
					h.finish(ex.ID)
				}()
			}
			for _, s := range tt.reason {
				if !strings.Contains(got.Reason, s) {
					t.Fatalf("reason %q does not mention %q\n%s", got.Reason, s, h.console(ex.ID))
				}
			}
			ms := h.measurements(ex.ID)
			if len(ms) == 0 || ms[0].Canary.Query == "" || !strings.Contains(ms[0].Canary.Query, `slot="`) {
				t.Fatalf("measurements %+v", ms)
			}
			if c := h.console(ex.ID); !strings.Contains(c, "error-rate on ") {
				t.Fatalf("console shows no measurement:\n%s", c)
			}
		})
	}
}

// TestVerifyStepResumesAfterRestart closes the engine mid-analysis and starts a new
// one on the same store: the step continues from its recorded measurements.
func TestVerifyStepResumesAfterRestart(t *testing.T) {
	h := newEngine(t, &scripted{answers: map[string][]answer{"blue": nums(0.001)}})
	h.apply(strings.Replace(verifyWorkflow, "%d", "25", 1))
	ex, err := h.eng.Start(context.Background(), engine.StartRequest{Workflow: "shop", StartedBy: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(h.measurements(ex.ID)) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	h.eng.Close()
	before := len(h.measurements(ex.ID))
	h.start()
	if _, err := h.eng.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.finish(ex.ID); got.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)\n%s", got.Status, got.Reason, h.console(ex.ID))
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
	if !strings.Contains(h.console(ex.ID), "resuming verification") {
		t.Fatalf("console does not say it resumed:\n%s", h.console(ex.ID))
	}
}
