package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// begin decides which slot is live and which one the new version goes to.
func (r *run) begin(ctx context.Context) (store.Status, error) {
	svc, err := r.e.store.GetService(ctx, r.ex.Environment, r.ex.Service)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return store.StatusPending, fmt.Errorf("service %s: %w", r.ex.Service, err)
	default:
		if s := platform.Slot(svc.LiveSlot); s.Valid() {
			r.state.LiveSlot, r.state.LiveArtifact, r.state.LiveInstances = s, svc.Artifact, svc.Instances
		}
	}
	if r.state.LiveSlot == "" {
		r.state.NewSlot = platform.Green
		r.console("", "info", "first release of %s in %s: staging it in %s", r.ex.Service, r.ex.Environment, r.state.NewSlot)
	} else {
		r.state.NewSlot = r.state.LiveSlot.Other()
		r.console("", "info", "%s is live for %s in %s (%s); staging the new version in %s",
			r.state.LiveSlot, r.ex.Service, r.ex.Environment, svc.Artifact, r.state.NewSlot)
	}
	return store.StatusRunning, nil
}

// advance runs the step under the cursor and moves the cursor on.
func (r *run) advance(ctx context.Context) (store.Status, error) {
	if err := r.pollControl(ctx); err != nil {
		return r.interrupted(ctx, err)
	}
	if err := r.syncAnalyses(ctx); err != nil {
		return r.afterAnalysis(ctx, err)
	}
	if r.state.Phase >= len(r.wf.Spec.Phases) {
		r.console("", "info", "all %d phases succeeded", len(r.wf.Spec.Phases))
		return store.StatusSucceeded, nil
	}
	phase := &r.wf.Spec.Phases[r.state.Phase]
	ps := &r.state.Phases[r.state.Phase]
	if r.state.Step >= len(phase.Steps) {
		r.next()
		return store.StatusRunning, r.commit(ctx, nil)
	}
	step, ss := &phase.Steps[r.state.Step], r.state.current()
	if ps.Status == store.StatusPending {
		ps.Status = store.StatusRunning
		r.console("", "info", "phase %d/%d: %s", r.state.Phase+1, len(r.wf.Spec.Phases), ps.Name)
	}
	if ss.Status != store.StatusRunning {
		r.startStep(ss)
	}
	sctx, cancel := context.WithCancelCause(ctx)
	r.setStepCancel(cancel)
	err := r.runStep(sctx, step, ss)
	r.setStepCancel(nil)
	cancel(nil)
	var af *analysisFailed
	if errors.As(context.Cause(sctx), &af) && ctx.Err() == nil {
		return r.onAnalysisFailure(af)
	}
	switch {
	case err == nil:
		return r.finishStep(ctx, ss)
	case ctx.Err() != nil:
		return r.ex.Status, ctx.Err()
	case errors.Is(err, errLostOwnership):
		return r.ex.Status, err
	}
	var in *interrupt
	if errors.As(err, &in) {
		return r.interrupted(ctx, err)
	}
	return r.onFailure(ctx, phase, step, ss, err)
}

// afterAnalysis handles what syncAnalyses returned: an analysis's failure, a
// person's request during a watch after promotion, or the engine stopping.
func (r *run) afterAnalysis(ctx context.Context, err error) (store.Status, error) {
	var af *analysisFailed
	switch {
	case errors.As(err, &af):
		return r.onAnalysisFailure(af)
	case ctx.Err() != nil, errors.Is(err, errLostOwnership):
		return r.ex.Status, err
	}
	var in *interrupt
	if errors.As(err, &in) {
		return r.interrupted(ctx, err)
	}
	return r.ex.Status, err
}

// startStep begins a new attempt of the current step. Its journal entry rides on the
// step's first commit: until then nothing of the attempt is durable, and a restart
// simply begins the same attempt again.
func (r *run) startStep(ss *StepState) {
	now := r.e.opt.Now().UTC()
	ss.Attempt++
	ss.Status, ss.StartedAt, ss.FinishedAt, ss.Message = store.StatusRunning, &now, nil, ""
	ss.Deadline = nil
	r.event(events.TypeStep, ss.Key, fmt.Sprintf("▶ %s (%s)", ss.Name, ss.Type), events.StepData{Status: ss.Status, Attempt: ss.Attempt})
	r.pending = append(r.pending, r.journal(r.attemptKey(ss), events.KindStepStarted, nil))
}

// finishStep records a successful step and moves the cursor; the record rides on the
// next commit, which the next step makes as it starts.
func (r *run) finishStep(ctx context.Context, ss *StepState) (store.Status, error) {
	r.endStep(ss, store.StatusSucceeded, ss.Message)
	r.next()
	r.pending = append(r.pending, r.journal(r.attemptKey(ss), events.KindStepFinished, events.StepFinishedData{Status: store.StatusSucceeded}))
	return store.StatusRunning, nil
}

// endStep stamps a step's final status.
func (r *run) endStep(ss *StepState, s store.Status, msg string) {
	now := r.e.opt.Now().UTC()
	ss.Status, ss.FinishedAt, ss.Message = s, &now, msg
	text := fmt.Sprintf("%s %s", ss.Name, s)
	if ss.StartedAt != nil {
		text += fmt.Sprintf(" in %s", now.Sub(*ss.StartedAt).Round(time.Millisecond))
	}
	r.event(events.TypeStep, ss.Key, text, events.StepData{Status: s, Attempt: ss.Attempt, Message: msg})
}

// next moves the cursor to the following step, closing the phase after its last one.
func (r *run) next() {
	ps := &r.state.Phases[r.state.Phase]
	r.state.Step++
	if r.state.Step < len(ps.Steps) {
		return
	}
	ps.Status = store.StatusSucceeded
	r.state.Phase++
	r.state.Step = 0
}

