package events_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
)

// memLog is an in-memory event log that behaves like the store's Events: per-execution
// sequences from 1, read with Seq > after.
type memLog struct {
	mu    sync.Mutex
	evs   map[string][]store.Event
	fail  error
	reads int
}

func newMemLog() *memLog { return &memLog{evs: make(map[string][]store.Event)} }

func (m *memLog) Events(ctx context.Context, id string, after int64, limit int) ([]store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.fail != nil {
		return nil, m.fail
	}
	var out []store.Event
	for _, ev := range m.evs[id] {
		if ev.Seq > after && (limit <= 0 || len(out) < limit) {
			out = append(out, ev)
		}
	}
	return out, nil
}

// append stores n events of one execution and returns them with their Seq assigned.
func (m *memLog) append(id string, n int) []store.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]store.Event, n)
	for i := range out {
		seq := int64(len(m.evs[id]) + 1)
		ev := store.Event{ExecutionID: id, Seq: seq, Type: "console", Message: fmt.Sprintf("line %d", seq)}
		m.evs[id] = append(m.evs[id], ev)
		out[i] = ev
	}
	return out
}

// commit stores n events and publishes them, as the engine does after a durable commit.
func (m *memLog) commit(b *events.Broker, id string, n int) {
	b.Publish(m.append(id, n)...)
}

// collect reads want events from ch and checks they are exactly after+1..after+want.
func collect(t *testing.T, ch <-chan store.Event, after int64, want int, slow bool) {
	t.Helper()
	if err := receive(ch, after, want, slow); err != nil {
		t.Fatal(err)
	}
}

// receive is collect for goroutines other than the test's own.
func receive(ch <-chan store.Event, after int64, want int, slow bool) error {
	timeout := time.After(20 * time.Second)
	next := after + 1
	for i := 0; i < want; i++ {
		select {
		case ev, ok := <-ch:
			if !ok {
				return fmt.Errorf("stream closed after seq %d, want up to %d", next-1, after+int64(want))
			}
			if ev.Seq != next {
				return fmt.Errorf("got seq %d, want %d", ev.Seq, next)
			}
			next++
			if slow && i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		case <-timeout:
			return fmt.Errorf("timed out at seq %d, want up to %d", next-1, after+int64(want))
		}
	}
	return nil
}

func TestSubscribeBacklogThenLive(t *testing.T) {
	tests := []struct {
		name         string
		stored, live int
		after        int64
		buffer, page int
		wantTotal    int
	}{
		{name: "empty backlog", stored: 0, live: 10, after: 0, buffer: 16, page: 4, wantTotal: 10},
		{name: "backlog only", stored: 25, live: 0, after: 0, buffer: 16, page: 4, wantTotal: 25},
		{name: "resume mid backlog", stored: 25, live: 5, after: 20, buffer: 16, page: 4, wantTotal: 10},
		{name: "resume past backlog", stored: 25, live: 5, after: 25, buffer: 16, page: 4, wantTotal: 5},
		{name: "live overflows tiny buffer", stored: 3, live: 200, after: 0, buffer: 1, page: 7, wantTotal: 203},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := newMemLog()
			b := events.New(log, events.WithBuffer(tt.buffer), events.WithPageSize(tt.page), events.WithPollInterval(0))
			log.append("e1", tt.stored)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch, _ := b.Subscribe(ctx, "e1", tt.after)
			log.commit(b, "e2", 3) // another execution's events never arrive
			for range tt.live {
				log.commit(b, "e1", 1)
			}
			collect(t, ch, tt.after, tt.wantTotal, false)
			select {
			case ev := <-ch:
				t.Fatalf("unexpected extra event %+v", ev)
			case <-time.After(20 * time.Millisecond):
			}
		})
	}
}

// TestConcurrentPublishRacesBacklog starts subscribers at random moments while a writer
// commits and publishes; fast and slow readers must each see every event exactly once.
func TestConcurrentPublishRacesBacklog(t *testing.T) {
	const total = 3000
	for _, buffer := range []int{1, 8, 1024} {
		t.Run(fmt.Sprintf("buffer=%d", buffer), func(t *testing.T) {
			log := newMemLog()
			b := events.New(log, events.WithBuffer(buffer), events.WithPageSize(64), events.WithPollInterval(0))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var writers sync.WaitGroup
			writers.Add(2)
			go func() { // the execution under test, in batches of 1..5
				defer writers.Done()
				for n := 0; n < total; {
					k := min(1+rand.IntN(5), total-n)
					log.commit(b, "e1", k)
					n += k
				}
			}()
			go func() { // noise on another execution
				defer writers.Done()
				for range total {
					log.commit(b, "noise", 1)
				}
			}()
			var readers sync.WaitGroup
			for i := range 12 {
				readers.Add(1)
				go func() {
					defer readers.Done()
					time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
					log.mu.Lock()
					stored := int64(len(log.evs["e1"]))
					log.mu.Unlock()
					after := rand.Int64N(stored + 1)
					ch, _ := b.Subscribe(ctx, "e1", after)
					if err := receive(ch, after, total-int(after), i%2 == 0); err != nil {
						t.Errorf("reader %d from %d: %v", i, after, err)
					}
				}()
			}
			readers.Wait()
			writers.Wait()
		})
	}
}

func TestPublishNeverBlocks(t *testing.T) {
	log := newMemLog()
	b := events.New(log, events.WithBuffer(2), events.WithPollInterval(0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := b.Subscribe(ctx, "e1", 0) // nobody reads ch for now
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10000 {
			log.commit(b, "e1", 1)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("publishers blocked on a subscriber that does not read")
	}
	collect(t, ch, 0, 10000, false)
}

func TestOutOfOrderPublishIsFilledFromStore(t *testing.T) {
	log := newMemLog()
	b := events.New(log, events.WithPollInterval(0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := b.Subscribe(ctx, "e1", 0)
	evs := log.append("e1", 4)
	b.Publish(evs[3], evs[1]) // 4 arrives first, 2 late, 1 and 3 never
	collect(t, ch, 0, 4, false)
	b.Publish(evs[0], evs[2])
	log.commit(b, "e1", 1)
	collect(t, ch, 4, 1, false)
}

func TestPollFindsUnpublishedEvents(t *testing.T) {
	log := newMemLog()
	b := events.New(log, events.WithPollInterval(5*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := b.Subscribe(ctx, "e1", 0)
	log.append("e1", 3) // written by another server: never published here
	collect(t, ch, 0, 3, false)
}

func TestSubscriptionEnds(t *testing.T) {
	errDisk := errors.New("disk on fire")
	tests := []struct {
		name    string
		fail    error
		cancel  bool
		wantErr error
	}{
		{name: "context cancelled", cancel: true, wantErr: context.Canceled},
		{name: "store fails", fail: errDisk, wantErr: errDisk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := newMemLog()
			log.fail = tt.fail
			b := events.New(log, events.WithPollInterval(0))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch, sub := b.Subscribe(ctx, "e1", 0)
			if tt.cancel {
				cancel()
			}
			for range ch {
			}
			if err := sub.Err(); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Err() = %v, want %v", err, tt.wantErr)
			}
			if n := b.Subscribers("e1"); n != 0 {
				t.Fatalf("%d subscribers left registered", n)
			}
			b.Publish(store.Event{ExecutionID: "e1", Seq: 1}) // must not panic or block
		})
	}
}
