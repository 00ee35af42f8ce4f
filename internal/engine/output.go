package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
)

// outputBatch is how often instance output is written, and maxOutputLines how many
// lines per execution a batch keeps; the rest are counted and reported as dropped.
const (
	outputBatch    = 250 * time.Millisecond
	maxOutputLines = 200
)

// serviceKey names a service in an environment.
type serviceKey struct{ environment, service string }

// outputBuffer holds instance lines waiting for the next batch of one execution.
type outputBuffer struct {
	events  []store.Event
	dropped int
}

// InstanceOutput adds a line printed by an instance of a service to the console of
// the execution that drives the service now, if any, prefixed with its slot and
// instance. Lines are written in batches so a chatty instance cannot flood the store.
func (e *Engine) InstanceOutput(environment, service, slot string, instance int, stream, line string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id, ok := e.driving[serviceKey{environment, service}]
	if !ok {
		return
	}
	buf := e.output[id]
	if buf == nil {
		buf = &outputBuffer{}
		e.output[id] = buf
	}
	if len(buf.events) >= maxOutputLines {
		buf.dropped++
		return
	}
	level := events.LevelInfo
	if stream == "stderr" {
		level = events.LevelWarn
	}
	buf.events = append(buf.events, store.Event{
		ExecutionID: id, At: e.opt.Now().UTC(), Type: string(events.TypeOutput), Step: slot, Level: string(level),
		Message: fmt.Sprintf("%s/%d: %s", slot, instance, line),
	})
}

// writeOutput flushes instance output every outputBatch until the engine closes.
func (e *Engine) writeOutput() {
	defer e.wg.Done()
	t := e.opt.Clock.NewTimer(outputBatch)
	defer t.Stop()
	for {
		select {
		case <-e.base.Done():
			e.flushOutput(context.Background())
			return
		case <-t.C():
			e.flushOutput(e.base)
			t.Reset(outputBatch)
		}
	}
}

func (e *Engine) flushOutput(ctx context.Context) {
	e.mu.Lock()
	pending := e.output
	e.output = map[string]*outputBuffer{}
	e.mu.Unlock()
	for id, buf := range pending {
		e.writeBuffer(ctx, id, buf)
	}
}

// flushOutputOf writes one execution's pending instance output at once: the run calls
// it before its last status, so what the instances printed during the last step is
// not lost with the buffer of a finished execution.
func (e *Engine) flushOutputOf(ctx context.Context, id string) {
	e.mu.Lock()
	buf := e.output[id]
	delete(e.output, id)
	e.mu.Unlock()
	if buf != nil {
		e.writeBuffer(ctx, id, buf)
	}
}

// writeBuffer commits one execution's buffered lines and publishes them.
func (e *Engine) writeBuffer(ctx context.Context, id string, buf *outputBuffer) {
	evs := buf.events
	if buf.dropped > 0 {
		evs = append(evs, store.Event{ExecutionID: id, At: e.opt.Now().UTC(), Type: string(events.TypeOutput), Level: string(events.LevelWarn),
			Message: fmt.Sprintf("… %d more lines of instance output not shown", buf.dropped)})
	}
	c := &store.Commit{ExecutionID: id, Events: evs}
	if err := e.store.Commit(ctx, c); err != nil {
		e.log.Warn("cannot write instance output", "execution", id, "err", err)
		return
	}
	e.publish(c.Events)
}