// attemptKey is the idempotency prefix of the current attempt of a step.
func (r *run) attemptKey(ss *StepState) string {
	return fmt.Sprintf("%s/%s/a%d", r.ex.ID, ss.Key, ss.Attempt)
}

// interrupted turns a person's rollback or abort into the next status.
func (r *run) interrupted(ctx context.Context, err error) (store.Status, error) {
	var in *interrupt
	if !errors.As(err, &in) {
		return r.ex.Status, err
	}
	r.consume(in.seq)
	if in.kind == ctrlAbort {
		r.abortNote(in)
		return store.StatusAborted, nil
	}
	r.startRollback(in)
	return store.StatusRollingBack, nil
}

// abortNote records an abort on the console and the current step.
func (r *run) abortNote(in *interrupt) {
	if r.state.Phase < len(r.state.Phases) && r.state.current().Status == store.StatusRunning {
		r.endStep(r.state.current(), store.StatusAborted, in.Error())
	}
	r.ex.Reason = in.Error()
	left := "unchanged"
	if r.state.Weights != nil {
		left = r.state.Weights.String()
	}
	r.console("", "warn", "aborted (%s); traffic is left as it is: %s", in.Error(), left)
}

// startRollback marks the current step and phase and records why the rollback began.
// A phase that a person's request ended (rollback, rejection, approval timeout) reads
// rolled back, not failed: none of its steps failed.
func (r *run) startRollback(reason error) {
	if r.state.Phase < len(r.state.Phases) {
		if cur := r.state.current(); cur.Status == store.StatusRunning {
			r.endStep(cur, store.StatusAborted, reason.Error())
		}
		ended := store.StatusFailed
		var in *interrupt
		if errors.As(reason, &in) && in.kind == ctrlRollback {
			ended = store.StatusRolledBack
		}
		r.state.Phases[r.state.Phase].Status = ended
	}
	r.state.Rollback = &RollbackState{Reason: reason.Error(), Status: store.StatusRunning}
	r.ex.Reason = reason.Error()
	r.console("", "warn", "rolling back: %s", reason)
}

// strategy returns the failure strategy of a step: its own, its phase's, the
// workflow's, or rollback.
func (r *run) strategy(phase *spec.Phase, step *spec.Step) spec.Failure {
	for _, f := range []*spec.Failure{step.OnFailure, phase.OnFailure, r.wf.Spec.OnFailure} {
		if f != nil {
			return *f
		}
	}
	return spec.Failure{Action: spec.ActionRollback}
}

// onFailure applies the failure strategy to a failed step.
func (r *run) onFailure(ctx context.Context, phase *spec.Phase, step *spec.Step, ss *StepState, cause error) (store.Status, error) {
	f := r.strategy(phase, step)
	r.console(ss.Key, "error", "%s failed (attempt %d): %v", ss.Name, ss.Attempt, cause)
	action := f.Action
	var fe *forced
	switch {
	case errors.As(cause, &fe):
		action = fe.action
	case errors.Is(cause, ErrNeedsDecision):
		action = spec.ActionPause
	case errors.Is(cause, ErrRollBack):
		action = spec.ActionRollback
	}
	if action == spec.ActionRetry {
		if ss.Attempt <= f.Retries {
			return r.retryLater(ctx, ss, f, cause)
		}
		r.console(ss.Key, "error", "%s failed %d times; giving up", ss.Name, ss.Attempt)
		action = f.Then
	}
	reason := fmt.Sprintf("step %s failed: %v", ss.Name, cause)
	switch action {
	case spec.ActionIgnore:
		r.endStep(ss, store.StatusFailed, cause.Error()+" (ignored)")
		r.console(ss.Key, "warn", "failure of %s ignored as the workflow says", ss.Name)
		r.next()
		return store.StatusRunning, r.commit(ctx, nil, r.journal(r.attemptKey(ss), events.KindStepFinished, events.StepFinishedData{Status: store.StatusFailed, Error: cause.Error()}))
	case spec.ActionPause:
		r.endStep(ss, store.StatusFailed, cause.Error())
		r.state.PausedFor = "failure"
		r.ex.Reason = reason + "; waiting for a person to retry, resume, roll back or abort"
		return store.StatusPaused, nil
	case spec.ActionFail:
		r.endStep(ss, store.StatusFailed, cause.Error())
		r.state.Phases[r.state.Phase].Status = store.StatusFailed
		r.ex.Reason = reason
		return store.StatusFailed, nil
	default:
		r.endStep(ss, store.StatusFailed, cause.Error())
		r.startRollback(errors.New(reason))
		return store.StatusRollingBack, nil
	}
}

// retryLater waits the step's backoff, then lets advance start the next attempt.
func (r *run) retryLater(ctx context.Context, ss *StepState, f spec.Failure, cause error) (store.Status, error) {
	backoff := f.Backoff.Std()
	if backoff <= 0 {
		backoff = time.Second
	}
	backoff <<= min(ss.Attempt-1, 10)
	until := r.e.opt.Now().Add(backoff).UTC()
	r.endStep(ss, store.StatusPending, cause.Error())
	ss.Deadline = &until
	r.console(ss.Key, "warn", "retrying %s in %s (attempt %d of %d)", ss.Name, backoff, ss.Attempt+1, f.Retries+1)
	if err := r.commit(ctx, nil, r.journal(r.attemptKey(ss), events.KindStepFinished, events.StepFinishedData{Status: store.StatusFailed, Error: cause.Error()})); err != nil {
		return r.ex.Status, err
	}
	if err := r.block(ctx, until, nil); err != nil {
		return r.interrupted(ctx, err)
	}
	return store.StatusRunning, nil
}
