package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
)

// A run's log is its event stream: line i (from 0) is the event with Seq i+1, its
// Type the line's kind and its Step the stage. The Runner publishes the lines of every
// write it makes on its broker, so subscribers on this server see them at once; a
// subscriber also re-reads the stored run every StreamPoll, which is how it sees the
// lines another server wrote (the stored run is the truth), and at once when that
// server announced the change here (Wake).

// logs is the Runner's broker of runs' log lines.
type logs struct{ *events.Broker }

func newLogs(opt Options) logs {
	return logs{events.New(logSource{opt.Store}, events.WithPollInterval(opt.StreamPoll), events.WithLogger(opt.Logger))}
}

// Subscribe streams a run's events with Seq > after: the stored lines first, then
// the new ones as they are written, in order and each once. The channel closes when
// ctx ends or the store fails (Subscription.Err says which); it does not close when
// the run ends, since the caller decides when it has seen enough.
func (r *Runner) Subscribe(ctx context.Context, id string, after int64) (<-chan store.Event, *events.Subscription) {
	return r.logs.Subscribe(ctx, id, after)
}

// Events returns up to limit lines of a run's log after the first `after`, as
// events (limit <= 0: all).
func (r *Runner) Events(ctx context.Context, id string, after int64, limit int) ([]store.Event, error) {
	return logSource{r.st}.Events(ctx, id, after, limit)
}

// Wake makes the runs driven here look again at once, and every subscriber re-read
// its run: another server stored a change (a decision, an abort) and announced it.
func (r *Runner) Wake() {
	for _, id := range r.driven() {
		r.poke(id)
	}
	r.logs.Refresh()
}

// deliver hands a stored change to whoever drives the run: this server's driver at
// once, another server through Announce (its next look otherwise).
func (r *Runner) deliver(ctx context.Context, run store.PipelineRun) {
	if run.Owner == r.opt.Owner || run.Owner == "" || r.opt.Announce == nil {
		r.poke(run.ID)
		return
	}
	if err := r.opt.Announce(ctx, run.Owner); err != nil {
		r.log.Warn("cannot announce a pipeline decision; its owner sees it at its next look", "run", run.ID, "owner", run.Owner, "err", err)
	}
}

// publish hands the lines of a run written from index from on to its subscribers here.
func (r *Runner) publish(id string, log []Line, from int) {
	if from >= len(log) {
		return
	}
	evs := make([]store.Event, 0, len(log)-from)
	for i := from; i < len(log); i++ {
		evs = append(evs, Event(id, i, log[i]))
	}
	r.logs.Publish(evs...)
}

// Event is line i (from 0) of run id's log as an event of its stream.
func Event(id string, i int, l Line) store.Event {
	return store.Event{ExecutionID: id, Seq: int64(i) + 1, At: l.At, Type: string(l.Kind), Step: l.Stage,
		Level: l.Level, Message: l.Message, Data: l.Data}
}

// logSource reads runs' logs as events, for the broker.
type logSource struct{ st Store }

// Events returns up to limit lines of run id's log after the first `after`, as
// events (limit <= 0: all).
func (s logSource) Events(ctx context.Context, id string, after int64, limit int) ([]store.Event, error) {
	run, err := s.st.GetPipelineRun(ctx, id)
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(run.State, &st); err != nil {
		return nil, fmt.Errorf("pipeline run %s: decode state: %w", id, err)
	}
	end := len(st.Log)
	if limit > 0 {
		end = min(end, int(after)+limit)
	}
	var out []store.Event
	for i := int(after); i < end; i++ {
		out = append(out, Event(id, i, st.Log[i]))
	}
	return out, nil
}
