package storetest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/internal/store"
)

func testCreateAndGet(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	e := newExec("e1", "prod", "shop", 0)
	create(t, s, e)
	if e.Version != 1 {
		t.Fatalf("version after create: %d, want 1", e.Version)
	}
	got, err := s.GetExecution(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := sameExecution(got, *e); diff != "" {
		t.Fatal(diff)
	}
	if _, err := s.GetExecution(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown execution: want ErrNotFound, got %v", err)
	}
	bad := newExec("e2", "prod", "other", 0)
	bad.Version = 3
	if err := s.Commit(ctx, &store.Commit{Execution: bad, Create: true}); err == nil {
		t.Fatal("create with a non-zero version: want an error")
	}
}

func testUpdateVersions(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	e := newExec("e1", "prod", "shop", 0)
	create(t, s, e)
	for v := int64(2); v <= 4; v++ {
		e.State = json.RawMessage(`{"phase":` + string(rune('0'+v)) + `}`)
		e.UpdatedAt = at(int(v))
		e.Reason = "step " + string(rune('0'+v))
		update(t, s, e, store.StatusWaiting)
		if e.Version != v {
			t.Fatalf("version after update: %d, want %d", e.Version, v)
		}
	}
	got, err := s.GetExecution(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := sameExecution(got, *e); diff != "" {
		t.Fatal(diff)
	}
}

func testStaleUpdate(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	e := newExec("e1", "prod", "shop", 0)
	create(t, s, e)
	stale := *e
	update(t, s, e, store.StatusWaiting) // now version 2
	stale.Status, stale.Reason = store.StatusFailed, "overwritten"
	c := &store.Commit{Execution: &stale,
		Journal: []store.JournalEntry{{Key: "e1/x/1", Kind: "step.started", At: at(1)}},
		Events:  []store.Event{{Type: "console", Message: "lost", At: at(1)}},
		Service: &store.ServiceState{Environment: "prod", Service: "shop", LiveSlot: "blue", UpdatedAt: at(1)}}
	err := s.Commit(ctx, c)
	var ce *store.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: want *ConflictError matching ErrConflict, got %v", err)
	}
	if ce.ID != "e1" || ce.Expected != 1 || ce.Actual != 2 {
		t.Fatalf("conflict: got %+v, want id e1 expected 1 actual 2", ce)
	}
	if stale.Version != 1 || c.Journal[0].Seq != 0 || c.Events[0].Seq != 0 {
		t.Fatalf("a failed commit must not fill in versions or seqs: %d %d %d", stale.Version, c.Journal[0].Seq, c.Events[0].Seq)
	}
	got, err := s.GetExecution(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := sameExecution(got, *e); diff != "" {
		t.Fatalf("stored row changed by a stale update: %s", diff)
	}
	assertNothingWritten(t, s, "e1")
}

// assertNothingWritten checks that an execution has no journal, events or prod/shop service.
func assertNothingWritten(t *testing.T, s store.Store, id string) {
	t.Helper()
	ctx := ctxT(t)
	if j, err := s.Journal(ctx, id); err != nil || len(j) != 0 {
		t.Errorf("journal after failed commit: %v, %v", j, err)
	}
	if ev, err := s.Events(ctx, id, 0, 0); err != nil || len(ev) != 0 {
		t.Errorf("events after failed commit: %v, %v", ev, err)
	}
	if sv, err := s.GetService(ctx, "prod", "shop"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("service after failed commit: %+v, %v", sv, err)
	}
}

func testCreateTwice(t *testing.T, s store.Store) {
	e := newExec("e1", "prod", "shop", 0)
	create(t, s, e)
	update(t, s, e, store.StatusSucceeded)
	again := newExec("e1", "prod", "other", 5)
	err := s.Commit(ctxT(t), &store.Commit{Execution: again, Create: true})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create of an existing id: want ErrConflict, got %v", err)
	}
}

func testUpdateMissing(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	e := newExec("ghost", "prod", "shop", 0)
	e.Version = 1
	if err := s.Commit(ctx, &store.Commit{Execution: e}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing execution: want ErrNotFound, got %v", err)
	}
	c := &store.Commit{ExecutionID: "ghost", Events: []store.Event{{Type: "console", At: at(0)}}}
	if err := s.Commit(ctx, c); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("events for a missing execution: want ErrNotFound, got %v", err)
	}
	if err := s.Commit(ctx, &store.Commit{Journal: []store.JournalEntry{{Key: "k", At: at(0)}}}); err == nil {
		t.Fatal("journal without an execution id: want an error")
	}
}

func testAtomicity(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	holder := newExec("holder", "prod", "shop", 0)
	create(t, s, holder)
	// A create that hits the service lock must write none of its parts.
	e := newExec("e2", "prod", "shop", 1)
	c := &store.Commit{Execution: e, Create: true,
		Journal: []store.JournalEntry{{Key: "e2/a/1", Kind: "step.started", At: at(1)}},
		Events:  []store.Event{{Type: "console", Message: "hello", At: at(1)}},
		Service: &store.ServiceState{Environment: "prod", Service: "shop", LiveSlot: "green", UpdatedAt: at(1)}}
	if err := s.Commit(ctx, c); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("want ErrBusy, got %v", err)
	}
	if _, err := s.GetExecution(ctx, "e2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("execution of a failed commit exists: %v", err)
	}
	assertNothingWritten(t, s, "e2")
	// Invalid JSON in the last event fails the whole commit, including the journal entry.
	bad := &store.Commit{ExecutionID: "holder",
		Journal: []store.JournalEntry{{Key: "holder/a/1", Kind: "step.started", At: at(2)}},
		Events:  []store.Event{{Type: "console", At: at(2)}, {Type: "console", Data: json.RawMessage(`{nope`), At: at(2)}}}
	if err := s.Commit(ctx, bad); err == nil {
		t.Fatal("commit with invalid JSON: want an error")
	}
	assertNothingWritten(t, s, "holder")
	// The next good commit still starts at seq 1: failed commits consume no seqs.
	good := &store.Commit{ExecutionID: "holder", Journal: []store.JournalEntry{{Key: "holder/a/1", Kind: "step.started", At: at(3)}}}
	if err := s.Commit(ctx, good); err != nil || good.Journal[0].Seq != 1 {
		t.Fatalf("good commit: seq %d, %v", good.Journal[0].Seq, err)
	}
}

