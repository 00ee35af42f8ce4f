package enginetest_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine/enginetest"
)

func TestClockFiresTimersOnlyWhenAdvanced(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := enginetest.NewClock(start)
	hour, minute := c.NewTimer(time.Hour), c.NewTimer(time.Minute)
	select {
	case <-hour.C():
		t.Fatal("a timer fired before the clock moved")
	default:
	}
	c.Advance(time.Minute)
	if got := <-minute.C(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("minute timer fired at %s", got)
	}
	if p := c.Pending(); len(p) != 1 || !p[0].Equal(start.Add(time.Hour)) {
		t.Fatalf("pending %v, want only the hour", p)
	}
	if !hour.Stop() || hour.Stop() {
		t.Fatal("Stop reports a pending timer once")
	}
	c.Advance(2 * time.Hour)
	select {
	case <-hour.C():
		t.Fatal("a stopped timer fired")
	default:
	}
	if !c.Now().Equal(start.Add(2*time.Hour + time.Minute)) {
		t.Fatalf("now %s", c.Now())
	}
}

func TestClockResetDropsAnUnreceivedTime(t *testing.T) {
	c := enginetest.NewClock(time.Unix(0, 0))
	tm := c.NewTimer(time.Second)
	c.Advance(time.Second) // fired, not received
	if tm.Reset(time.Second) {
		t.Fatal("Reset of a fired timer reports it pending")
	}
	select {
	case <-tm.C():
		t.Fatal("a stale time is received after Reset")
	default:
	}
	c.Advance(time.Second)
	<-tm.C()
	if now := c.NewTimer(0); len(c.Pending()) != 0 {
		t.Fatal("a zero timer is pending")
	} else {
		<-now.C()
	}
}

func TestWaitForTimerReturnsOnceTheTimerIsSet(t *testing.T) {
	c := enginetest.NewClock(time.Unix(0, 0))
	set := make(chan struct{})
	go func() {
		<-set
		c.NewTimer(time.Minute) // an unrelated one first
		c.NewTimer(time.Hour)
	}()
	close(set)
	c.WaitForTimer(t, time.Hour)
	if p := c.Pending(); len(p) != 2 {
		t.Fatalf("pending %v", p)
	}
}
