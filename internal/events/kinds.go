package events

import (
	"time"

	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
)

// This file is the one vocabulary of an execution's history: the types of the
// console events (store.Event.Type, what the API's event stream sends) with their
// payloads, and the kinds of the engine's journal entries (store.JournalEntry.Kind);
// and of a pipeline run's history: the types of the lines of its log, which its event
// stream sends as events (TypePipeline...).
// Producers (the engine and the step runners it hosts, notify, the pipeline runner)
// and consumers (the API stream, follow, notify, the CLI, reports, the UI) use these names;
// the UI's JavaScript gets them from the generated internal/ui/static/js/kinds.js.
// The stored strings never change: renaming a constant is fine, changing its
// value breaks every database written before.

//go:generate go run ./kindsjs -o ../ui/static/js/kinds.js

// Type is the type of one console event.
type Type string

// The console event types.
const (
	// TypeConsole is a plain console line: a message, no payload.
	TypeConsole Type = "console"
	// TypeStatus is an execution status change; payload StatusData. The first
	// event of an execution ("execution of … started by …") has status pending
	// and no from.
	TypeStatus Type = "status"
	// TypeStep is a step attempt starting or ending; payload StepData.
	TypeStep Type = "step"
	// TypeWeights is the traffic split the router reads back after a write;
	// payload WeightsData.
	TypeWeights Type = "weights"
	// TypeDecision is a decision on an approval step (a person's, or its
	// timeout's); payload DecisionData.
	TypeDecision Type = "decision"
	// TypeOutput is one line an instance wrote to stdout (level info) or stderr
	// (level warn); Step holds the slot. No payload.
	TypeOutput Type = "output"
	// TypeMeasurement is one verification measurement of a metric; payload
	// verify.Measurement (recorded by verify steps; message empty).
	TypeMeasurement Type = "measurement"
	// TypeSkipped is a metric a verify step could not measure; payload
	// verify.Skipped.
	TypeSkipped Type = "skipped"
	// TypeLoadTest is a load test's progress or final report; payload
	// loadtest.Report.
	TypeLoadTest Type = "loadtest"
)

// The types of a pipeline run's log lines (pipeline.Line.Kind), sent as the events
// of GET /api/v1/pipeline-runs/{id}/events: each line is one event, its Seq the
// line's place in the log (from 1) and its Step the stage it is about.
const (
	// TypePipelineStarted is a run's first line: who started it.
	TypePipelineStarted Type = "pipeline.started"
	// TypePipelineStatus is a run's status changing between running and waiting
	// (for an approval); payload StatusData. The end is TypePipelineFinished.
	TypePipelineStatus Type = "pipeline.status"
	// TypePipelineGateWaiting is a stage held by its next gate.
	TypePipelineGateWaiting Type = "pipeline.gate.waiting"
	// TypePipelineGatePassed is a stage's gate passed (or timed out with
	// onTimeout: continue).
	TypePipelineGatePassed Type = "pipeline.gate.passed"
	// TypePipelineGateFailed is a stage's gate failed; the stage fails.
	TypePipelineGateFailed Type = "pipeline.gate.failed"
	// TypePipelineGateVerify is a verification gate's progress.
	TypePipelineGateVerify Type = "pipeline.gate.verify"
	// TypePipelineDecision is a person's decision on an approval gate; payload
	// DecisionData (Step holds the stage).
	TypePipelineDecision Type = "pipeline.gate.decision"
	// TypePipelineStageStarted is a stage's execution started.
	TypePipelineStageStarted Type = "pipeline.stage.started"
	// TypePipelineStageFinished is a stage that succeeded or failed.
	TypePipelineStageFinished Type = "pipeline.stage.finished"
	// TypePipelineStageSkipped is a stage never started because the run wound down.
	TypePipelineStageSkipped Type = "pipeline.stage.skipped"
	// TypePipelineRollback is a stage in flight asked to roll back.
	TypePipelineRollback Type = "pipeline.stage.rollback"
	// TypePipelineUndo is a finished stage being undone (rollback-all), or its end.
	TypePipelineUndo Type = "pipeline.stage.undo"
	// TypePipelineAbort is a person's request to stop the run.
	TypePipelineAbort Type = "pipeline.abort"
	// TypePipelineFinished is the run's end; payload StatusData.
	TypePipelineFinished Type = "pipeline.finished"
)

// TypeInfo describes one event type for documentation and generated code.
type TypeInfo struct {
	Type    Type
	Payload string // the Go type of Event.Data, "" for none
	Doc     string // one sentence
}

