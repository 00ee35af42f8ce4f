package storetest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/internal/store"
)

// testRequests checks that requests are numbered per execution, listed after a
// sequence number, pending only for the owner of a live execution until answered,
// answered once, and refused for unknown or finished executions.
func testRequests(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newExec("ra", "prod", "shop", 1), newExec("rb", "prod", "cart", 2)
	a.Owner, b.Owner = "s1", "s2"
	create(t, s, a)
	create(t, s, b)
	add := func(id, kind string) store.Request {
		t.Helper()
		r := store.Request{ExecutionID: id, Kind: kind, By: "ana", Reason: "why", At: at(10),
			Data: json.RawMessage(`{"approve":true}`)}
		if err := s.AddRequest(ctx, &r); err != nil {
			t.Fatalf("AddRequest(%s, %s): %v", id, kind, err)
		}
		return r
	}
	if r := add("ra", "pause"); r.Seq != 1 {
		t.Errorf("first request seq = %d, want 1", r.Seq)
	}
	if r := add("ra", "resume"); r.Seq != 2 {
		t.Errorf("second request seq = %d, want 2", r.Seq)
	}
	if r := add("rb", "rollback"); r.Seq != 1 {
		t.Errorf("other execution's first seq = %d, want 1", r.Seq)
	}

	got, err := s.Requests(ctx, "ra", 1)
	if err != nil || len(got) != 1 || got[0].Kind != "resume" || got[0].By != "ana" || got[0].Reason != "why" ||
		!got[0].At.Equal(at(10)) || !jsonEqual(got[0].Data, json.RawMessage(`{"approve":true}`)) || got[0].Answered {
		t.Fatalf("Requests(ra, 1) = %+v, %v; want the unanswered resume", got, err)
	}

	pending, err := s.PendingRequests(ctx, "s1")
	if err != nil || len(pending) != 2 || pending[0].Seq != 1 || pending[1].Seq != 2 {
		t.Fatalf("PendingRequests(s1) = %+v, %v; want ra#1 and ra#2", pending, err)
	}
	first, err := s.AnswerRequest(ctx, store.RequestAnswer{ExecutionID: "ra", Seq: 1, Outcome: "paused", At: at(11)})
	if err != nil || !first.Answered || first.Refusal != "" || first.Outcome != "paused" || !first.AnsweredAt.Equal(at(11)) {
		t.Fatalf("AnswerRequest = %+v, %v", first, err)
	}
	again, err := s.AnswerRequest(ctx, store.RequestAnswer{ExecutionID: "ra", Seq: 1, Refusal: store.RefusedInvalid, Outcome: "late", At: at(12)})
	if err != nil || again.Refusal != "" || again.Outcome != "paused" {
		t.Errorf("second answer = %+v, %v; want the first answer kept", again, err)
	}
	if pending, _ = s.PendingRequests(ctx, "s1"); len(pending) != 1 || pending[0].Seq != 2 {
		t.Errorf("after an answer PendingRequests(s1) = %+v, want only ra#2", pending)
	}
	if _, err := s.AnswerRequest(ctx, store.RequestAnswer{ExecutionID: "ra", Seq: 9, At: at(12)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("answer of a missing request: %v, want ErrNotFound", err)
	}

	update(t, s, a, store.StatusRolledBack)
	if pending, _ = s.PendingRequests(ctx, "s1"); len(pending) != 0 {
		t.Errorf("a finished execution's requests are pending: %+v", pending)
	}
	if err := s.AddRequest(ctx, &store.Request{ExecutionID: "ra", Kind: "abort", At: at(13)}); !errors.Is(err, store.ErrFinished) {
		t.Errorf("request to a finished execution: %v, want ErrFinished", err)
	}
	if err := s.AddRequest(ctx, &store.Request{ExecutionID: "nope", Kind: "abort", At: at(13)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("request to an unknown execution: %v, want ErrNotFound", err)
	}
}
