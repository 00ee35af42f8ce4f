package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/engine/enginetest"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/verify"
)

// analysisRunner stands in for the verify runner of background analyses: it
// records a measurement every few milliseconds, continuing from what an earlier
// run recorded, and fails once failAt measurements exist (0: never).
type analysisRunner struct {
	failAt int
	fail   chan struct{} // when set, fails once closed
	mu     sync.Mutex
	starts []analysisStart
}

type analysisStart struct {
	key      string
	started  time.Time
	previous int
	bg       bool
}

func (a *analysisRunner) Run(ctx context.Context, sc *engine.StepContext) error {
	prev, err := sc.Records(ctx, "measurement")
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.starts = append(a.starts, analysisStart{key: sc.StepKey, started: sc.StartedAt, previous: len(prev), bg: sc.Background})
	a.mu.Unlock()
	for i := len(prev); ; i++ {
		if a.failAt > 0 && i >= a.failAt {
			return errors.New("metric errors: Failed: canary worse than baseline")
		}
		if a.fail != nil {
			select {
			case <-a.fail:
				return errors.New("metric errors: Failed: canary worse than baseline")
			default:
			}
		}
		sc.Console("info", "errors on blue: measurement %d", i)
		if err := sc.Record(ctx, "measurement", "", map[string]int{"i": i}); err != nil {
			return err
		}
		if err := sc.Sleep(ctx, time.Now().Add(5*time.Millisecond)); err != nil {
			return err
		}
	}
}

func (a *analysisRunner) started() []analysisStart {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]analysisStart(nil), a.starts...)
}

const analysisYAML = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: watched}
spec:
  environment: test
  service: {name: shop, port: 8080, artifact: "shop:v1"}
  phases:
    - name: canary
      analysis:
        metrics:
          - {name: errors, provider: prom, query: errors, successCondition: result < 1}
      steps:
        - deploy: {instances: 1}
        - traffic: 10%
        - name: soak
          wait: 1h
    - name: promote
      steps:
        - promote: {}
`

func analysisHarness(t *testing.T, r *analysisRunner) *harness {
	h := newHarness(t)
	h.Options.Steps = map[spec.StepType]engine.StepRunner{spec.StepVerify: r}
	h.Restart()
	h.Apply(enginetest.Environment + "  providers: [{name: prom, type: prometheus, url: http://127.0.0.1:9}]\n")
	h.Apply(analysisYAML)
	return h
}

// TestAnalysisFailureEndsAWait: the phase's analysis starts after its traffic
// step and its failure ends the hour-long wait step at once: the wait is failed,
// the execution rolled back, the promote phase never ran.
func TestAnalysisFailureEndsAWait(t *testing.T) {
	r := &analysisRunner{fail: make(chan struct{})}
	h := analysisHarness(t, r)
	ex := h.Start("watched", nil)
	h.Await("the analysis measures twice", 10*time.Second, func() bool {
		return strings.Contains(h.Console(ex.ID), "analysis of phase canary: errors on blue: measurement 2")
	})
	waitStep(t, h, ex.ID, "p1.s3")
	close(r.fail) // the verdict comes while the hour-long wait runs
	got := h.Finish(ex.ID)
	if got.Status != store.StatusRolledBack || !strings.Contains(got.Reason, "background analysis of phase canary failed") ||
		!strings.Contains(got.Reason, "canary worse than baseline") {
		t.Fatalf("%s (%s)\n%s", got.Status, got.Reason, h.Console(ex.ID))
	}
	var st engine.State
	must(t, json.Unmarshal(got.State, &st))
	soak := st.Phases[0].Steps[2]
	if soak.Status != store.StatusFailed || soak.FinishedAt == nil || soak.FinishedAt.Sub(*soak.StartedAt) > time.Minute {
		t.Fatalf("wait step %+v, want failed well before its hour", soak)
	}
	if st.Promoted || st.Phases[1].Steps[0].Status != store.StatusPending {
		t.Fatalf("the promote phase ran: %+v", st.Phases[1])
	}
	starts := r.started()
	if len(starts) != 1 || starts[0].key != "p1.analysis" || !starts[0].bg {
		t.Fatalf("analysis starts %+v, want one background start of p1.analysis", starts)
	}
	// It began with traffic on the new slot: after the traffic step.
	if tr := st.Phases[0].Steps[1]; tr.FinishedAt == nil || starts[0].started.Before(*tr.StartedAt) {
		t.Fatalf("analysis started at %s, before the traffic step (%+v)", starts[0].started, tr)
	}
	if c := h.Console(ex.ID); !strings.Contains(c, "analysis of phase canary: errors on blue: measurement 2") {
		t.Fatalf("console has no line of the analysis:\n%s", c)
	}
}

// TestAnalysisResumesAfterRestart: a server restart in the middle of the wait
// starts the analysis again with the same start time and the measurements it
// recorded (the verify runner replays them, so a sequential test keeps its
// evidence), and it keeps watching until the execution ends.
func TestAnalysisResumesAfterRestart(t *testing.T) {
	r := &analysisRunner{}
	h := analysisHarness(t, r)
	ex := h.Start("watched", nil)
	h.Await("three measurements recorded", 10*time.Second, func() bool { return len(h.Records(ex.ID, "measurement")) >= 3 })
	h.Engine.Close()

	r2 := &analysisRunner{failAt: 6}
	h.Options.Steps = map[spec.StepType]engine.StepRunner{spec.StepVerify: r2}
	h.Restart()
	_, err := h.Engine.Recover(context.Background())
	must(t, err)
	got := h.Finish(ex.ID)
	if got.Status != store.StatusRolledBack {
		t.Fatalf("%s (%s)\n%s", got.Status, got.Reason, h.Console(ex.ID))
	}
	first, again := r.started(), r2.started()
	if len(first) != 1 || len(again) != 1 {
		t.Fatalf("starts before %+v and after %+v the restart", first, again)
	}
	if again[0].previous < 3 || !again[0].started.Equal(first[0].started) {
		t.Fatalf("after the restart the analysis began at %s with %d recorded measurements; before, at %s",
			again[0].started, again[0].previous, first[0].started)
	}
	var is []int
	for _, raw := range h.Records(ex.ID, "measurement") {
		var m map[string]int
		must(t, json.Unmarshal(raw, &m))
		is = append(is, m["i"])
	}
	for k, i := range is {
		if i != k {
			t.Fatalf("measurements %v: repeated or skipped after the restart", is)
		}
	}
}

const watchYAML = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: watch}
spec:
  environment: test
  service: {name: shop, port: 8080, artifact: "shop:v1"}
  analysis:
    afterPromotion: ${watch}
    metrics:
      - {name: errors, provider: prom, query: errors, successCondition: result < 1}
  variables:
    - {name: watch, type: duration, default: 1h}
  phases:
    - name: all
      steps:
        - deploy: {instances: 1}
        - traffic: 10%
        - promote: {}
`

