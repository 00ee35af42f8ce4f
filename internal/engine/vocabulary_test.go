package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
)

// TestEventsFollowTheVocabulary runs a release with an approval and checks what the
// engine wrote against package events: every event type and journal kind is a
// declared one, every payload decodes into its struct, and a decision on an
// approval is a decision event (the UI re-reads the execution on it).
func TestEventsFollowTheVocabulary(t *testing.T) {
	h := newHarness(t)
	h.Apply(canaryYAML)
	ex := h.Start("shop", map[string]string{"artifact": "shop:v1"})
	h.WaitFor(ex.ID, store.StatusWaiting)
	must(t, h.decide(ex.ID, "alice", true))
	if got := h.Finish(ex.ID); got.Status != store.StatusSucceeded {
		t.Fatalf("%s: %s\n%s", got.Status, got.Reason, h.Console(ex.ID))
	}
	evs, err := h.Store.Events(context.Background(), ex.ID, 0, 0)
	must(t, err)
	seen := map[events.Type]int{}
	for _, e := range evs {
		typ := events.Type(e.Type)
		seen[typ]++
		if !events.Known(typ) {
			t.Errorf("event %d has type %q, not in events.Types", e.Seq, e.Type)
		}
		checkPayload(t, e)
	}
	for _, want := range []events.Type{events.TypeConsole, events.TypeStatus, events.TypeStep, events.TypeWeights, events.TypeDecision} {
		if seen[want] == 0 {
			t.Errorf("no %s event; saw %v", want, seen)
		}
	}
	journal, err := h.Store.Journal(context.Background(), ex.ID)
	must(t, err)
	known := map[events.Kind]bool{events.KindStepStarted: true, events.KindStepFinished: true, events.KindEffectIntent: true,
		events.KindEffectDone: true, events.KindStatus: true, events.KindDecision: true}
	for _, j := range journal {
		if !known[events.Kind(j.Kind)] && !strings.HasPrefix(j.Kind, string(events.RecordKind(""))) {
			t.Errorf("journal entry %d has kind %q, not one package events declares", j.Seq, j.Kind)
		}
	}
}

// checkPayload decodes an event's data into the struct its type names.
func checkPayload(t *testing.T, e store.Event) {
	t.Helper()
	switch events.Type(e.Type) {
	case events.TypeStatus:
		var d events.StatusData
		if json.Unmarshal(e.Data, &d) != nil || d.Status == "" {
			t.Errorf("status event %d: data %s", e.Seq, e.Data)
		}
	case events.TypeStep:
		var d events.StepData
		if json.Unmarshal(e.Data, &d) != nil || d.Status == "" || d.Attempt < 1 {
			t.Errorf("step event %d: data %s", e.Seq, e.Data)
		}
	case events.TypeDecision:
		var d events.DecisionData
		if json.Unmarshal(e.Data, &d) != nil || d.By != "alice" || !d.Approve || d.Step == "" || !strings.Contains(e.Message, "approved by alice") {
			t.Errorf("decision event %d: %q data %s", e.Seq, e.Message, e.Data)
		}
	case events.TypeWeights:
		var d events.WeightsData
		if json.Unmarshal(e.Data, &d) != nil || d.Blue+d.Green != 100 {
			t.Errorf("weights event %d: data %s", e.Seq, e.Data)
		}
	}
}
