package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/engine/enginetest"
	"github.com/sluicehq/sluice/internal/store"
)

// flakyRenewals makes RenewLeases fail while broken is set, as a server cut off
// from its database would see.
type flakyRenewals struct {
	store.Store
	broken atomic.Bool
}

func (f *flakyRenewals) RenewLeases(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error) {
	if f.broken.Load() {
		return nil, errors.New("database unreachable")
	}
	return f.Store.RenewLeases(ctx, owner, ids, until)
}

const leaseWorkflow = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: ha}
spec:
  environment: test
  service: {name: ha, port: 8080, artifact: "ha:v1", instances: 2}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 2}
        - traffic: 100%
        - wait: 600ms
        - promote: {}
`

func (h *harness) engineAs(st store.Store, owner string, lease time.Duration) *engine.Engine {
	h.T.Helper()
	return h.engineOn(st, owner, lease, nil)
}

// engineOn is engineAs on a clock; nil is the wall clock.
func (h *harness) engineOn(st store.Store, owner string, lease time.Duration, clk engine.Clock) *engine.Engine {
	h.T.Helper()
	eng, err := engine.New(engine.Options{
		Store: st, Resolver: enginetest.Resolver{Runtime: engine.Runtime{Platform: h.Recorder, Router: h.Recorder}}, Owner: owner, Lease: lease,
		PollInterval: 5 * time.Millisecond, RetryBackoff: 5 * time.Millisecond, Clock: clk, Publisher: h.Publisher(),
	})
	if err != nil {
		h.T.Fatal(err)
	}
	h.T.Cleanup(eng.Close)
	return eng
}

func TestTakeoverAfterTheOwnerDies(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			h := newHarnessOn(t, kind)
			h.Engine.Close()
			h.Apply(leaseWorkflow)
			const lease = 300 * time.Millisecond
			clk := enginetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			a := h.engineOn(h.Store, "server-a", lease, clk)
			ex, err := a.Start(context.Background(), engine.StartRequest{Workflow: "ha"})
			must(t, err)
			clk.WaitForTimer(t, 600*time.Millisecond) // a drives the wait step
			a.Close()                                 // the owner stops renewing, as if killed
			died := clk.Now()

			b := h.engineOn(h.Store, "server-b", lease, clk)
			h.Engine = b
			// b claims at its next lease round and finishes what is left of the wait
			advance(t, clk, lease/5, 600*time.Millisecond-lease/5)
			got := h.finish2(b, ex.ID)
			if got.Status != store.StatusSucceeded || got.Owner != "server-b" {
				t.Fatalf("%s owned by %s (%s)", got.Status, got.Owner, got.Reason)
			}
			if d := h.duplicateEffects(); len(d) > 0 {
				t.Fatalf("effects applied twice: %v", d)
			}
			t.Logf("taken over and finished %s (engine time) after the owner died (lease %s)", clk.Now().Sub(died), lease)
		})
	}
}

func TestALostLeaseStopsTheFormerOwner(t *testing.T) {
	h, clk := newClockHarness(t)
	h.Engine.Close()
	// The wait is many leases long, so a's lease loop sees the lapse long before
	// a's wait ends, however late a loaded machine runs its goroutines. (With a
	// wait of two leases, a once finished the execution itself first: safe, as
	// its commits still had the version b's claim would have changed, but not
	// what this test is about.)
	h.Apply(strings.Replace(leaseWorkflow, "wait: 600ms", "wait: 6s", 1))
	const lease = 300 * time.Millisecond
	flaky := &flakyRenewals{Store: h.Store}
	a := h.engineOn(flaky, "server-a", lease, clk)
	ex, err := a.Start(context.Background(), engine.StartRequest{Workflow: "ha"})
	must(t, err)
	clk.WaitForTimer(t, 6*time.Second) // a drives the wait step
	flaky.broken.Store(true)           // server-a is cut off from the database but keeps running

	b := h.engineOn(h.Store, "server-b", lease, clk)
	// Lease rounds pass until a's lease lapses, b takes the execution over and
	// finishes it, and a, whose renewals failed for a whole lease, lets go.
	// a, failing fast, may go round much faster than b, so the limit is real time.
	for limit := time.Now().Add(60 * time.Second); !h.Get(ex.ID).Status.Terminal() || a.Active() != 0; {
		if time.Now().After(limit) {
			t.Fatalf("at %s: %s, former owner drives %d executions", clk.Now(), h.Get(ex.ID).Status, a.Active())
		}
		advance(t, clk, lease/5)
	}
	got := h.finish2(b, ex.ID)
	if got.Status != store.StatusSucceeded || got.Owner != "server-b" {
		t.Fatalf("%s owned by %s", got.Status, got.Owner)
	}
	if d := h.duplicateEffects(); len(d) > 0 {
		t.Fatalf("effects applied twice: %v", d)
	}
}

// finish2 waits until the execution is terminal in the store (whichever engine
// drives it) and returns it.
func (h *harness) finish2(eng *engine.Engine, id string) store.Execution {
	h.T.Helper()
	var ex store.Execution
	if !h.Within(15*time.Second, func() bool { ex = h.Get(id); return ex.Status.Terminal() }) {
		h.T.Fatalf("execution %s is still %s\n%s", id, ex.Status, h.Console(id))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(h.T, eng.Wait(ctx, id))
	return ex
}

func TestCloseHandsExecutionsBack(t *testing.T) {
	h, clk := newClockHarness(t)
	h.Engine.Close()
	h.Apply(leaseWorkflow)
	const lease = 5 * time.Second
	a := h.engineOn(h.Store, "server-a", lease, clk)
	ex, err := a.Start(context.Background(), engine.StartRequest{Workflow: "ha"})
	must(t, err)
	clk.WaitForTimer(t, 600*time.Millisecond) // a drives the wait step
	b := h.engineOn(h.Store, "server-b", lease, clk)
	start := clk.Now()
	a.Close()                // a graceful shutdown ends a's lease at once
	advance(t, clk, lease/5) // b's next claim, well before a's lease would lapse
	got := h.finish2(b, ex.ID)
	if got.Status != store.StatusSucceeded || got.Owner != "server-b" {
		t.Fatalf("%s owned by %s", got.Status, got.Owner)
	}
	if took := clk.Now().Sub(start); took >= lease {
		t.Fatalf("takeover after a graceful shutdown took %s, as long as a lapsed lease", took)
	}
}
