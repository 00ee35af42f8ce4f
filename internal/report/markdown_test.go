package report_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/report"
	"github.com/sluicehq/sluice/internal/store"
)

// TestFirstReleaseRollback: a first release has no live slot to send traffic
// back to, and the report says so instead of a time to 100/0; text from the
// record cannot break a table row.
func TestFirstReleaseRollback(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	state := `{"newSlot":"green","phases":[{"name":"canary","status":"failed","steps":[
	  {"key":"p1.s1","name":"check","type":"webhook","status":"failed","message":"answered 503 | canary\nunhealthy"}]}],
	  "rollback":{"reason":"step check failed: answered 503","status":"rolled_back"}}`
	ex := store.Execution{ID: "e1", Workflow: "shop", WorkflowVersion: 1, Environment: "prod", Service: "shop",
		StartedBy: "bob", CreatedAt: t0, UpdatedAt: t0.Add(time.Second), Status: store.StatusRolledBack,
		Reason: "step check failed: answered 503", State: json.RawMessage(state)}
	status := func(s string, at time.Duration) store.Event {
		return store.Event{Type: "status", At: t0.Add(at), Data: json.RawMessage(`{"status":"` + s + `"}`)}
	}
	evs := []store.Event{
		{Type: "step", Step: "p1.s1", At: t0.Add(100 * time.Millisecond), Data: json.RawMessage(`{"status":"failed"}`)},
		status("rolling_back", 200*time.Millisecond), status("rolled_back", 900*time.Millisecond),
	}
	rep, err := report.Build(ex, evs, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if rb := rep.Rollback; rb == nil || rb.StepName != "check" || rb.ToFull != nil || rb.Began == nil || !rb.Began.Equal(t0.Add(200*time.Millisecond)) {
		t.Fatalf("rollback %+v", rep.Rollback)
	}
	md := rep.Markdown()
	for _, want := range []string{
		"- **Time to 100/0:** none — a first release has no live slot to send traffic back to",
		"- **Failed step:** check (p1.s1)",
		`| answered 503 \| canary unhealthy |`,
		"No verification ran.", "No approval was asked for or given.", "Traffic never moved.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if _, err := report.Build(store.Execution{ID: "bad", State: json.RawMessage(`{"phases": 3}`)}, nil, t0); err == nil ||
		!strings.Contains(err.Error(), "execution bad: state") {
		t.Fatalf("a state that does not decode: %v", err)
	}
}
