package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
)

// rollback is the handler of a rolling-back execution: explicit rollback steps when
// the workflow has them, otherwise all traffic back to the live slot (written, read
// back, retried until it holds), then the new slot scaled down.
func (r *run) rollback(ctx context.Context) (store.Status, error) {
	if r.state.Rollback == nil {
		r.state.Rollback = &RollbackState{Reason: r.ex.Reason, Status: store.StatusRunning}
	}
	if len(r.wf.Spec.Rollback) > 0 {
		return r.explicitRollback(ctx)
	}
	rb := r.state.Rollback
	if !rb.Traffic {
		if err := r.restoreTraffic(ctx); err != nil {
			return r.rollbackStopped(err)
		}
	}
	if err := r.dropMatchRules(ctx); err != nil {
		return r.rollbackStopped(err)
	}
	if !rb.ScaledDown {
		r.scaleDownNew(ctx)
	}
	rb.Status = store.StatusRolledBack
	r.ex.Reason = rb.Reason
	if live := r.state.LiveSlot; live.Valid() {
		r.console("", "info", "rolled back: all traffic on %s (live), %s scaled down", live, r.state.NewSlot)
	} else {
		r.console("", "info", "rolled back: %s scaled down", r.state.NewSlot)
	}
	return store.StatusRolledBack, nil
}

// rollbackStopped ends a rollback that a person aborted or the engine left.
func (r *run) rollbackStopped(err error) (store.Status, error) {
	var in *interrupt
	if errors.As(err, &in) && in.kind == ctrlAbort {
		r.consume(in.seq)
		r.ex.Reason = fmt.Sprintf("rollback aborted (%s): traffic may not be on the live slot: %s", in.Error(), r.state.Rollback.NeedsPerson)
		r.console("", "error", "%s", r.ex.Reason)
		return store.StatusAborted, nil
	}
	return r.ex.Status, err
}

// restoreTraffic sends all traffic to the live slot, retrying with backoff for as long
// as the router refuses; only an abort or the engine stopping ends it unfinished.
func (r *run) restoreTraffic(ctx context.Context) error {
	rb := r.state.Rollback
	live := r.state.LiveSlot
	if !live.Valid() {
		r.console("", "info", "first release: there is no live slot to send traffic back to")
		rb.Traffic = true
		return r.commit(ctx, nil)
	}
	if r.state.OldScaledDown {
		rb.NeedsPerson = fmt.Sprintf("%s was already scaled down; deploy it again before sending traffic to it", live)
		r.console("", "error", "cannot restore traffic: %s", rb.NeedsPerson)
		return r.commit(ctx, nil)
	}
	if r.state.Promoted { // the old slot is live again, with what it ran before
		r.svc = r.serviceState(live, r.state.LiveInstances)
		r.svc.Artifact = r.state.LiveArtifact
	}
	key := fmt.Sprintf("%s/rollback/weights", r.ex.ID)
	err := r.retryRouter(ctx, "restore traffic to "+string(live), func() error {
		return r.setWeights(ctx, "rollback", key, traffic.All(live))
	})
	if err != nil {
		return err
	}
	r.svc = nil
	r.state.Promoted = false
	rb.Traffic, rb.NeedsPerson = true, ""
	return r.commit(ctx, nil)
}

// retryRouter runs a rollback's router call until it succeeds, with backoff, loudly:
// only an abort, a lost lease or the engine stopping ends it unfinished.
func (r *run) retryRouter(ctx context.Context, what string, call func() error) error {
	rb := r.state.Rollback
	backoff := r.e.opt.RetryBackoff
	for {
		err := call()
		if err == nil {
			rb.NeedsPerson = ""
			return nil
		}
		if ctx.Err() != nil || errors.Is(err, errLostOwnership) {
			return err
		}
		rb.Attempts++
		rb.NeedsPerson = fmt.Sprintf("router write failing: %v", err)
		r.console("rollback", "error", "NEEDS ATTENTION: cannot %s (attempt %d): %v; retrying in %s. %s keeps its current weight.", what, rb.Attempts, err, backoff, r.state.LiveSlot)
		if err := r.commit(ctx, nil); err != nil {
			return err
		}
		if err := r.block(ctx, r.e.opt.Now().Add(backoff), nil); err != nil {
			return err
		}
		backoff = min(backoff*2, r.e.opt.MaxBackoff)
	}
}

