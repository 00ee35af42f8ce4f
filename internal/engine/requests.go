package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// A person's request (approve, reject, rollback, abort, pause, resume, retry) is
// stored before it is delivered, so any server sharing the store accepts it:
//
//  1. request stores it (store.AddRequest numbers it per execution) and, when this
//     engine drives the execution, hands it to the run at once;
//  2. otherwise requestLoop, on the server that drives the execution, finds it among
//     the unanswered requests and hands it over: at once when the store announces it
//     (WakeRequests; PostgreSQL's LISTEN/NOTIFY), else within RequestPoll;
//  3. the run carries it out and records the last request it consumed in its state, in
//     the same commit as the request's effect, so a server that takes the execution
//     over delivers exactly the requests not yet consumed (also those answered but
//     never made durable by a server that died);
//  4. the answer (carried out, or refused with why) is stored for whoever asked, who
//     waits for it on whichever server the request came in.

// ErrRequestPending says a request was stored but not answered in time: the server
// driving the execution is slow or being replaced. It is carried out once a server
// drives the execution again.
var ErrRequestPending = errors.New("request stored; not carried out yet")

// requestWait bounds how long a caller waits for its request's answer.
const requestWait = 10 * time.Second

// Request asks for a control and returns the stored request with its answer. A
// refused request returns the request and an error matching ErrInvalidState or
// ErrForbidden; one not answered within requestWait returns ErrRequestPending.
func (e *Engine) request(ctx context.Context, id string, c control) (store.Request, error) {
	req := store.Request{ExecutionID: id, Kind: c.name(), By: c.by, Reason: e.opt.Redact(c.reason),
		At: e.opt.Now().UTC()}
	if c.kind == ctrlDecide {
		raw, err := json.Marshal(c.decision)
		if err != nil {
			return req, fmt.Errorf("engine: encode decision: %w", err)
		}
		req.Data = raw
	}
	if err := e.store.AddRequest(ctx, &req); err != nil {
		return req, e.refusedUpFront(ctx, id, c, err)
	}
	if r := e.runOf(id); r != nil {
		e.deliver(r, req)
	}
	return e.await(ctx, req)
}

// refusedUpFront explains a request the store would not take.
func (e *Engine) refusedUpFront(ctx context.Context, id string, c control, err error) error {
	if !errors.Is(err, store.ErrFinished) {
		return fmt.Errorf("execution %s: %w", id, err)
	}
	status := "finished"
	if ex, gerr := e.store.GetExecution(ctx, id); gerr == nil {
		status = string(ex.Status)
	}
	return fmt.Errorf("%w: execution %s is %s; %s is not possible", ErrInvalidState, id, status, c.kind)
}

// await waits for the answer of a stored request, from this engine or any other.
func (e *Engine) await(ctx context.Context, req store.Request) (store.Request, error) {
	wake := e.answers.watch(req.ExecutionID, req.Seq)
	defer e.answers.unwatch(req.ExecutionID, req.Seq, wake)
	limit := e.opt.Clock.NewTimer(requestWait)
	defer limit.Stop()
	every := max(e.opt.PollInterval/2, 10*time.Millisecond)
	poll := e.opt.Clock.NewTimer(every)
	defer poll.Stop()
	for {
		rs, err := e.store.Requests(ctx, req.ExecutionID, req.Seq-1)
		if err != nil {
			return req, fmt.Errorf("engine: read request %s#%d: %w", req.ExecutionID, req.Seq, err)
		}
		if len(rs) > 0 && rs[0].Seq == req.Seq && rs[0].Answered {
			return rs[0], answerError(rs[0])
		}
		select {
		case <-wake:
		case <-poll.C():
			poll.Reset(every)
		case <-limit.C():
			return req, fmt.Errorf("%w: %s of execution %s (request %d)", ErrRequestPending, req.Kind, req.ExecutionID, req.Seq)
		case <-ctx.Done():
			return req, ctx.Err()
		}
	}
}

// answerError turns a stored refusal back into the error the caller checks.
func answerError(r store.Request) error {
	switch r.Refusal {
	case "":
		return nil
	case store.RefusedForbidden:
		return fmt.Errorf("%w: %s", ErrForbidden, r.Outcome)
	default:
		return fmt.Errorf("%w: %s", ErrInvalidState, r.Outcome)
	}
}

// runOf returns the run of an execution this engine drives, or nil.
func (e *Engine) runOf(id string) *run {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runs[id]
}

// Owner is the name this engine's server holds execution leases under.
func (e *Engine) Owner() string { return e.opt.Owner }

// WakeRequests tells the engine that requests were stored for executions it may
// drive: it reads and delivers them at once instead of at its next RequestPoll. It
// never blocks; wakes that come while a read is due merge into it.
func (e *Engine) WakeRequests() {
	select {
	case e.wakeRequests <- struct{}{}:
	default:
	}
}

