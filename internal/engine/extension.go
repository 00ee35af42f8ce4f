package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
)

// ErrNeedsDecision is what a step runner's error matches when the step could not
// decide by itself (an inconclusive verification): the execution pauses for a person
// to retry, resume, roll back or abort, whatever the failure strategy says.
var ErrNeedsDecision = errors.New("a person must decide")

// ErrRollBack is what a step runner's error matches when the execution must roll
// back whatever the failure strategy says (a verify step whose onProviderError is
// rollback).
var ErrRollBack = errors.New("the step asks for a rollback")

// StepRunner runs one attempt of a step type that lives outside the engine, such as
// verify or loadtest. Run must return the error of StepContext.Sleep unchanged when it
// is an interruption (a person rolled back or aborted), and must be safe to call again
// after a crash: what it journaled through Record is in Records on the next call.
type StepRunner interface {
	Run(ctx context.Context, sc *StepContext) error
}

// StepContext is what a StepRunner may know and do.
type StepContext struct {
	ExecutionID     string
	EnvironmentName string
	Environment     *spec.Environment
	Service         spec.Service
	Step            *spec.Step
	StepKey         string // p2.s3
	Attempt         int
	StartedAt       time.Time
	NewSlot         platform.Slot // the slot being staged
	LiveSlot        platform.Slot // the slot live now; empty on a first release
	Variables       map[string]string
	Runtime         Runtime
	// Background is set for a phase's or workflow's background analysis, which
	// runs next to the steps: it records under its own key (StepKey is
	// "p2.analysis" or "analysis") and its console lines name it.
	Background bool

	r     *run
	bgRun *bgIO // where a background analysis writes; nil for a step
}

// Console queues a console line of the step; Sleep and Record make it durable.
func (sc *StepContext) Console(level, format string, args ...any) {
	if sc.bgRun != nil {
		sc.bgRun.console(level, format, args...)
		return
	}
	sc.r.console(sc.StepKey, level, format, args...)
}

// Now is the engine's time (its Clock). A runner computes the times it passes to
// Sleep from it, so a test's fake clock drives the runner as it drives the engine.
func (sc *StepContext) Now() time.Time {
	if sc.bgRun != nil {
		return sc.bgRun.e.opt.Now()
	}
	return sc.r.e.opt.Now()
}

// Sleep waits until t while answering people's requests. It returns nil when t
// passed, or an error (an interruption or the engine stopping) that Run must return.
func (sc *StepContext) Sleep(ctx context.Context, t time.Time) error {
	if sc.bgRun != nil {
		return sc.bgRun.sleep(ctx, t)
	}
	if err := sc.r.flush(ctx); err != nil {
		return err
	}
	return sc.r.block(ctx, t, nil)
}

// Record durably journals one result of the step (a measurement, a load test
// summary) and publishes it as an event of the given type with data as its payload
// (the payload events.Types names for kind).
func (sc *StepContext) Record(ctx context.Context, kind events.Type, message string, data any) error {
	if sc.bgRun != nil {
		return sc.bgRun.record(ctx, sc.StepKey, kind, message, data)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	b := json.RawMessage(sc.r.e.opt.Redact(string(raw)))
	sc.r.event(kind, sc.StepKey, message, b)
	return sc.r.commit(ctx, nil, sc.r.journal(sc.r.attemptKey(sc.r.state.current()), events.RecordKind(kind), b))
}

// Records returns the data of what this attempt already recorded of a kind, in
// order, so a resumed runner continues instead of starting over.
func (sc *StepContext) Records(ctx context.Context, kind events.Type) ([]json.RawMessage, error) {
	if sc.bgRun != nil {
		return sc.bgRun.records(ctx, kind)
	}
	journal, err := sc.r.e.store.Journal(ctx, sc.ExecutionID)
	if err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	key := sc.r.attemptKey(sc.r.state.current())
	var out []json.RawMessage
	for _, j := range journal {
		if j.Key == key && events.Kind(j.Kind) == events.RecordKind(kind) {
			out = append(out, j.Data)
		}
	}
	return out, nil
}

// extensionStep adapts a StepRunner to the engine's step table.
func extensionStep(sr StepRunner) stepFunc {
	return func(r *run, ctx context.Context, s *spec.Step, ss *StepState) error {
		sc := &StepContext{
			ExecutionID: r.ex.ID, EnvironmentName: r.ex.Environment, Environment: r.env,
			Service: r.wf.Spec.Service, Step: s, StepKey: ss.Key, Attempt: ss.Attempt, StartedAt: *ss.StartedAt,
			NewSlot: r.state.NewSlot, LiveSlot: r.state.slot(spec.RoleLive), Variables: r.ex.Variables,
			Runtime: r.rt, r: r,
		}
		if err := r.flush(ctx); err != nil { // show the step before the runner's first wait
			return err
		}
		return sr.Run(ctx, sc)
	}
}