// dropMatchRules sets up again, without their A/B match rules, the routes of service
// steps that sent matching requests to the new slot, so nobody reaches the slot being
// scaled down. A failure is retried like the traffic write.
func (r *run) dropMatchRules(ctx context.Context) error {
	for i, ph := range r.wf.Spec.Phases {
		for j := range ph.Steps {
			s := &ph.Steps[j]
			if s.Service == nil || s.Service.Routing == nil || len(s.Service.Routing.Match) == 0 || r.state.Phases[i].Steps[j].Status == store.StatusPending {
				continue
			}
			rt := r.route(s.Service)
			rt.Match, rt.MatchSlot, rt.Sticky = nil, "", false
			key := fmt.Sprintf("%s/rollback/route-%s", r.ex.ID, stepKey(i, j))
			err := r.retryRouter(ctx, "remove the A/B rules", func() error {
				return r.effect(ctx, key, func(ctx context.Context, key string) error {
					r.console("rollback", "info", "removing the A/B rules that sent matching requests to %s", r.state.NewSlot)
					rt.Key = key
					return r.rt.Router.Ensure(ctx, rt)
				})
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// scaleDownNew scales the new slot to zero; a failure is reported but does not undo
// the rollback, since traffic is already safe.
func (r *run) scaleDownNew(ctx context.Context) {
	rb := r.state.Rollback
	key := fmt.Sprintf("%s/rollback/scale", r.ex.ID)
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if err = r.scaleTo(ctx, "rollback", key, r.state.NewSlot, 0); err == nil || ctx.Err() != nil {
			break
		}
		r.sleepPlain(ctx, r.e.opt.RetryBackoff*time.Duration(attempt))
	}
	if err != nil {
		rb.NeedsPerson = fmt.Sprintf("%s was not scaled down: %v", platform.SlotRef{Service: r.ex.Service, Slot: r.state.NewSlot}, err)
		r.console("rollback", "error", "traffic is safe on %s but %s", r.state.LiveSlot, rb.NeedsPerson)
		rb.Reason += "; " + rb.NeedsPerson
	}
	rb.ScaledDown = err == nil
}

// explicitRollback runs the workflow's own rollback steps in order.
func (r *run) explicitRollback(ctx context.Context) (store.Status, error) {
	rb := r.state.Rollback
	for rb.Step < len(r.wf.Spec.Rollback) {
		s := &r.wf.Spec.Rollback[rb.Step]
		ss := &StepState{Key: fmt.Sprintf("rb.s%d", rb.Step+1), Name: s.DisplayName(), Type: string(s.Type()), Status: store.StatusRunning, Attempt: 1}
		now := r.e.opt.Now().UTC()
		ss.StartedAt = &now
		r.console(ss.Key, "info", "rollback step %d/%d: %s", rb.Step+1, len(r.wf.Spec.Rollback), ss.Name)
		if err := r.runStep(ctx, s, ss); err != nil {
			if ctx.Err() != nil || errors.Is(err, errLostOwnership) {
				return r.ex.Status, err
			}
			rb.NeedsPerson = fmt.Sprintf("rollback step %s failed: %v", ss.Name, err)
			r.ex.Reason = rb.Reason + "; " + rb.NeedsPerson
			r.console(ss.Key, "error", "NEEDS ATTENTION: %s", rb.NeedsPerson)
			return store.StatusFailed, nil
		}
		rb.Step++
		if err := r.commit(ctx, nil); err != nil {
			return r.ex.Status, err
		}
	}
	rb.Status = store.StatusRolledBack
	r.ex.Reason = rb.Reason
	return store.StatusRolledBack, nil
}
