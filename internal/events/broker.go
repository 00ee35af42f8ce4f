package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// Source reads an execution's stored events; store.Store satisfies it.
type Source interface {
	// Events returns up to limit events with Seq > after, in order (limit <= 0: all).
	Events(ctx context.Context, executionID string, after int64, limit int) ([]store.Event, error)
}

// Defaults of a Broker.
const (
	DefaultBuffer       = 256
	DefaultPageSize     = 500
	DefaultPollInterval = 2 * time.Second
)

// Option configures a Broker.
type Option func(*Broker)

// WithBuffer sets how many live events a subscriber may fall behind before it
// switches to reading from the store.
func WithBuffer(n int) Option { return func(b *Broker) { b.buffer = max(n, 1) } }

// WithPageSize sets how many events one store read returns.
func WithPageSize(n int) Option { return func(b *Broker) { b.pageSize = max(n, 1) } }

// WithPollInterval sets how often an idle subscriber checks the store for events that
// were not published to this broker (written by another server, or never published);
// zero or less disables polling.
func WithPollInterval(d time.Duration) Option { return func(b *Broker) { b.poll = d } }

// WithLogger sets the broker's logger.
func WithLogger(l *slog.Logger) Option { return func(b *Broker) { b.log = l } }

// Broker fans console events out to subscribers, indexed by execution (or by
// pipeline run: the pipeline runner keeps a broker of its own over runs' logs).
type Broker struct {
	src      Source
	buffer   int
	pageSize int
	poll     time.Duration
	log      *slog.Logger

	mu   sync.RWMutex
	subs map[string]map[*subscriber]struct{}
}

// New returns a broker that reads backlogs from src.
func New(src Source, opts ...Option) *Broker {
	b := &Broker{
		src:      src,
		buffer:   DefaultBuffer,
		pageSize: DefaultPageSize,
		poll:     DefaultPollInterval,
		log:      slog.New(slog.DiscardHandler),
		subs:     make(map[string]map[*subscriber]struct{}),
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// subscriber is one subscription's inbox, written by Publish and read by its pump.
type subscriber struct {
	inbox    chan store.Event
	overflow atomic.Bool   // an event was dropped because inbox was full, or Refresh asked
	wake     chan struct{} // signalled on overflow
}

// Publish hands durably stored events to the subscribers of their executions. It
// never blocks: a subscriber whose buffer is full catches up from the store.
func (b *Broker) Publish(evs ...store.Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, ev := range evs {
		for s := range b.subs[ev.ExecutionID] {
			select {
			case s.inbox <- ev:
			default:
				s.reread()
			}
		}
	}
}

// Refresh makes every subscriber read the store now instead of at its next poll:
// something was stored that was not published here (another server announced it).
func (b *Broker) Refresh() {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, m := range b.subs {
		for s := range m {
			s.reread()
		}
	}
}

// reread makes the subscriber's pump catch up from the store.
func (s *subscriber) reread() {
	s.overflow.Store(true)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Subscribers returns how many subscriptions an execution has; for tests and metrics.
func (b *Broker) Subscribers(executionID string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.subs[executionID])
}

// Subscription is one subscriber's view of its stream.
type Subscription struct {
	done chan struct{}
	err  error
}

// Err returns why the stream ended, once its channel is closed: the context's error
// or a store error.
func (s *Subscription) Err() error {
	<-s.done
	return s.err
}

// Subscribe streams the events of one execution with Seq > after: first the stored
// backlog, then live events, in Seq order with no gaps and no duplicates. The channel
// is closed when ctx ends or the store fails; Subscription.Err says which.
func (b *Broker) Subscribe(ctx context.Context, executionID string, after int64) (<-chan store.Event, *Subscription) {
	s := &subscriber{inbox: make(chan store.Event, b.buffer), wake: make(chan struct{}, 1)}
	b.add(executionID, s)
	out := make(chan store.Event)
	sub := &Subscription{done: make(chan struct{})}
	p := &pump{b: b, id: executionID, s: s, out: out, last: after}
	go func() {
		defer close(sub.done)
		defer close(out)
		defer b.remove(executionID, s)
		sub.err = p.run(ctx)
	}()
	return out, sub
}

func (b *Broker) add(id string, s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.subs[id]
	if m == nil {
		m = make(map[*subscriber]struct{})
		b.subs[id] = m
	}
	m[s] = struct{}{}
}

func (b *Broker) remove(id string, s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs[id], s)
	if len(b.subs[id]) == 0 {
		delete(b.subs, id)
	}
}

// errGap says a live event arrived ahead of the store; the pump retries.
var errGap = errors.New("events: gap not yet visible in store")

// pump moves one subscription's events from the store and its inbox to out.
type pump struct {
	b    *Broker
	id   string
	s    *subscriber
	out  chan<- store.Event
	last int64 // Seq of the last event sent
}

func (p *pump) run(ctx context.Context) error {
	// Registration happened before this first read, so every event published from now
	// on is in the inbox (or flagged as overflow) and the backlog read covers the rest.
	if err := p.catchUp(ctx); err != nil {
		return err
	}
	var tick <-chan time.Time
	if p.b.poll > 0 {
		t := time.NewTicker(p.b.poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		if p.s.overflow.Load() {
			if err := p.catchUp(ctx); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-p.s.inbox:
			if err := p.live(ctx, ev); err != nil {
				return err
			}
		case <-p.s.wake:
		case <-tick:
			if err := p.catchUp(ctx); err != nil {
				return err
			}
		}
	}
}

// live sends a published event, skipping ones already sent and filling gaps from the
// store.
func (p *pump) live(ctx context.Context, ev store.Event) error {
	switch {
	case ev.Seq <= p.last:
		return nil
	case ev.Seq == p.last+1:
		return p.send(ctx, ev)
	}
	// A gap: events between last and ev are stored but were not (yet) seen live.
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		if err := p.catchUp(ctx); err != nil {
			return err
		}
		if ev.Seq <= p.last {
			return nil
		}
		if ev.Seq == p.last+1 {
			return p.send(ctx, ev)
		}
		p.b.log.Warn("event ahead of store", "execution", p.id, "seq", ev.Seq, "last", p.last, "err", errGap)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// catchUp sends every stored event after last. It clears the overflow flag first, so
// an event dropped while it reads is either in this read or flags another catch-up.
func (p *pump) catchUp(ctx context.Context) error {
	p.s.overflow.Store(false)
	for {
		page, err := p.b.src.Events(ctx, p.id, p.last, p.b.pageSize)
		if err != nil {
			return fmt.Errorf("events: read execution %s after %d: %w", p.id, p.last, err)
		}
		for _, ev := range page {
			if ev.Seq <= p.last {
				continue
			}
			if err := p.send(ctx, ev); err != nil {
				return err
			}
		}
		if len(page) < p.b.pageSize {
			return nil
		}
	}
}

func (p *pump) send(ctx context.Context, ev store.Event) error {
	select {
	case p.out <- ev:
		p.last = ev.Seq
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
