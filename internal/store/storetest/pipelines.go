package storetest

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/internal/store"
)

// testPipelineRuns checks a run's create, optimistic updates, listing, and that
// claims and renewals behave as they do for executions.
func testPipelineRuns(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	ps, ok := s.(store.PipelineRuns)
	if !ok {
		t.Fatalf("%T does not implement store.PipelineRuns", s)
	}
	run := func(id string, sec int) *store.PipelineRun {
		return &store.PipelineRun{ID: id, Pipeline: "shop-release", PipelineVersion: 2,
			Variables: map[string]string{"artifact": "shop:v2"}, StartedBy: "alice", CreatedAt: at(sec), UpdatedAt: at(sec),
			Status: store.StatusRunning, State: json.RawMessage(`{"stages":{"staging":{"status":"running"}}}`),
			Owner: "a", LeaseUntil: at(sec + 15)}
	}
	r1 := run("p1", 1)
	if err := ps.CreatePipelineRun(ctx, r1); err != nil || r1.Version != 1 {
		t.Fatalf("create: %v, version %d", err, r1.Version)
	}
	if err := ps.CreatePipelineRun(ctx, run("p1", 1)); err == nil {
		t.Fatal("creating p1 twice succeeded")
	}
	got, err := ps.GetPipelineRun(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Variables["artifact"] != "shop:v2" || !got.CreatedAt.Equal(at(1)) || got.Owner != "a" || !got.LeaseUntil.Equal(at(16)) || got.StartedBy != "alice" {
		t.Fatalf("read back %+v", got)
	}
	var st map[string]any
	if err := json.Unmarshal(got.State, &st); err != nil || st["stages"] == nil {
		t.Fatalf("state read back as %s: %v", got.State, err)
	}
	if _, err := ps.GetPipelineRun(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown run: %v, want ErrNotFound", err)
	}

	got.Status, got.Reason = store.StatusWaiting, "waiting for approval"
	if err := ps.UpdatePipelineRun(ctx, &got); err != nil || got.Version != 2 {
		t.Fatalf("update: %v, version %d", err, got.Version)
	}
	stale := *r1 // version 1
	stale.Status = store.StatusFailed
	if err := ps.UpdatePipelineRun(ctx, &stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v, want a conflict", err)
	}
	missing := run("nope", 1)
	missing.Version = 1
	if err := ps.UpdatePipelineRun(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of an unknown run: %v, want ErrNotFound", err)
	}

	testPipelineUpdateRace(t, ps, got)
	testPipelineLeases(t, ps, run)
}

// testPipelineUpdateRace checks that of two writers carrying the same version one wins.
func testPipelineUpdateRace(t *testing.T, ps store.PipelineRuns, r store.PipelineRun) {
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := r
			c.Reason = "writer"
			errs[i] = ps.UpdatePipelineRun(ctx, &c)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("racing update: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of 2 racing updates won, want 1", won)
	}
}

// testPipelineLeases checks claims of expired and own runs, renewals and listing.
func testPipelineLeases(t *testing.T, ps store.PipelineRuns, run func(string, int) *store.PipelineRun) {
	ctx := ctxT(t)
	r2 := run("p2", 2)
	r2.Owner, r2.LeaseUntil = "b", at(100)
	done := run("p3", 3)
	done.Status = store.StatusSucceeded
	for _, r := range []*store.PipelineRun{r2, done} {
		if err := ps.CreatePipelineRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// at 20 the lease of p1 (owner a, until 16) has ended; p2's (b, until 100) has not
	claimed, err := ps.ClaimPipelineRuns(ctx, store.ClaimRequest{Owner: "c", Now: at(20), Until: at(35)})
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 1 || claimed[0].ID != "p1" || claimed[0].Owner != "c" {
		t.Fatalf("claimed %+v, want p1 for c", claimed)
	}
	before, _ := ps.GetPipelineRun(ctx, "p2")
	if own, err := ps.ClaimPipelineRuns(ctx, store.ClaimRequest{Owner: "b", Now: at(20), Until: at(120), Own: true}); err != nil ||
		len(own) != 1 || own[0].ID != "p2" || own[0].Version != before.Version+1 {
		t.Fatalf("own claim: %+v, %v", own, err)
	}
	renewed, err := ps.RenewPipelineLeases(ctx, "c", []string{"p1", "p2", "p3"}, at(50))
	if err != nil || len(renewed) != 1 || renewed[0] != "p1" {
		t.Fatalf("renewed %v, %v; want only p1", renewed, err)
	}
	if r, _ := ps.GetPipelineRun(ctx, "p1"); !r.LeaseUntil.Equal(at(50)) {
		t.Fatalf("p1 lease %v after renewal, want %v", r.LeaseUntil, at(50))
	}
	all, err := ps.ListPipelineRuns(ctx, store.PipelineRunFilter{})
	if err != nil || len(all) != 3 || all[0].ID != "p3" || all[2].ID != "p1" {
		t.Fatalf("list: %v, %v; want p3, p2, p1", runIDs(all), err)
	}
	active, err := ps.ListPipelineRuns(ctx, store.PipelineRunFilter{Pipeline: "shop-release", Active: true, Limit: 1})
	if err != nil || len(active) != 1 || active[0].ID != "p2" {
		t.Fatalf("active, limit 1: %v, %v; want p2", runIDs(active), err)
	}
}

func runIDs(rs []store.PipelineRun) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
