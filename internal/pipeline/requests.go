package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
)

// Get returns a run and its decoded state.
func (r *Runner) Get(ctx context.Context, id string) (store.PipelineRun, State, error) {
	run, err := r.st.GetPipelineRun(ctx, id)
	if err != nil {
		return run, State{}, err
	}
	var st State
	if err := json.Unmarshal(run.State, &st); err != nil {
		return run, st, fmt.Errorf("pipeline run %s: decode state: %w", id, err)
	}
	return run, st, nil
}

// Decide records a person's decision on the approval gate holding stage (any
// server may take it: it is written into the run, which its owner reads). The rules
// are an approval step's: the decider must be among the approvers, may decide once,
// and may not approve their own run with forbidSelfApproval.
func (r *Runner) Decide(ctx context.Context, id, stage string, d engine.Decision) error {
	return r.update(ctx, id, func(run *store.PipelineRun, st *State) error {
		ss := st.stage(stage)
		if ss == nil {
			return fmt.Errorf("pipeline run %s has no stage %q: %w", id, stage, store.ErrNotFound)
		}
		if ss.Status != StageGated || ss.Gate >= len(ss.Gates) || ss.Gates[ss.Gate].Kind != "approval" || st.Failed != "" || st.Abort != nil {
			return fmt.Errorf("%w: stage %s is %s, not waiting for an approval", engine.ErrInvalidState, stage, ss.Status)
		}
		g := ss.Gates[ss.Gate]
		if !engine.MayApprove(g.Approvers, d) {
			return fmt.Errorf("%w: %s may not decide on stage %s; approvers are %s", engine.ErrForbidden, orAnonymous(d.By), stage, strings.Join(g.Approvers, ", "))
		}
		if d.Approve && r.forbidsSelf(ctx, run, stage) && d.By == run.StartedBy {
			return fmt.Errorf("%w: %s started this run and may not approve it (forbidSelfApproval)", engine.ErrForbidden, d.By)
		}
		if slices.ContainsFunc(ss.Decisions, func(x Decision) bool { return x.Gate == ss.Gate && x.By == d.By }) {
			return fmt.Errorf("%w: %s already decided on stage %s", engine.ErrInvalidState, d.By, stage)
		}
		now := r.opt.Now().UTC()
		ss.Decisions = append(ss.Decisions, Decision{Gate: ss.Gate, Approve: d.Approve, By: d.By, Comment: d.Comment, At: now})
		verb := map[bool]string{true: "approved", false: "rejected"}[d.Approve]
		st.log(now, events.TypePipelineDecision, "info", stage, "stage %s %s by %s%s", stage, verb, d.By, prefixed(": ", d.Comment)).
			with(events.DecisionData{Step: stage, Approve: d.Approve, By: d.By, Comment: d.Comment, At: now})
		return nil
	})
}

// forbidsSelf reports whether the approval gate holding stage forbids self-approval.
func (r *Runner) forbidsSelf(ctx context.Context, run *store.PipelineRun, stage string) bool {
	_, p, err := r.definition(ctx, run.Pipeline, run.PipelineVersion)
	if err != nil {
		return true // the safe answer
	}
	var st State
	_ = json.Unmarshal(run.State, &st)
	s, ss := p.Stage(stage), st.stage(stage)
	if s == nil || ss == nil || ss.Gate >= len(s.Gates) || s.Gates[ss.Gate].Approval == nil {
		return true
	}
	return s.Gates[ss.Gate].Approval.ForbidSelfApproval
}

// Abort asks a run to stop: stages not started are skipped, stages in flight are
// rolled back; finished stages stay as they are.
func (r *Runner) Abort(ctx context.Context, id, by, reason string) error {
	return r.update(ctx, id, func(run *store.PipelineRun, st *State) error {
		if st.Abort != nil {
			return fmt.Errorf("%w: run %s is already being aborted", engine.ErrInvalidState, id)
		}
		now := r.opt.Now().UTC()
		st.Abort = &Request{By: by, Reason: reason, At: now}
		st.log(now, events.TypePipelineAbort, "warn", "", "abort requested by %s%s", orAnonymous(by), prefixed(": ", reason))
		return nil
	})
}

// update applies fn to a fresh copy of a run until the write does not conflict, then
// publishes its new lines and delivers it to the run's driver (deliver).
func (r *Runner) update(ctx context.Context, id string, fn func(run *store.PipelineRun, st *State) error) error {
	for attempt := 0; ; attempt++ {
		run, st, err := r.Get(ctx, id)
		if err != nil {
			return err
		}
		if run.Status.Terminal() {
			return fmt.Errorf("pipeline run %s has ended (%s): %w", id, run.Status, engine.ErrInvalidState)
		}
		logged := len(st.Log)
		if err := fn(&run, &st); err != nil {
			return err
		}
		raw, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("pipeline run %s: encode state: %w", id, err)
		}
		run.State, run.UpdatedAt = raw, r.opt.Now().UTC()
		err = r.st.UpdatePipelineRun(ctx, &run)
		if err == nil {
			r.publish(id, st.Log, logged)
			r.deliver(ctx, run)
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= 20 {
			return err
		}
	}
}
