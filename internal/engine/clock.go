package engine

import (
	"context"
	"time"
)

// Clock is the engine's time: what time it is, and timers that fire by it. Every
// wait of the engine (a wait step, a soak, an approval's timeout, retry backoffs,
// readiness polls, verification and analysis intervals, lease renewals and its
// polling loops) goes through its Clock, so a test that injects a fake clock
// (enginetest.Clock) moves time on instead of sleeping. Time limits on I/O (a call's
// CallTimeout, a store write's deadline) stay on the wall clock: they bound real
// calls, not the workflow's time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once d has passed on this clock; d <= 0
	// fires at once.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer of a Clock, with the semantics of time.Timer since Go
// 1.23: after Stop or Reset returns, no stale time is received from C.
type Timer interface {
	// C delivers the time once the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was still pending.
	Stop() bool
	// Reset makes the timer fire d from now; it reports whether it was still pending.
	Reset(d time.Duration) bool
}

// WallClock is the real time, the engine's default Clock.
type WallClock struct{}

var _ Clock = WallClock{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (WallClock) NewTimer(d time.Duration) Timer { return wallTimer{t: time.NewTimer(d)} }

// wallTimer adapts a time.Timer to Timer.
type wallTimer struct{ t *time.Timer }

func (w wallTimer) C() <-chan time.Time        { return w.t.C }
func (w wallTimer) Stop() bool                 { return w.t.Stop() }
func (w wallTimer) Reset(d time.Duration) bool { return w.t.Reset(d) }

// sleepUntil waits on c until t or until ctx ends; it returns nil once t passed and
// ctx.Err() otherwise.
func sleepUntil(ctx context.Context, c Clock, t time.Time) error {
	timer := c.NewTimer(t.Sub(c.Now()))
	defer timer.Stop()
	select {
	case <-timer.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
