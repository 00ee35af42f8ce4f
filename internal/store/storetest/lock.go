package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

func testServiceLock(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	first := newExec("first", "prod", "shop", 0)
	create(t, s, first)
	create(t, s, newExec("other-env", "staging", "shop", 1)) // other environment: free
	create(t, s, newExec("other-svc", "prod", "cart", 2))    // other service: free
	second := newExec("second", "prod", "shop", 3)
	err := s.Commit(ctx, &store.Commit{Execution: second, Create: true})
	var be *store.BusyError
	if !errors.As(err, &be) || !errors.Is(err, store.ErrBusy) {
		t.Fatalf("second active execution: want *BusyError matching ErrBusy, got %v", err)
	}
	if be.Holder != "first" || be.Environment != "prod" || be.Service != "shop" {
		t.Fatalf("busy error: %+v", be)
	}
	// Non-terminal statuses keep holding the lock.
	for _, st := range []store.Status{store.StatusWaiting, store.StatusPaused, store.StatusRollingBack, store.StatusPending} {
		update(t, s, first, st)
		if err := s.Commit(ctx, &store.Commit{Execution: newExec("second", "prod", "shop", 3), Create: true}); !errors.Is(err, store.ErrBusy) {
			t.Fatalf("holder %s: want ErrBusy, got %v", st, err)
		}
	}
	update(t, s, first, store.StatusRolledBack)
	second = newExec("second", "prod", "shop", 3)
	create(t, s, second)
	update(t, s, second, store.StatusSucceeded)
	third := newExec("third", "prod", "shop", 4)
	third.Status = store.StatusPending
	create(t, s, third)
	// Bringing a terminal execution back to life while another holds the service is refused.
	first.Status = store.StatusRunning
	if err := s.Commit(ctx, &store.Commit{Execution: first}); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("reviving a terminal execution under a holder: want ErrBusy, got %v", err)
	}
	// A terminal execution may be created while another is active.
	done := newExec("archived", "prod", "shop", 5)
	done.Status = store.StatusAborted
	create(t, s, done)
}

func testListExecutions(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	type row struct {
		id, wf, env, svc, by string
		status               store.Status
		sec                  int
	}
	for _, r := range []row{
		{"e1", "checkout", "prod", "shop", "ana", store.StatusSucceeded, 10},
		{"e2", "checkout", "prod", "shop", "bo", store.StatusRunning, 30},
		{"e3", "billing", "prod", "pay", "ana", store.StatusFailed, 20},
		{"e4", "checkout", "staging", "shop", "ana", store.StatusWaiting, 40},
		{"e5", "billing", "staging", "pay", "bo", store.StatusAborted, 50},
	} {
		e := newExec(r.id, r.env, r.svc, r.sec)
		e.Workflow, e.StartedBy, e.Status = r.wf, r.by, r.status
		create(t, s, e)
	}
	for _, tc := range []struct {
		name string
		f    store.ExecutionFilter
		want []string
	}{
		{"all newest first", store.ExecutionFilter{}, []string{"e5", "e4", "e2", "e3", "e1"}},
		{"workflow", store.ExecutionFilter{Workflow: "checkout"}, []string{"e4", "e2", "e1"}},
		{"environment", store.ExecutionFilter{Environment: "prod"}, []string{"e2", "e3", "e1"}},
		{"service", store.ExecutionFilter{Service: "pay"}, []string{"e5", "e3"}},
		{"status", store.ExecutionFilter{Status: store.StatusFailed}, []string{"e3"}},
		{"started by", store.ExecutionFilter{StartedBy: "bo"}, []string{"e5", "e2"}},
		{"active", store.ExecutionFilter{Active: true}, []string{"e4", "e2"}},
		{"combined", store.ExecutionFilter{Workflow: "checkout", StartedBy: "ana", Environment: "prod"}, []string{"e1"}},
		{"limit", store.ExecutionFilter{Limit: 2}, []string{"e5", "e4"}},
		{"none", store.ExecutionFilter{Workflow: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListExecutions(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			if !equalStrings(ids, tc.want) {
				t.Fatalf("got %v, want %v", ids, tc.want)
			}
		})
	}
}

func testServices(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if _, err := s.GetService(ctx, "prod", "shop"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown service: want ErrNotFound, got %v", err)
	}
	e := newExec("e1", "prod", "shop", 0)
	sv := &store.ServiceState{Environment: "prod", Service: "shop", LiveSlot: "green", Artifact: "shop:1", Instances: 3, ExecutionID: "e1", UpdatedAt: at(0)}
	if err := s.Commit(ctx, &store.Commit{Execution: e, Create: true, Service: sv}); err != nil {
		t.Fatal(err)
	}
	up := *sv
	up.LiveSlot, up.Artifact, up.Instances, up.UpdatedAt = "blue", "shop:2", 5, at(9)
	if err := s.Commit(ctx, &store.Commit{Service: &up}); err != nil { // a service-only commit
		t.Fatal(err)
	}
	for _, x := range []store.ServiceState{
		{Environment: "staging", Service: "shop", LiveSlot: "blue", UpdatedAt: at(1)},
		{Environment: "prod", Service: "cart", LiveSlot: "green", UpdatedAt: at(2)},
	} {
		x := x
		if err := s.Commit(ctx, &store.Commit{Service: &x}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetService(ctx, "prod", "shop")
	if err != nil || got.LiveSlot != "blue" || got.Artifact != "shop:2" || got.Instances != 5 || got.ExecutionID != "e1" || !got.UpdatedAt.Equal(at(9)) {
		t.Fatalf("upserted service: %+v, %v", got, err)
	}
	prod, err := s.ListServices(ctx, "prod")
	if err != nil || len(prod) != 2 || prod[0].Service != "cart" || prod[1].Service != "shop" {
		t.Fatalf("prod services: %+v, %v", prod, err)
	}
	all, err := s.ListServices(ctx, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("all services: %+v, %v", all, err)
	}
}

func testTimesAndJSON(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	local := time.FixedZone("UTC+5:30", 5*3600+1800)
	e := newExec("e1", "prod", "shop", 0)
	e.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 123456789, local)
	e.UpdatedAt = time.Date(2026, 1, 2, 3, 4, 5, 1, time.UTC)
	e.State = json.RawMessage(`{"slots":{"live":"green","new":"blue"},"steps":[1,2,3],"note":"ünïcode \"q\""}`)
	e.Variables = map[string]string{"a": "1", "empty": "", "quote": `"x"`}
	create(t, s, e)
	got, err := s.GetExecution(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := sameExecution(got, *e); diff != "" {
		t.Fatal(diff)
	}
	if got.CreatedAt.Location() != time.UTC || got.CreatedAt.Nanosecond() != 123456789 {
		t.Fatalf("times come back as UTC with nanoseconds: %v", got.CreatedAt)
	}
	bare := newExec("e2", "prod", "cart", 0)
	bare.State, bare.Variables = nil, nil
	create(t, s, bare)
	got, err = s.GetExecution(ctx, "e2")
	if err != nil || len(got.State) != 0 || len(got.Variables) != 0 {
		t.Fatalf("empty state and variables: %+v, %v", got, err)
	}
	invalid := newExec("e3", "prod", "pay", 0)
	invalid.State = json.RawMessage(`{"unterminated`)
	if err := s.Commit(ctx, &store.Commit{Execution: invalid, Create: true}); err == nil {
		t.Fatal("invalid JSON state: want an error")
	}
}
