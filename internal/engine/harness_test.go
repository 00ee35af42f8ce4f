package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/engine/enginetest"
	"github.com/sluicehq/sluice/internal/store/postgres"
	"github.com/sluicehq/sluice/internal/store/postgres/pgtest"
)

// harness is the shared engine harness plus what only the engine's tests ask.
type harness struct{ *enginetest.Harness }

// newHarness runs on SQLite, the embedded default.
func newHarness(t *testing.T) *harness { return newHarnessOn(t, "sqlite") }

// stores are the store implementations the engine's store-sensitive tests run on.
var stores = []string{"sqlite", "postgres"}

// newHarnessOn runs on the named store; postgres gets a fresh schema of its own.
func newHarnessOn(t *testing.T, kind string) *harness {
	t.Helper()
	if kind != "postgres" {
		return &harness{enginetest.New(t, engine.Options{})}
	}
	st, err := postgres.Open(context.Background(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &harness{enginetest.NewOn(t, st, t.TempDir(), engine.Options{})}
}

func (h *harness) decide(id, by string, approve bool, groups ...string) error {
	return h.Engine.Decide(context.Background(), id, engine.Decision{Approve: approve, By: by, Groups: groups, Comment: "looks " + map[bool]string{true: "good", false: "bad"}[approve]})
}

// weights returns the sequence of weight writes the router received for a service.
func (h *harness) weights(service string) []string {
	var out []string
	for _, e := range h.Recorder.Effects() {
		if e.Op == "weights" && e.Service == service {
			out = append(out, e.Weights.String())
		}
	}
	return out
}

// duplicateEffects returns the keys of effects applied more than once.
func (h *harness) duplicateEffects() []string {
	seen := map[string]int{}
	var dups []string
	for _, e := range h.Recorder.Effects() {
		if e.Key == "" {
			continue
		}
		seen[e.Key]++
		if seen[e.Key] == 2 {
			dups = append(dups, e.Key)
		}
	}
	return dups
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

const environmentYAML = enginetest.Environment

// canaryYAML is the seed's shape: set up blue, canary with approval, promote.
const canaryYAML = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: test
  variables:
    - {name: artifact, type: string, required: true}
    - {name: pct, type: percent, default: "10"}
  service: {name: shop, port: 8080, artifact: "${artifact}", instances: 3}
  phases:
    - name: setup
      steps:
        - service: {hosts: [shop.example.com]}
        - deploy: {instances: 100%}
    - name: canary
      steps:
        - traffic: {weight: "${pct}"}
        - wait: 5ms
        - approval: {approvers: [alice, "group:sre"]}
    - name: promote
      steps:
        - traffic: 100%
        - promote: {}
        - scaledown: {delay: 5ms}
`

// newClockHarness runs on SQLite with a fake clock that the test advances. Its
// polls and backoffs take a second, so they are told apart from the waits a test
// advances through.
func newClockHarness(t *testing.T) (*harness, *enginetest.Clock) {
	t.Helper()
	clk := enginetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	h := &harness{enginetest.New(t, engine.Options{Clock: clk, PollInterval: time.Second, RetryBackoff: time.Second})}
	return h, clk
}

// advance waits until the engine waits for each span in turn and moves the clock
// past it.
func advance(t *testing.T, clk *enginetest.Clock, spans ...time.Duration) {
	t.Helper()
	for _, d := range spans {
		clk.WaitForTimer(t, d)
		clk.Advance(d)
	}
}
