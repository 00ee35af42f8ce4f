package engine_test

import (
	"context"
	"errors"
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
	eng, err := engine.New(engine.Options{
		Store: st, Resolver: enginetest.Resolver{Runtime: engine.Runtime{Platform: h.Recorder, Router: h.Recorder}}, Owner: owner, Lease: lease,
		PollInterval: 5 * time.Millisecond, RetryBackoff: 5 * time.Millisecond,
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
			a := h.engineAs(h.Store, "server-a", lease)
			ex, err := a.Start(context.Background(), engine.StartRequest{Workflow: "ha"})
			must(t, err)
			waitStep(t, h, ex.ID, "p1.s3")
			a.Close() // the owner stops renewing, as if killed
			died := time.Now()

			b := h.engineAs(h.Store, "server-b", lease)
			h.Engine = b
			got := h.finish2(b, ex.ID)
			if got.Status != store.StatusSucceeded || got.Owner != "server-b" {
				t.Fatalf("%s owned by %s (%s)", got.Status, got.Owner, got.Reason)
			}
			if d := h.duplicateEffects(); len(d) > 0 {
				t.Fatalf("effects applied twice: %v", d)
			}
			t.Logf("taken over and finished %s after the owner died (lease %s)", time.Since(died).Round(time.Millisecond), lease)
		})
	}
}

func TestALostLeaseStopsTheFormerOwner(t *testing.T) {
	h := newHarness(t)
	h.Engine.Close()
	h.Apply(leaseWorkflow)
	const lease = 300 * time.Millisecond
	flaky := &flakyRenewals{Store: h.Store}
	a := h.engineAs(flaky, "server-a", lease)
	ex, err := a.Start(context.Background(), engine.StartRequest{Workflow: "ha"})
	must(t, err)
	waitStep(t, h, ex.ID, "p1.s3")
	flaky.broken.Store(true) // server-a is cut off from the database but keeps running

	b := h.engineAs(h.Store, "server-b", lease)
	got := h.finish2(b, ex.ID)
	if got.Status != store.StatusSucceeded || got.Owner != "server-b" {
		t.Fatalf("%s owned by %s", got.Status, got.Owner)
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.Active() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the former owner still drives the execution")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := h.duplicateEffects(); len(d) > 0 {
		t.Fatalf("effects applied twice: %v", d)
	}
}

// finish2 waits until the execution is terminal in the store (whichever engine
// drives it) and returns it.
func (h *harness) finish2(eng *engine.Engine, id string) store.Execution {
	h.T.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ex, err := h.Store.GetExecution(context.Background(), id)
		must(h.T, err)
		if ex.Status.Terminal() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			must(h.T, eng.Wait(ctx, id))
			return ex
		}
		if time.Now().After(deadline) {
			h.T.Fatalf("execution %s is still %s\n%s", id, ex.Status, h.Console(id))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCloseHandsExecutionsBack(t *testing.T) {
	h := newHarness(t)
	h.Engine.Close()
	h.Apply(leaseWorkflow)
	const lease = 5 * time.Second
	a := h.engineAs(h.Store, "server-a", lease)
	ex, err := a.Start(context.Background(), engine.StartRequest{Workflow: "ha"})
	must(t, err)
	waitStep(t, h, ex.ID, "p1.s3")
	b := h.engineAs(h.Store, "server-b", lease)
	start := time.Now()
	a.Close() // a graceful shutdown ends a's lease at once
	got := h.finish2(b, ex.ID)
	if got.Status != store.StatusSucceeded || got.Owner != "server-b" {
		t.Fatalf("%s owned by %s", got.Status, got.Owner)
	}
	if took := time.Since(start); took >= lease {
		t.Fatalf("takeover after a graceful shutdown took %s, as long as a lapsed lease", took)
	}
}
