package follow

import (
	"testing"

	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/verify"
)

// TestMeasurementDetailInWords: a measurement event (recorded without a message)
// shows its verdict in plain words on its step's line.
func TestMeasurementDetailInWords(t *testing.T) {
	v := NewView(execution(store.StatusRunning, seedState()))
	c, b := verify.Float(0.026), verify.Float(0.001)
	ms := verify.Measurement{Metric: "errors", Judge: "threshold", Verdict: verify.Failed,
		Canary: verify.Observation{Slot: "blue", Value: &c}, Baseline: &verify.Observation{Slot: "green", Value: &b},
		Summary: &verify.Summary{Title: "error rate", Unit: verify.UnitRatio, Canary: &c, Baseline: &b,
			Text: "error rate 2.6% on blue vs 0.1% on green — limit 1% — failed"}}
	v.Apply(ev(0, "measurement", "p2.s3", "", ms))
	if got := v.steps["p2.s3"].Detail; got != ms.Summary.Text {
		t.Fatalf("detail %q, want %q", got, ms.Summary.Text)
	}
	ms.Summary = nil // a record written before summaries: described from its values
	v.Apply(ev(0, "measurement", "p2.s3", "", ms))
	if got, want := v.steps["p2.s3"].Detail, "errors 0.026 on blue vs 0.001 on green — failed"; got != want {
		t.Fatalf("detail %q, want %q", got, want)
	}
}