// WakeAnswer tells the engine that a request's answer was stored, by this server or
// another: a caller waiting here for it gets it at once instead of at its next poll.
// It never blocks.
func (e *Engine) WakeAnswer(execution string, seq int64) {
	e.answers.wake(execution, seq)
}

// requestLoop delivers the requests stored for executions this engine drives, so a
// request accepted by another server is carried out here when WakeRequests says so,
// or within RequestPoll.
func (e *Engine) requestLoop() {
	defer e.wg.Done()
	t := e.opt.Clock.NewTimer(e.opt.RequestPoll)
	defer t.Stop()
	for {
		select {
		case <-e.base.Done():
			return
		case <-t.C():
			t.Reset(e.opt.RequestPoll)
		case <-e.wakeRequests:
		}
		if e.Active() == 0 {
			continue
		}
		pending, err := e.store.PendingRequests(e.base, e.opt.Owner)
		if err != nil {
			e.log.Warn("cannot read pending requests", "err", err)
			continue
		}
		for _, req := range pending {
			if r := e.runOf(req.ExecutionID); r != nil {
				e.deliver(r, req)
			}
		}
	}
}

// deliver hands the next request in sequence to a run. Requests are delivered in
// order and once per run; one that does not fit now is delivered by a later poll.
func (e *Engine) deliver(r *run, req store.Request) {
	r.reqMu.Lock()
	defer r.reqMu.Unlock()
	if !r.reqReady || req.Seq != r.delivered+1 {
		return
	}
	c, err := controlOf(req)
	if err != nil {
		r.delivered = req.Seq
		e.answer(req, err)
		return
	}
	c.seq, c.reply = req.Seq, make(chan error, 1)
	select {
	case r.ctrl <- c:
	default:
		return // the run is busy; the next poll tries again
	}
	r.delivered = req.Seq
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		select {
		case err := <-c.reply:
			e.answer(req, err)
		case <-r.exited:
			select {
			case err := <-c.reply:
				e.answer(req, err)
			default: // the run stopped without answering: whoever drives it next will
			}
		}
	}()
}

// redeliver hands a freshly loaded run every stored request it has not consumed,
// answered or not: a server that died may have answered one whose effect it never
// made durable.
func (e *Engine) redeliver(ctx context.Context, r *run) error {
	r.reqMu.Lock()
	r.delivered, r.reqReady = r.state.RequestsDone, true
	r.reqMu.Unlock()
	reqs, err := e.store.Requests(ctx, r.ex.ID, r.state.RequestsDone)
	if err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	for _, req := range reqs {
		e.deliver(r, req)
	}
	return nil
}

// answer stores the outcome of a request and wakes whoever waits for it here.
func (e *Engine) answer(req store.Request, err error) {
	a := store.RequestAnswer{ExecutionID: req.ExecutionID, Seq: req.Seq, At: e.opt.Now().UTC(),
		Outcome: fmt.Sprintf("%s carried out", req.Kind)}
	if err != nil {
		a.Refusal, a.Outcome = store.RefusedInvalid, e.opt.Redact(err.Error())
		if errors.Is(err, ErrForbidden) {
			a.Refusal = store.RefusedForbidden
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.store.AnswerRequest(ctx, a); err != nil {
		e.log.Warn("cannot record the answer to a request", "execution", req.ExecutionID, "request", req.Seq, "err", err)
	}
	e.answers.wake(req.ExecutionID, req.Seq)
}

// controlOf rebuilds the control a stored request asks for.
func controlOf(req store.Request) (control, error) {
	c := control{by: req.By, reason: req.Reason}
	switch req.Kind {
	case "approve", "reject":
		c.kind = ctrlDecide
		if err := json.Unmarshal(req.Data, &c.decision); err != nil {
			return c, fmt.Errorf("%w: request %d: bad decision: %v", ErrInvalidState, req.Seq, err)
		}
	case string(ctrlRollback), string(ctrlAbort), string(ctrlPause), string(ctrlResume), string(ctrlRetry):
		c.kind = controlKind(req.Kind)
	default:
		return c, fmt.Errorf("%w: request %d: unknown kind %q", ErrInvalidState, req.Seq, req.Kind)
	}
	return c, nil
}

// name is the stored kind of a control: decisions are approve or reject.
func (c control) name() string {
	if c.kind != ctrlDecide {
		return string(c.kind)
	}
	if c.decision.Approve {
		return "approve"
	}
	return "reject"
}

// consume records, in the state the next commit writes, that the run has acted on a
// request; a run that takes the execution over delivers only later ones.
func (r *run) consume(seq int64) {
	if seq > r.state.RequestsDone {
		r.state.RequestsDone = seq
	}
}
