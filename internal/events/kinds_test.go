package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
)

// TestStoredNamesNeverChange pins the strings stored in existing databases and
// journals: a changed value would leave old executions unreadable on resume.
func TestStoredNamesNeverChange(t *testing.T) {
	stored := [][2]string{
		{string(events.TypeConsole), "console"}, {string(events.TypeStatus), "status"}, {string(events.TypeStep), "step"},
		{string(events.TypeWeights), "weights"}, {string(events.TypeOutput), "output"}, {string(events.TypeMeasurement), "measurement"},
		{string(events.TypeSkipped), "skipped"}, {string(events.TypeLoadTest), "loadtest"}, {string(events.TypeDecision), "decision"},
		{string(events.KindStepStarted), "step.started"}, {string(events.KindStepFinished), "step.finished"},
		{string(events.KindEffectIntent), "effect.intent"}, {string(events.KindEffectDone), "effect.done"},
		{string(events.KindStatus), "status"}, {string(events.KindDecision), "decision"},
		{string(events.RecordKind(events.TypeLoadTest)), "record.loadtest"},
		// a pipeline run's log lines, stored in its state
		{string(events.TypePipelineStarted), "pipeline.started"}, {string(events.TypePipelineStatus), "pipeline.status"},
		{string(events.TypePipelineGateWaiting), "pipeline.gate.waiting"}, {string(events.TypePipelineGatePassed), "pipeline.gate.passed"},
		{string(events.TypePipelineGateFailed), "pipeline.gate.failed"}, {string(events.TypePipelineGateVerify), "pipeline.gate.verify"},
		{string(events.TypePipelineDecision), "pipeline.gate.decision"}, {string(events.TypePipelineStageStarted), "pipeline.stage.started"},
		{string(events.TypePipelineStageFinished), "pipeline.stage.finished"}, {string(events.TypePipelineStageSkipped), "pipeline.stage.skipped"},
		{string(events.TypePipelineRollback), "pipeline.stage.rollback"}, {string(events.TypePipelineUndo), "pipeline.stage.undo"},
		{string(events.TypePipelineAbort), "pipeline.abort"}, {string(events.TypePipelineFinished), "pipeline.finished"},
	}
	for _, p := range stored {
		if got, want := p[0], p[1]; got != want {
			t.Errorf("stored name %q became %q", want, got)
		}
	}
	if len(events.Types) != 23 {
		t.Errorf("%d event types; pin the new one here", len(events.Types))
	}
}

// TestPayloadsKeepTheirJSON checks the payload structs encode as the maps the
// engine wrote before them, and decode what old databases hold.
func TestPayloadsKeepTheirJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"status", events.StatusData{Status: store.StatusRunning, From: store.StatusPending}, `{"from":"pending","reason":"","status":"running"}`},
		{"step started", events.StepData{Status: store.StatusRunning, Attempt: 1}, `{"attempt":1,"status":"running"}`},
		{"step ended", events.StepData{Status: store.StatusFailed, Attempt: 2, Message: "boom"}, `{"attempt":2,"message":"boom","status":"failed"}`},
		{"weights", events.WeightsData{Green: 90, Blue: 10}, `{"blue":10,"green":90}`},
		{"decision", events.DecisionData{Step: "p2.s4", Approve: true, By: "alice", At: at}, `{"step":"p2.s4","approve":true,"by":"alice","at":"2026-01-02T03:04:05Z"}`},
		{"step finished", events.StepFinishedData{Status: store.StatusFailed, Error: "boom"}, `{"error":"boom","status":"failed"}`},
		{"journal status", events.JournalStatusData{Status: store.StatusRolledBack, Reason: "x"}, `{"reason":"x","status":"rolled_back"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil || string(b) != tc.want {
				t.Fatalf("json %s (%v), want %s", b, err, tc.want)
			}
		})
	}
	// An old step event, written from a map, with an empty message.
	var d events.StepData
	if err := json.Unmarshal([]byte(`{"attempt":1,"message":"","status":"succeeded"}`), &d); err != nil || d.Status != store.StatusSucceeded || d.Attempt != 1 {
		t.Fatalf("old step event decodes to %+v, %v", d, err)
	}
}
