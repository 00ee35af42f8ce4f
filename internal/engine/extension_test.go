package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// countingRunner records one measurement every few milliseconds until it has n,
// continuing from what an earlier run of the same attempt recorded.
type countingRunner struct{ n int }

func (c countingRunner) Run(ctx context.Context, sc *engine.StepContext) error {
	prev, err := sc.Records(ctx, "measurement")
	if err != nil {
		return err
	}
	for i := len(prev); i < c.n; i++ {
		if err := sc.Record(ctx, "measurement", "measured", map[string]int{"i": i}); err != nil {
			return err
		}
		if err := sc.Sleep(ctx, time.Now().Add(5*time.Millisecond)); err != nil {
			return err
		}
	}
	sc.Console("info", "%d measurements on %s", c.n, sc.NewSlot)
	return nil
}

const extensionYAML = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: ext}
spec:
  environment: test
  service: {name: ext, port: 8080, artifact: "ext:v1"}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - traffic: 100%
        - loadtest: {duration: 1s}
`

func TestExtensionStepResumesFromItsRecords(t *testing.T) {
	h := newHarness(t)
	h.Options.Steps = map[spec.StepType]engine.StepRunner{spec.StepLoadTest: countingRunner{n: 1000}}
	h.Restart()
	h.Apply(extensionYAML)
	ex := h.Start("ext", nil)
	h.Await("three measurements", 5*time.Second, func() bool { return strings.Count(h.Console(ex.ID), "measured") >= 3 })
	h.Engine.Close()

	// A new engine with a runner that needs only a few more measurements resumes
	// from the recorded ones rather than starting over.
	h.Options.Steps = map[spec.StepType]engine.StepRunner{spec.StepLoadTest: countingRunner{n: 5}}
	h.Restart()
	_, err := h.Engine.Recover(context.Background())
	must(t, err)
	got := h.Finish(ex.ID)
	if got.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)", got.Status, got.Reason)
	}
	j, err := h.Store.Journal(context.Background(), ex.ID)
	must(t, err)
	var is []int
	for _, e := range j {
		if e.Kind == "record.measurement" {
			var m map[string]int
			must(t, json.Unmarshal(e.Data, &m))
			is = append(is, m["i"])
		}
	}
	for k, i := range is {
		if i != k {
			t.Fatalf("measurements %v: repeated or skipped after resume", is)
		}
	}
	if len(is) < 5 {
		t.Fatalf("only %d measurements", len(is))
	}
}

func TestExtensionStepIsInterruptedByRollback(t *testing.T) {
	h := newHarness(t)
	h.Options.Steps = map[spec.StepType]engine.StepRunner{spec.StepLoadTest: countingRunner{n: 1 << 20}}
	h.Restart()
	h.Apply(extensionYAML)
	ex := h.Start("ext", nil)
	waitStep(t, h, ex.ID, "p1.s3")
	must(t, h.Engine.Rollback(context.Background(), ex.ID, "alice", "stop"))
	if got := h.Finish(ex.ID); got.Status != store.StatusRolledBack {
		t.Fatalf("%s (%s)", got.Status, got.Reason)
	}
}
