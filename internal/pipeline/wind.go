package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// windDown ends a run that failed or was aborted: stages not started are skipped,
// stages in flight are rolled back, and with onFailure: rollback-all (never on an
// abort) the stages that had succeeded are undone, the latest first. It reports
// whether the run has ended.
func (t *tick) windDown(ctx context.Context, aborted bool) (bool, error) {
	why := t.reason(aborted)
	busy := false
	for i := range t.st.Stages {
		ss := &t.st.Stages[i]
		switch ss.Status {
		case StagePending, StageGated:
			ss.Status = StageSkipped
			t.st.log(t.now, events.TypePipelineStageSkipped, "info", ss.Name, "stage %s skipped: %s", ss.Name, why)
			if err := t.save(ctx); err != nil {
				return false, err
			}
		case StageStarting:
			if err := t.resolveStarting(ctx, ss, why); err != nil {
				return false, err
			}
			busy = true
		case StageRunning:
			if err := t.rollBackInFlight(ctx, ss, why); err != nil {
				return false, err
			}
			busy = true
		case StageUndoing:
			busy = true
		}
	}
	if busy {
		return false, nil
	}
	if !aborted && t.mode() == spec.PipelineRollbackAll {
		if next := t.nextUndo(); next != nil {
			return false, t.undo(ctx, next, why)
		}
	}
	return true, t.finish(ctx, aborted, why)
}

// reason says why the run winds down.
func (t *tick) reason(aborted bool) string {
	if aborted {
		return "aborted by " + t.st.Abort.By + prefixed(": ", t.st.Abort.Reason)
	}
	f := t.st.stage(t.st.Failed)
	if f == nil {
		return "stage " + t.st.Failed + " failed"
	}
	return fmt.Sprintf("stage %s failed: %s", f.Name, f.Reason)
}

func (t *tick) mode() string {
	if t.p.Spec.OnFailure == "" {
		return spec.PipelineRollbackStage
	}
	return t.p.Spec.OnFailure
}

// resolveStarting settles a stage whose start was written but not confirmed: the
// execution it started (if any) is rolled back, otherwise it is skipped.
func (t *tick) resolveStarting(ctx context.Context, ss *StageState, why string) error {
	ex, found, err := t.adopt(ctx, ss.Workflow, ss.Environment, "", ss.StartAt, marker(t.run.ID, ss.Name))
	if err != nil {
		return err
	}
	if found {
		ss.Execution, ss.Service, ss.Status, ss.ExecStatus = ex.ID, ex.Service, StageRunning, ex.Status
	} else {
		ss.Status = StageSkipped
		t.st.log(t.now, events.TypePipelineStageSkipped, "info", ss.Name, "stage %s skipped: %s", ss.Name, why)
	}
	return t.save(ctx)
}

// rollBackInFlight asks the engine once to roll back a stage still running.
func (t *tick) rollBackInFlight(ctx context.Context, ss *StageState, why string) error {
	if ss.RollbackAsked {
		return nil
	}
	ss.RollbackAsked = true
	t.st.log(t.now, events.TypePipelineRollback, "warn", ss.Name, "rolling back stage %s (execution %s): %s", ss.Name, ss.Execution, why)
	if err := t.save(ctx); err != nil {
		return err
	}
	err := t.r.opt.Engine.Rollback(ctx, ss.Execution, "pipeline "+t.run.ID, why)
	if err != nil && !errors.Is(err, engine.ErrRequestPending) && !errors.Is(err, engine.ErrInvalidState) && !errors.Is(err, store.ErrFinished) {
		t.st.log(t.now, events.TypePipelineRollback, "error", ss.Name, "cannot roll back execution %s: %v", ss.Execution, err)
		return t.save(ctx)
	}
	return nil
}

// nextUndo is the succeeded stage that finished last, or nil.
func (t *tick) nextUndo() *StageState {
	var done []*StageState
	for i := range t.st.Stages {
		if t.st.Stages[i].Status == StageSucceeded {
			done = append(done, &t.st.Stages[i])
		}
	}
	if len(done) == 0 {
		return nil
	}
	slices.SortStableFunc(done, func(a, b *StageState) int { return b.FinishedAt.Compare(a.FinishedAt) })
	return done[0]
}

// undo puts the previous release of a succeeded stage's service back, through the
// same path as POST /api/v1/services/{env}/{service}/undo.
func (t *tick) undo(ctx context.Context, ss *StageState, why string) error {
	cause := marker(t.run.ID, ss.Name) + ": " + why
	if ss.UndoAt.IsZero() {
		ss.UndoAt = t.now
		if err := t.save(ctx); err != nil {
			return err
		}
	} else if ex, found, err := t.adopt(ctx, "", ss.Environment, ss.Service, ss.UndoAt, marker(t.run.ID, ss.Name)); err != nil {
		return err
	} else if found { // started before a restart
		ss.Status, ss.UndoExecution = StageUndoing, ex.ID
		return t.save(ctx)
	}
	if t.r.opt.Undo == nil {
		ss.Status, ss.Reason = StageUndoFailed, "this server cannot undo releases"
		return t.save(ctx)
	}
	id, err := t.r.opt.Undo(ctx, ss.Environment, ss.Service, t.run.StartedBy, cause)
	if err != nil {
		ss.Status, ss.Reason = StageUndoFailed, "undo: "+err.Error()
		t.st.log(t.now, events.TypePipelineUndo, "error", ss.Name, "stage %s could not be undone: %v", ss.Name, err)
		return t.save(ctx)
	}
	ss.Status, ss.UndoExecution = StageUndoing, id
	t.st.log(t.now, events.TypePipelineUndo, "warn", ss.Name, "undoing stage %s: execution %s puts the previous release of %s back in %s", ss.Name, id, ss.Service, ss.Environment)
	return t.save(ctx)
}

// finish records the run's end.
func (t *tick) finish(ctx context.Context, aborted bool, why string) error {
	status := store.StatusFailed
	switch {
	case aborted:
		status = store.StatusAborted
	case t.mode() == spec.PipelineRollbackAll:
		status = store.StatusRolledBack
		for _, ss := range t.st.Stages {
			if ss.Status == StageUndoFailed {
				status = store.StatusFailed
				why += "; stage " + ss.Name + " could not be undone"
			}
		}
	}
	t.setStatus(status, why, events.TypePipelineFinished, "error", "pipeline %s %s: %s", t.run.Pipeline, status, why)
	return t.save(ctx)
}
