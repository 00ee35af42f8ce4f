package enginetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
)

// Clock is a fake engine.Clock for tests: its time stands still until the test
// advances it, and its timers fire only then. A test waits until the engine is
// blocked on the timer it means (WaitForTimer), then calls Advance; nothing sleeps,
// so a one-hour wait step costs no wall time.
//
// With a Clock nothing of the engine waits on its own: its polls (readiness,
// requests stored by other servers), lease renewals and output batches run when the
// test advances past them.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	set    chan struct{} // closed and replaced whenever a timer is set
}

var _ engine.Clock = (*Clock)(nil)

// NewClock returns a fake clock that reads start until it is advanced.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, set: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer due d from the clock's time; d <= 0 fires at once.
func (c *Clock) NewTimer(d time.Duration) engine.Timer {
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.schedule(t, d)
	return t
}

// Advance moves the clock on by d and fires, in order, every timer due by then.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if t.at.After(c.now) {
			return false
		}
		due = append(due, t)
		return true
	})
	slices.SortStableFunc(due, func(a, b *fakeTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.fire(c.now)
	}
}

// Pending returns when each pending timer is due, earliest first.
func (c *Clock) Pending() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Time, 0, len(c.timers))
	for _, t := range c.timers {
		out = append(out, t.at)
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

// WaitForTimer blocks until a timer due d from the clock's time is pending: the
// engine is waiting for exactly that span (a wait step's duration, an approval's
// timeout). It fails the test when none is set within 10 seconds of real time.
func (c *Clock) WaitForTimer(t testing.TB, d time.Duration) {
	t.Helper()
	if err := c.waitFor(d, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func (c *Clock) waitFor(d, limit time.Duration) error {
	giveUp := time.NewTimer(limit)
	defer giveUp.Stop()
	for {
		c.mu.Lock()
		at, set := c.now.Add(d), c.set
		found := slices.ContainsFunc(c.timers, func(t *fakeTimer) bool { return t.at.Equal(at) })
		c.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-set:
		case <-giveUp.C:
			return fmt.Errorf("enginetest: no timer due in %s was set within %s; pending: %v", d, limit, c.Pending())
		}
	}
}

// schedule makes t due d from now; c.mu is held.
func (c *Clock) schedule(t *fakeTimer, d time.Duration) {
	t.at = c.now.Add(d)
	if d <= 0 {
		t.fire(c.now)
		return
	}
	c.timers = append(c.timers, t)
	close(c.set)
	c.set = make(chan struct{})
}

// unschedule removes t and drains a time it fired but nobody received; c.mu is
// held. It reports whether t was pending.
func (c *Clock) unschedule(t *fakeTimer) bool {
	n := len(c.timers)
	c.timers = slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x == t })
	select {
	case <-t.ch:
	default:
	}
	return len(c.timers) < n
}

// fakeTimer is a timer of a Clock.
type fakeTimer struct {
	c  *Clock
	ch chan time.Time
	at time.Time // when it is due; guarded by c.mu
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.unschedule(t)
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.c.unschedule(t)
	t.c.schedule(t, d)
	return was
}

// fire delivers now unless an earlier time is still unreceived.
func (t *fakeTimer) fire(now time.Time) {
	select {
	case t.ch <- now:
	default:
	}
}
