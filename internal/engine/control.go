package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// controlKind is what a person asked of a running execution.
type controlKind string

const (
	ctrlRollback controlKind = "rollback"
	ctrlAbort    controlKind = "abort"
	ctrlPause    controlKind = "pause"
	ctrlResume   controlKind = "resume"
	ctrlRetry    controlKind = "retry"
	ctrlDecide   controlKind = "decide"
)

// control is one request delivered to an execution's goroutine.
type control struct {
	seq      int64 // the stored request's number
	kind     controlKind
	by       string
	reason   string
	decision Decision
	reply    chan error
}

// interrupt stops the current step because a person asked to roll back or abort.
type interrupt struct {
	seq    int64 // the request that asked for it; 0 for the engine's own
	kind   controlKind
	by     string
	reason string
}

func (i *interrupt) Error() string {
	s := fmt.Sprintf("%s requested by %s", i.kind, orAnonymous(i.by))
	if i.reason != "" {
		s += ": " + i.reason
	}
	return s
}

// Rollback asks the execution to restore all traffic to the live slot and scale the
// new slot down, interrupting the current step.
func (e *Engine) Rollback(ctx context.Context, id, by, reason string) error {
	_, err := e.request(ctx, id, control{kind: ctrlRollback, by: by, reason: reason})
	return err
}

// Abort stops the execution at once and changes nothing more: traffic stays as it is.
func (e *Engine) Abort(ctx context.Context, id, by, reason string) error {
	_, err := e.request(ctx, id, control{kind: ctrlAbort, by: by, reason: reason})
	return err
}

// Pause holds the execution where it is until Resume.
func (e *Engine) Pause(ctx context.Context, id, by string) error {
	_, err := e.request(ctx, id, control{kind: ctrlPause, by: by})
	return err
}

// Resume continues a paused execution; after a failure it skips the failed step.
func (e *Engine) Resume(ctx context.Context, id, by string) error {
	_, err := e.request(ctx, id, control{kind: ctrlResume, by: by})
	return err
}

// Retry runs the failed step of an execution paused after a failure again.
func (e *Engine) Retry(ctx context.Context, id, by string) error {
	_, err := e.request(ctx, id, control{kind: ctrlRetry, by: by})
	return err
}

// Decide approves or rejects the approval the execution is waiting for.
func (e *Engine) Decide(ctx context.Context, id string, d Decision) error {
	_, err := e.request(ctx, id, control{kind: ctrlDecide, by: d.By, reason: d.Comment, decision: d})
	return err
}

// refuse answers a request that the execution's current status does not allow.
func (r *run) refuse(c control, why string) {
	r.consume(c.seq)
	c.reply <- fmt.Errorf("%w: execution %s is %s: %s", ErrInvalidState, r.ex.ID, r.ex.Status, why)
}

// block waits until the deadline (zero: no deadline) while answering requests. It
// returns nil when the deadline passed, an *interrupt for rollback or abort, ctx.Err()
// when the engine stops, and errDecided when decide reports the decision complete.
func (r *run) block(ctx context.Context, until time.Time, decide func(Decision) (bool, error)) error {
	var timeout <-chan time.Time
	if !until.IsZero() {
		t := r.e.opt.Clock.NewTimer(until.Sub(r.e.opt.Clock.Now()))
		defer t.Stop()
		timeout = t.C()
	}
	for {
		select {
		case <-timeout:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case c := <-r.ctrl:
			if err := r.handleInStep(ctx, c, decide); err != nil {
				return err
			}
		}
	}
}

// errDecided ends an approval's wait once the decision is complete.
var errDecided = errors.New("decided")

