package audit

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ActionRejected is the action of an entry that counts rejected requests.
const ActionRejected = "rejected"

// MaxSources bounds how many sources Rejections tells apart in one minute; the
// requests of any further source are counted under OtherSource.
const MaxSources = 1000

// OtherSource is the source of the requests counted beyond MaxSources in a minute.
const OtherSource = "other"

// Rejections counts rejected requests (no valid credentials, or over the rate limit)
// in memory, per source, actor, status and minute, and appends one entry for each when
// its minute is over. A flood of bad requests therefore adds at most one small entry
// per source a minute, and never waits on the database.
type Rejections struct {
	store Store
	now   func() time.Time
	log   *slog.Logger

	mu      sync.Mutex
	minute  time.Time
	counts  map[rejectionKey]*rejection
	timer   *time.Timer
	flushes sync.WaitGroup
}

type rejectionKey struct {
	source, actor string
	status        int
}

// rejection is the count of one key and the first request counted, as an example.
type rejection struct {
	count        int64
	method, path string
}

// NewRejections returns counters that append to s; now is the clock (time.Now when
// nil) and log receives write failures (discarded when nil).
func NewRejections(s Store, now func() time.Time, log *slog.Logger) *Rejections {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Rejections{store: s, now: now, log: log, counts: map[rejectionKey]*rejection{}}
}

// Add counts one rejected request from remote (an address with or without a port).
func (r *Rejections) Add(remote, actor string, status int, method, path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	minute := r.now().UTC().Truncate(time.Minute)
	if !minute.Equal(r.minute) {
		r.rotateLocked()
		r.minute = minute
	}
	// Keys and examples are cut to the stored sizes, so MaxSources keys hold a few MB
	// at most whatever the requests carried.
	k := rejectionKey{source: truncate(Source(remote), MaxShortField), actor: truncate(actor, MaxShortField), status: status}
	c, ok := r.counts[k]
	if !ok && len(r.counts) >= MaxSources {
		k.source = OtherSource
		c, ok = r.counts[k]
	}
	if !ok {
		c = &rejection{method: truncate(method, MaxShortField), path: truncate(path, MaxTarget)}
		r.counts[k] = c
	}
	c.count++
	if r.timer == nil {
		// Write this minute's counts soon after it ends, even when no request follows.
		r.timer = time.AfterFunc(time.Until(minute.Add(time.Minute+time.Second)), r.tick)
	}
}

// tick writes the counts of a minute that is over.
func (r *Rejections) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer = nil
	if r.now().UTC().Truncate(time.Minute).After(r.minute) {
		r.rotateLocked()
		return
	}
	r.timer = time.AfterFunc(time.Second, r.tick)
}

// rotateLocked hands the current minute's counts to a background write.
func (r *Rejections) rotateLocked() {
	if len(r.counts) == 0 {
		return
	}
	counts, minute := r.counts, r.minute
	r.counts = map[rejectionKey]*rejection{}
	r.flushes.Add(1)
	go func() {
		defer r.flushes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.write(ctx, minute, counts); err != nil {
			r.log.Error("audit: rejected requests not counted", "minute", minute, "err", err)
		}
	}()
}

// Flush writes every count now, the current minute's too, and waits for the writes
// begun earlier; a server calls it when it stops.
func (r *Rejections) Flush(ctx context.Context) error {
	r.mu.Lock()
	counts, minute := r.counts, r.minute
	r.counts = map[rejectionKey]*rejection{}
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.mu.Unlock()
	r.flushes.Wait()
	return r.write(ctx, minute, counts)
}

// write appends one entry per key.
func (r *Rejections) write(ctx context.Context, minute time.Time, counts map[rejectionKey]*rejection) error {
	for k, c := range counts {
		e := Entry{At: minute, Actor: k.actor, Remote: k.source, Action: ActionRejected,
			Target: c.path, Outcome: OutcomeDenied, Status: k.status, Count: c.count,
			Summary: fmt.Sprintf("%d request(s) answered %d in the minute from %s UTC; the first was %s on the target",
				c.count, k.status, minute.Format("15:04"), c.method)}
		if err := r.store.AppendAudit(ctx, &e); err != nil {
			return fmt.Errorf("audit: append rejected requests of %s: %w", k.source, err)
		}
	}
	return nil
}

// Source is the host part of a remote address: requests from one machine over many
// connections count as one source.
func Source(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