// Types lists every event type, an execution's console events and then a pipeline
// run's, in the order documentation shows them.
var Types = []TypeInfo{
	{TypeConsole, "", "a plain console line"},
	{TypeStatus, "events.StatusData", "the execution's status changed (the first, to pending, says who started it)"},
	{TypeStep, "events.StepData", "a step attempt started or ended"},
	{TypeWeights, "events.WeightsData", "the traffic split the router reads back after a change"},
	{TypeDecision, "events.DecisionData", "a decision on an approval step, by a person or by its timeout"},
	{TypeOutput, "", "a line of instance output; the step field holds the slot"},
	{TypeMeasurement, "verify.Measurement", "one measurement of a verified metric"},
	{TypeSkipped, "verify.Skipped", "a metric that could not be measured, and why"},
	{TypeLoadTest, "loadtest.Report", "a load test's progress or final report"},
	{TypePipelineStarted, "", "a pipeline run started"},
	{TypePipelineStatus, "events.StatusData", "a pipeline run's status changed between running and waiting"},
	{TypePipelineGateWaiting, "", "a pipeline stage waits at its next gate"},
	{TypePipelineGatePassed, "", "a pipeline stage's gate passed"},
	{TypePipelineGateFailed, "", "a pipeline stage's gate failed"},
	{TypePipelineGateVerify, "", "a pipeline verification gate's progress"},
	{TypePipelineDecision, "events.DecisionData", "a person's decision on a pipeline stage's approval gate"},
	{TypePipelineStageStarted, "", "a pipeline stage started its execution"},
	{TypePipelineStageFinished, "", "a pipeline stage succeeded or failed"},
	{TypePipelineStageSkipped, "", "a pipeline stage was skipped as the run wound down"},
	{TypePipelineRollback, "", "a pipeline stage in flight is rolled back"},
	{TypePipelineUndo, "", "a finished pipeline stage is undone, or could not be"},
	{TypePipelineAbort, "", "a person asked a pipeline run to stop"},
	{TypePipelineFinished, "events.StatusData", "a pipeline run ended"},
}

// Known reports whether t is one of the event types above.
func Known(t Type) bool {
	for _, ti := range Types {
		if ti.Type == t {
			return true
		}
	}
	return false
}

// Level is how a console event is shown: info, warn or error.
type Level string

// The console event levels.
const (
	LevelInfo  Level = "info"
	LevelWarn  Level = "warn"
	LevelError Level = "error"
)

// StatusData is the payload of a status event. Its fields are in the order the
// engine always wrote them (once a map), so stored events read the same.
type StatusData struct {
	From   store.Status `json:"from"`   // the status before
	Reason string       `json:"reason"` // why, for failures and rollbacks; may be empty
	Status store.Status `json:"status"` // the new status
}

// StepData is the payload of a step event.
type StepData struct {
	Attempt int          `json:"attempt"`           // from 1
	Message string       `json:"message,omitempty"` // how the attempt ended; empty when it starts
	Status  store.Status `json:"status"`            // running when it starts, then its outcome
}

// WeightsData is the payload of a weights event: each slot's share in percent.
type WeightsData = traffic.Weights

// DecisionData is the payload of a decision event, the data of a decision
// journal entry, and what the execution state keeps of each decision
// (engine.ApprovalRecord).
type DecisionData struct {
	Step    string    `json:"step"` // the approval step's key
	Approve bool      `json:"approve"`
	By      string    `json:"by"` // who decided; "timeout" for a timeout
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	Timeout bool      `json:"timeout,omitempty"` // decided by the step's timeout, not a person
}

// Kind is the kind of one journal entry: the engine's durable record of its
// progress, read back on resume. Journal entries are not sent to clients.
type Kind string

// The journal entry kinds.
const (
	// KindStepStarted opens a step attempt (key execution/step/attempt); no data.
	KindStepStarted Kind = "step.started"
	// KindStepFinished closes a step attempt; data StepFinishedData.
	KindStepFinished Kind = "step.finished"
	// KindEffectIntent is written before a side effect (a deploy, a weight
	// change) is attempted; no data.
	KindEffectIntent Kind = "effect.intent"
	// KindEffectDone is written once a side effect took place; no data. An
	// effect with a done entry is never repeated on resume.
	KindEffectDone Kind = "effect.done"
	// KindStatus records an execution status change; data JournalStatusData.
	KindStatus Kind = "status"
	// KindDecision records a decision on an approval step; data DecisionData.
	KindDecision Kind = "decision"
)

// recordPrefix starts the kind of a step's records (RecordKind).
const recordPrefix = "record."

// RecordKind is the journal kind of a step's records of event type t
// ("record.measurement"); a record's data is the payload of its event.
func RecordKind(t Type) Kind { return Kind(recordPrefix + string(t)) }

// StepFinishedData is the data of a step.finished journal entry.
type StepFinishedData struct {
	Error  string       `json:"error,omitempty"` // why the attempt failed
	Status store.Status `json:"status"`          // succeeded or failed
}

// JournalStatusData is the data of a status journal entry.
type JournalStatusData struct {
	Reason string       `json:"reason"`
	Status store.Status `json:"status"`
}