// handleInStep answers one request that arrives while a step runs.
func (r *run) handleInStep(ctx context.Context, c control, decide func(Decision) (bool, error)) error {
	if r.ex.Status == store.StatusRollingBack && (c.kind == ctrlRollback || c.kind == ctrlPause) {
		r.refuse(c, "a rollback is in progress; only abort can stop it")
		return nil
	}
	switch c.kind {
	case ctrlRollback, ctrlAbort:
		c.reply <- nil
		return &interrupt{seq: c.seq, kind: c.kind, by: c.by, reason: c.reason}
	case ctrlPause:
		return r.holdPaused(ctx, c)
	case ctrlDecide:
		if decide == nil {
			r.refuse(c, "it is not waiting for an approval")
			return nil
		}
		r.consume(c.seq)
		complete, err := decide(c.decision)
		c.reply <- err
		if err == nil && complete {
			return errDecided
		}
		return nil
	default:
		r.refuse(c, "it is not paused")
		return nil
	}
}

// pollControl answers requests queued between steps without waiting. Decisions are
// taken when the step under the cursor is an approval (as after a restart).
func (r *run) pollControl(ctx context.Context) error {
	decide := r.approvalDecider(ctx)
	for {
		select {
		case c := <-r.ctrl:
			if err := r.handleInStep(ctx, c, decide); errors.Is(err, errDecided) {
				continue
			} else if err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// holdPaused pauses in the middle of a step until a person resumes, rolls back or aborts.
func (r *run) holdPaused(ctx context.Context, c control) error {
	prev := r.ex.Status
	r.consume(c.seq)
	r.state.PausedFor = "request"
	r.console("", "warn", "paused by %s", orAnonymous(c.by))
	if err := r.setStatus(ctx, store.StatusPaused, "paused by "+orAnonymous(c.by)); err != nil {
		c.reply <- err
		return err
	}
	c.reply <- nil
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c := <-r.ctrl:
			switch c.kind {
			case ctrlResume:
				r.consume(c.seq)
				r.state.PausedFor = ""
				r.console("", "info", "resumed by %s", orAnonymous(c.by))
				err := r.setStatus(ctx, prev, "")
				c.reply <- err
				return err
			case ctrlRollback, ctrlAbort:
				c.reply <- nil
				return &interrupt{seq: c.seq, kind: c.kind, by: c.by, reason: c.reason}
			default:
				r.refuse(c, "resume it first")
			}
		}
	}
}

// paused is the handler of an execution paused after a failure (or restarted while
// paused): it waits for a person.
func (r *run) paused(ctx context.Context) (store.Status, error) {
	for {
		select {
		case <-ctx.Done():
			return r.ex.Status, ctx.Err()
		case c := <-r.ctrl:
			next, ok := r.answerPaused(ctx, c)
			if ok {
				return next, nil
			}
		}
	}
}

// answerPaused applies one request to a paused execution; ok reports a status change.
func (r *run) answerPaused(ctx context.Context, c control) (store.Status, bool) {
	afterFailure := r.state.PausedFor == "failure"
	r.consume(c.seq) // a refusal below consumes it too
	switch {
	case c.kind == ctrlRollback:
		c.reply <- nil
		r.startRollback(&interrupt{kind: c.kind, by: c.by, reason: c.reason})
		return store.StatusRollingBack, true
	case c.kind == ctrlAbort:
		c.reply <- nil
		r.abortNote(&interrupt{kind: c.kind, by: c.by, reason: c.reason})
		return store.StatusAborted, true
	case c.kind == ctrlRetry && afterFailure:
		cur := r.state.current()
		cur.Status, cur.Deadline = store.StatusPending, nil
		r.console(cur.Key, "info", "retry of %s requested by %s", cur.Name, orAnonymous(c.by))
	case c.kind == ctrlResume && afterFailure:
		cur := r.state.current()
		r.console(cur.Key, "warn", "%s skipped the failed step %s", orAnonymous(c.by), cur.Name)
		r.next()
	case c.kind == ctrlResume:
		r.console("", "info", "resumed by %s", orAnonymous(c.by))
	default:
		r.refuse(c, "use resume, retry, rollback or abort")
		return "", false
	}
	r.state.PausedFor = ""
	r.ex.Reason = ""
	c.reply <- nil
	return store.StatusRunning, true
}

// rejectPending answers requests that arrived as the execution finished.
func (r *run) rejectPending() {
	for {
		select {
		case c := <-r.ctrl:
			r.refuse(c, "it has finished")
		default:
			return
		}
	}
}
