package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// run drives one execution. Only its own goroutine writes the execution, so the
// record version it carries is always the stored one unless another server took over.
type run struct {
	e      *Engine
	ex     store.Execution
	state  State
	wf     *spec.Workflow
	env    *spec.Environment
	rt     Runtime
	done   map[string]bool     // effect keys whose outcome is journaled
	intent map[string]bool     // effect keys whose intent is journaled
	events []store.Event       // console lines not yet committed
	svc    *store.ServiceState // service state to write with the next effect outcome
	// pending holds the journal entries of step boundaries (a step finished, the next
	// one started) until the next commit carries them, so moving from one step to the
	// next costs one commit. Until then nothing of them is durable: a restart runs the
	// step again, which repeats no side effect, as each has its own journaled outcome.
	pending []store.JournalEntry
	log     *slog.Logger

	ctrl   chan control
	exited chan struct{}
	// reqMu guards the delivery of stored requests: delivered is the last request
	// handed to ctrl, and none is handed over before the state is loaded (reqReady).
	reqMu     sync.Mutex
	delivered int64
	reqReady  bool
	cancel    context.CancelFunc // stops the run when its lease is lost
	// pre holds the definitions prepared by Start, used once by load.
	pre *prepared
	// bgs are the background analyses running next to the steps (bg creates it).
	bgOnce sync.Once
	bgs    *background
}

// handler advances an execution from one status; it returns the next status.
type handler func(r *run, ctx context.Context) (store.Status, error)

// handlers is the execution state machine: one small handler per non-terminal status.
var handlers = map[store.Status]handler{
	store.StatusPending:     (*run).begin,
	store.StatusRunning:     (*run).advance,
	store.StatusWaiting:     (*run).advance,
	store.StatusPaused:      (*run).paused,
	store.StatusRollingBack: (*run).rollback,
}

// errLostOwnership stops a run whose execution was written by someone else.
var errLostOwnership = errors.New("execution was changed by another writer")

func newRun(e *Engine, ex store.Execution) *run {
	return &run{
		e: e, ex: ex, done: map[string]bool{}, intent: map[string]bool{},
		log:  e.log.With("execution", ex.ID),
		ctrl: make(chan control, 64), exited: make(chan struct{}),
	}
}

// loop runs handlers until the execution is terminal or the engine stops.
func (r *run) loop(ctx context.Context) {
	if !r.loadRetrying(ctx) {
		return
	}
	if err := r.e.redeliver(ctx, r); err != nil {
		r.log.Warn("cannot read stored requests; they are delivered by the next poll", "err", err)
	}
	defer r.stopAnalyses()
	for !r.ex.Status.Terminal() {
		if r.ex.Status != store.StatusRunning && r.ex.Status != store.StatusWaiting {
			r.stopAnalyses()
		}
		h, ok := handlers[r.ex.Status]
		if !ok {
			r.log.Error("no handler for status", "status", r.ex.Status)
			return
		}
		next, err := h(r, ctx)
		switch {
		case errors.Is(err, errLostOwnership):
			r.log.Warn("stopped driving execution", "err", err)
			return
		case ctx.Err() != nil:
			return // engine closing: resume later from the journal
		case err != nil:
			r.log.Error("handler failed", "status", r.ex.Status, "err", err)
			if !r.sleepPlain(ctx, r.e.opt.RetryBackoff) {
				return
			}
			continue
		}
		if next != r.ex.Status {
			if next.Terminal() {
				r.e.flushOutputOf(ctx, r.ex.ID)
			}
			if err := r.setStatus(ctx, next, r.ex.Reason); err != nil && !errors.Is(err, context.Canceled) {
				r.log.Error("cannot record status", "status", next, "err", err)
			}
		}
	}
	r.rejectPending()
}

// load reads the definitions, the state and the journal of the execution. A fresh
// execution comes with its definitions prepared and has no journal yet.
func (r *run) load(ctx context.Context) error {
	if len(r.ex.State) > 0 {
		if err := json.Unmarshal(r.ex.State, &r.state); err != nil {
			return fmt.Errorf("decode state: %w", err)
		}
	}
	p, fresh := r.pre, r.pre != nil
	r.pre = nil
	if !fresh {
		var err error
		if p, err = r.e.prepare(ctx, r.ex.Workflow, r.ex.WorkflowVersion, r.ex.Variables, r.ex.EnvironmentVersion); err != nil {
			return err
		}
	}
	r.wf, r.env, r.rt = p.wf, p.env, p.rt
	if fresh {
		return nil
	}
	journal, err := r.e.store.Journal(ctx, r.ex.ID)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for _, j := range journal {
		switch events.Kind(j.Kind) {
		case events.KindEffectIntent:
			r.intent[j.Key] = true
		case events.KindEffectDone:
			r.done[j.Key] = true
		}
	}
	return nil
}