func testSeqs(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newExec("a", "prod", "shop", 0), newExec("b", "prod", "cart", 1)
	ca := &store.Commit{Execution: a, Create: true,
		Journal: []store.JournalEntry{{Key: "a/1", Kind: "k", At: at(0)}, {Key: "a/2", Kind: "k", At: at(0), Data: json.RawMessage(`{"n":2}`)}},
		Events:  []store.Event{{Type: "status", Level: "info", Message: "started", At: at(0)}}}
	if err := s.Commit(ctx, ca); err != nil {
		t.Fatal(err)
	}
	if ca.Journal[0].Seq != 1 || ca.Journal[1].Seq != 2 || ca.Events[0].Seq != 1 || ca.Events[0].ExecutionID != "a" {
		t.Fatalf("seqs on create: %+v %+v", ca.Journal, ca.Events)
	}
	create(t, s, b)
	cb := &store.Commit{ExecutionID: "b", Journal: []store.JournalEntry{{Key: "b/1", At: at(1)}},
		Events: []store.Event{{Type: "console", At: at(1)}, {Type: "console", At: at(1)}}}
	if err := s.Commit(ctx, cb); err != nil {
		t.Fatal(err)
	}
	if cb.Journal[0].Seq != 1 || cb.Events[0].Seq != 1 || cb.Events[1].Seq != 2 {
		t.Fatalf("seqs of b must start at 1: %+v %+v", cb.Journal, cb.Events)
	}
	a.UpdatedAt = at(5)
	ca2 := &store.Commit{Execution: a, Journal: []store.JournalEntry{{Key: "a/3", At: at(5)}},
		Events: []store.Event{{Type: "step", Step: "p1.s1", Level: "warn", Message: "slow", At: at(5)}}}
	if err := s.Commit(ctx, ca2); err != nil {
		t.Fatal(err)
	}
	if ca2.Journal[0].Seq != 3 || ca2.Events[0].Seq != 2 {
		t.Fatalf("seqs continue per execution: journal %d events %d", ca2.Journal[0].Seq, ca2.Events[0].Seq)
	}
	j, err := s.Journal(ctx, "a")
	if err != nil || len(j) != 3 {
		t.Fatalf("journal: %v, %v", j, err)
	}
	for i, e := range j {
		if e.Seq != int64(i+1) {
			t.Fatalf("journal out of order: %+v", j)
		}
	}
	if j[1].Key != "a/2" || j[1].Kind != "k" || !jsonEqual(j[1].Data, json.RawMessage(`{"n":2}`)) || !j[1].At.Equal(at(0)) || j[0].Data != nil {
		t.Fatalf("journal entry round trip: %+v", j)
	}
	ev, err := s.Events(ctx, "a", 0, 0)
	if err != nil || len(ev) != 2 {
		t.Fatalf("events: %v, %v", ev, err)
	}
	want := store.Event{ExecutionID: "a", Seq: 2, At: at(5), Type: "step", Step: "p1.s1", Level: "warn", Message: "slow"}
	if got := ev[1]; got.ExecutionID != want.ExecutionID || got.Seq != want.Seq || !got.At.Equal(want.At) ||
		got.Type != want.Type || got.Step != want.Step || got.Level != want.Level || got.Message != want.Message || got.Data != nil {
		t.Fatalf("event round trip: got %+v, want %+v", got, want)
	}
	if got, _ := s.GetExecution(ctx, "a"); got.Version != 2 {
		t.Fatalf("a journal-only commit must not bump the version; got %d", got.Version)
	}
}

func testEventsPaging(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	create(t, s, newExec("e", "prod", "shop", 0))
	for i := 0; i < 10; i++ {
		c := &store.Commit{ExecutionID: "e", Events: []store.Event{{Type: "console", Message: string(rune('a' + i)), At: at(i)}}}
		if err := s.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var got []int64
	after := int64(0)
	for {
		page, err := s.Events(ctx, "e", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("page of %d events, limit 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			got = append(got, ev.Seq)
		}
		after = page[len(page)-1].Seq
	}
	if len(got) != 10 || got[0] != 1 || got[9] != 10 {
		t.Fatalf("paged seqs: %v", got)
	}
	tail, err := s.Events(ctx, "e", 7, 0)
	if err != nil || len(tail) != 3 || tail[0].Seq != 8 || tail[0].Message != "h" {
		t.Fatalf("events after 7: %+v, %v", tail, err)
	}
	if none, err := s.Events(ctx, "e", 10, 5); err != nil || len(none) != 0 {
		t.Fatalf("events after the last: %+v, %v", none, err)
	}
}
