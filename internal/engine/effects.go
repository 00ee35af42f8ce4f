package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
)

// effect performs one side effect at most once per key. Its intent is journaled
// before the call and its outcome after; a call interrupted by a crash is repeated
// with the same key on resume, and the platform or router makes the repeat a no-op.
// do may change r.state: the change is committed together with the outcome.
func (r *run) effect(ctx context.Context, key string, do func(ctx context.Context, key string) error) error {
	if r.done[key] {
		return nil
	}
	if !r.intent[key] {
		if err := r.commit(ctx, nil, r.journal(key, events.KindEffectIntent, nil)); err != nil {
			return err
		}
		r.intent[key] = true
		r.crash(string(events.KindEffectIntent))
	}
	if err := r.callRetrying(ctx, key, do); err != nil {
		return err
	}
	r.crash("effect.applied")
	svc := r.svc
	if err := r.commit(ctx, svc, r.journal(key, events.KindEffectDone, nil)); err != nil {
		return err
	}
	r.svc = nil
	r.done[key] = true
	r.crash(string(events.KindEffectDone))
	return nil
}

// callTries is how many times a side effect is tried, with the same key, before its
// error goes to the workflow's failure strategy; a blip of the router or platform
// should not roll a release back.
const callTries = 3

// callRetrying runs a side effect up to callTries times with backoff. A person's
// rollback or abort, or the engine stopping, ends the waits at once.
func (r *run) callRetrying(ctx context.Context, key string, do func(ctx context.Context, key string) error) error {
	backoff := r.e.opt.RetryBackoff
	for try := 1; ; try++ {
		err := r.call(ctx, func(ctx context.Context) error { return do(ctx, key) })
		if err == nil || try == callTries || ctx.Err() != nil || errors.Is(err, errLostOwnership) || errors.Is(err, platform.ErrRefused) {
			return err
		}
		r.console("", "warn", "%v; trying again in %s (%d of %d)", err, backoff, try+1, callTries)
		if err := r.flush(ctx); err != nil {
			return err
		}
		if err := r.block(ctx, r.e.opt.Now().Add(backoff), nil); err != nil {
			return err
		}
		backoff = min(backoff*2, r.e.opt.MaxBackoff)
	}
}

// call runs one platform or router call bounded by the engine's CallTimeout.
func (r *run) call(ctx context.Context, fn func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, r.e.opt.CallTimeout)
	defer cancel()
	err := fn(cctx)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s: %w", r.e.opt.CallTimeout, err)
	}
	return err
}

// setWeights writes a split, reads it back, and records it once the router confirms.
func (r *run) setWeights(ctx context.Context, step, key string, w traffic.Weights) error {
	svc := traffic.ServiceRef{Service: r.ex.Service}
	return r.effect(ctx, key, func(ctx context.Context, key string) error {
		r.console(step, "info", "setting weights %s", w)
		if err := r.flush(ctx); err != nil {
			return err
		}
		if err := r.rt.Router.SetWeights(ctx, svc, w, key); err != nil {
			return fmt.Errorf("set weights %s: %w", w, err)
		}
		got, err := r.rt.Router.Weights(ctx, svc)
		if err != nil {
			return fmt.Errorf("read weights back: %w", err)
		}
		if got != w {
			return fmt.Errorf("router reads back %s after writing %s", got, w)
		}
		r.state.Weights = &got
		r.event(events.TypeWeights, step, "router reads back "+got.String(), got)
		return nil
	})
}

// awaitReady polls the platform until the slot has n ready instances, the platform
// gives up, or the deadline passes.
func (r *run) awaitReady(ctx context.Context, ss *StepState, ref platform.SlotRef, n int, until time.Time) error {
	last := -1
	shown := map[string]bool{}
	for {
		var st platform.SlotStatus
		err := r.call(ctx, func(ctx context.Context) (err error) {
			st, err = r.rt.Platform.Status(ctx, ref)
			return err
		})
		if err != nil {
			return fmt.Errorf("status of %s: %w", ref, err)
		}
		for _, line := range st.Details {
			if !shown[line] {
				shown[line] = true
				r.console(ss.Key, "info", "%s", line)
			}
		}
		if st.Failed {
			return fmt.Errorf("%s failed: %s", ref, reasons(st))
		}
		if st.Ready != last {
			last = st.Ready
			r.console(ss.Key, "info", "waiting for %d/%d instances of %s ready", st.Ready, n, ref.Slot)
		}
		if st.Ready >= n && st.Desired == n {
			r.console(ss.Key, "info", "%d/%d instances of %s ready", st.Ready, n, ref.Slot)
			return nil
		}
		if !r.e.opt.Now().Before(until) {
			return fmt.Errorf("%s: only %d/%d instances ready after %s: %s", ref, st.Ready, n, until.Sub(*ss.StartedAt).Round(time.Second), reasons(st))
		}
		if err := r.flush(ctx); err != nil {
			return err
		}
		if err := r.block(ctx, r.e.opt.Now().Add(r.e.opt.PollInterval), nil); err != nil {
			return err
		}
	}
}

func reasons(st platform.SlotStatus) string {
	if len(st.Reasons) == 0 {
		return "no reason given by the platform"
	}
	return fmt.Sprint(st.Reasons)
}

// scaleTo changes a slot's instance count as one keyed effect.
func (r *run) scaleTo(ctx context.Context, step, key string, slot platform.Slot, n int) error {
	ref := platform.SlotRef{Service: r.ex.Service, Slot: slot}
	return r.effect(ctx, key, func(ctx context.Context, key string) error {
		r.console(step, "info", "scaling %s to %d instances", slot, n)
		if err := r.rt.Platform.Scale(ctx, ref, n, key); err != nil {
			return fmt.Errorf("scale %s to %d: %w", ref, n, err)
		}
		return nil
	})
}

// serviceState is the record of a service whose live slot is now slot.
func (r *run) serviceState(slot platform.Slot, instances int) *store.ServiceState {
	return &store.ServiceState{
		Environment: r.ex.Environment, Service: r.ex.Service, LiveSlot: string(slot),
		Artifact: r.wf.Spec.Service.Artifact, Instances: instances,
		ExecutionID: r.ex.ID, UpdatedAt: r.e.opt.Now().UTC(),
	}
}