// TestAnalysisWatchesAfterPromotion: the workflow's analysis keeps watching for
// afterPromotion once the new slot is live; the execution does not end before
// the watch, and a failure during it rolls back to the old slot.
func TestAnalysisWatchesAfterPromotion(t *testing.T) {
	r := &analysisRunner{fail: make(chan struct{})}
	h := analysisHarness(t, r)
	h.Apply(watchYAML)
	ex := h.Start("watch", nil)
	h.Await("the watch after promotion begins", 10*time.Second, func() bool {
		return strings.Contains(h.Console(ex.ID), "after its promotion until")
	})
	close(r.fail) // the verdict comes during the watch
	got := h.Finish(ex.ID)
	var st engine.State
	must(t, json.Unmarshal(got.State, &st))
	if got.Status != store.StatusRolledBack || !strings.Contains(got.Reason, "background analysis of the workflow failed") {
		t.Fatalf("%s (%s)\n%s", got.Status, got.Reason, h.Console(ex.ID))
	}
	if !strings.Contains(h.Console(ex.ID), "analysis of the workflow watches green after its promotion until") {
		t.Fatalf("no watch after promotion:\n%s", h.Console(ex.ID))
	}

	// A watch that passes ends the execution after it, not before.
	h.Options.Steps = map[spec.StepType]engine.StepRunner{spec.StepVerify: &analysisRunner{}}
	h.Restart()
	ok := h.Start("watch", map[string]string{"watch": "300ms"})
	done := h.Finish(ok.ID)
	must(t, json.Unmarshal(done.State, &st))
	if done.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)\n%s", done.Status, done.Reason, h.Console(ok.ID))
	}
	as := st.Analyses["analysis"]
	if as == nil || !as.Done || as.PromotedAt == nil || done.UpdatedAt.Sub(*as.PromotedAt) < 300*time.Millisecond {
		t.Fatalf("analysis state %+v; execution ended at %s", as, done.UpdatedAt)
	}
}

// shortRunner records sequential measurements that lack evidence, then watches.
type shortRunner struct{}

func (shortRunner) Run(ctx context.Context, sc *engine.StepContext) error {
	m := verify.Measurement{Metric: "errors-vs-live", Judge: "sequential", Verdict: verify.Inconclusive,
		Evidence: &verify.Evidence{Requests: 9, Needed: 57}}
	if err := sc.Record(ctx, "measurement", "", m); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestApprovalSaysNotEnoughEvidence: an approval step whose phase's analysis has
// seen too few canary requests tells the approvers so, on the console and in the
// execution's reason while it waits.
func TestApprovalSaysNotEnoughEvidence(t *testing.T) {
	h := newHarness(t)
	h.Options.Steps = map[spec.StepType]engine.StepRunner{spec.StepVerify: shortRunner{}}
	h.Options.EvidenceNote = verify.EvidenceNoteJSON
	h.Restart()
	h.Apply(enginetest.Environment + "  providers: [{name: prom, type: prometheus, url: http://127.0.0.1:9}]\n")
	h.Apply(strings.Replace(analysisYAML, "        - name: soak\n          wait: 1h\n", "        - wait: 200ms\n        - approval: {approvers: [alice]}\n", 1))
	ex := h.Start("watched", nil)
	got := h.WaitFor(ex.ID, store.StatusWaiting)
	const want = "errors-vs-live: not enough evidence: 9 requests on the canary (57 needed)"
	if !strings.Contains(got.Reason, want) || !strings.Contains(h.Console(ex.ID), "before you approve: "+want) {
		t.Fatalf("reason %q, console:\n%s", got.Reason, h.Console(ex.ID))
	}
	must(t, h.Engine.Rollback(context.Background(), ex.ID, "alice", "not enough evidence"))
	h.Finish(ex.ID)
}