// loadRetrying loads the execution, retrying with backoff while the failure may pass
// (the platform's API unreachable at start-up); a definition that no longer parses or
// exists fails the execution. It reports whether the run can go on.
func (r *run) loadRetrying(ctx context.Context) bool {
	backoff := r.e.opt.RetryBackoff
	for {
		err := r.load(ctx)
		if err == nil {
			return true
		}
		var ps spec.Problems
		if errors.As(err, &ps) || errors.Is(err, store.ErrNotFound) {
			r.log.Error("cannot load execution", "err", err)
			r.failLoad(ctx, err)
			return false
		}
		r.log.Warn("cannot load execution yet; trying again", "err", err, "in", backoff)
		if !r.sleepPlain(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, r.e.opt.MaxBackoff)
	}
}

// failLoad marks an execution that cannot even be loaded as failed, with the reason.
func (r *run) failLoad(ctx context.Context, cause error) {
	if ctx.Err() != nil || r.ex.Status.Terminal() {
		return
	}
	r.console("", "error", "cannot run execution: %v", cause)
	if err := r.setStatus(ctx, store.StatusFailed, cause.Error()); err != nil {
		r.log.Error("cannot record failure", "err", err)
	}
}

// console queues a console line; it becomes durable with the next commit.
func (r *run) console(step, level, format string, args ...any) {
	r.events = append(r.events, store.Event{
		ExecutionID: r.ex.ID, At: r.e.opt.Now().UTC(), Type: string(events.TypeConsole), Step: step,
		Level: level, Message: r.e.opt.Redact(fmt.Sprintf(format, args...)),
	})
}

// event queues a structured event (status, step, weights) with data, its payload
// as events.Types says.
func (r *run) event(typ events.Type, step, msg string, data any) {
	r.eventAt(events.LevelInfo, typ, step, msg, data)
}

// eventAt queues a structured event at a level.
func (r *run) eventAt(level events.Level, typ events.Type, step, msg string, data any) {
	b, _ := json.Marshal(data) // data is always a plain struct
	r.events = append(r.events, store.Event{
		ExecutionID: r.ex.ID, At: r.e.opt.Now().UTC(), Type: string(typ), Step: step,
		Level: string(level), Message: r.e.opt.Redact(msg), Data: json.RawMessage(r.e.opt.Redact(string(b))),
	})
}

// commit writes the state, the queued events and journal entries in one transaction.
func (r *run) commit(ctx context.Context, svc *store.ServiceState, journal ...store.JournalEntry) error {
	b, err := json.Marshal(&r.state)
	if err != nil {
		return fmt.Errorf("engine: encode state: %w", err)
	}
	ex := r.ex
	ex.State, ex.UpdatedAt = json.RawMessage(r.e.opt.Redact(string(b))), r.e.opt.Now().UTC()
	ex.Reason = r.e.opt.Redact(ex.Reason)
	entries := append(append(make([]store.JournalEntry, 0, len(r.pending)+len(journal)), r.pending...), journal...)
	c := &store.Commit{Execution: &ex, Journal: entries, Events: r.events, Service: svc}
	if err := r.e.store.Commit(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: %v", errLostOwnership, err)
		}
		return fmt.Errorf("engine: commit %s: %w", r.ex.ID, err)
	}
	r.ex = ex
	pending := r.pending
	r.events, r.pending = nil, nil
	r.e.publish(c.Events)
	for _, j := range pending {
		r.crash(j.Kind) // step.started, step.finished
	}
	return nil
}

// flush makes queued console lines durable and visible without changing state.
func (r *run) flush(ctx context.Context) error {
	if len(r.pending) > 0 {
		return r.commit(ctx, nil)
	}
	if len(r.events) == 0 {
		return nil
	}
	c := &store.Commit{ExecutionID: r.ex.ID, Events: r.events}
	if err := r.e.store.Commit(ctx, c); err != nil {
		return fmt.Errorf("engine: write console of %s: %w", r.ex.ID, err)
	}
	r.events = nil
	r.e.publish(c.Events)
	return nil
}

// setStatus records a new execution status and its reason.
func (r *run) setStatus(ctx context.Context, s store.Status, reason string) error {
	prev := r.ex.Status
	r.ex.Status, r.ex.Reason = s, reason
	msg := fmt.Sprintf("execution %s", s)
	if reason != "" && s != store.StatusRunning && s != store.StatusSucceeded {
		msg += ": " + reason
	}
	r.event(events.TypeStatus, "", msg, events.StatusData{Status: s, From: prev, Reason: reason})
	return r.commit(ctx, nil, r.journal("", events.KindStatus, events.JournalStatusData{Status: s, Reason: reason}))
}

// journal builds a journal entry.
func (r *run) journal(key string, kind events.Kind, data any) store.JournalEntry {
	var b json.RawMessage
	if data != nil {
		raw, _ := json.Marshal(data)
		b = json.RawMessage(r.e.opt.Redact(string(raw)))
	}
	return store.JournalEntry{Key: key, Kind: string(kind), Data: b, At: r.e.opt.Now().UTC()}
}

// crash calls the test crash hook.
func (r *run) crash(point string) { r.e.opt.CrashPoint(point) }

// sleepPlain waits d or until ctx ends; it reports whether the time passed.
func (r *run) sleepPlain(ctx context.Context, d time.Duration) bool {
	return sleepUntil(ctx, r.e.opt.Clock, r.e.opt.Clock.Now().Add(d)) == nil
}
