package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/follow"
	"github.com/sluicehq/sluice/internal/store"
)

// followed until: how one stretch of following an execution ended.
type stretch struct {
	waiting bool  // the execution waits for an approval
	last    int64 // Seq of the last event shown
}

// followStretch shows an execution's events from after until it ends or starts
// waiting for an approval, so the demo's prompt is never buried under new lines: on
// a terminal as the tree `sluice run --follow` draws, otherwise as console lines.
func (d *demoRun) followStretch(ctx context.Context, id string, after int64) (stretch, error) {
	if d.tty != nil {
		return d.treeStretch(ctx, id, after)
	}
	st := stretch{last: after}
	for e, err := range d.c.Follow(ctx, id, after) {
		if err != nil {
			return st, fmt.Errorf("demo: follow %s: %w", id, err)
		}
		consoleLine(d.out, e)
		st.last = e.Seq
		if d.note(e) {
			st.waiting = true
			return st, nil
		}
	}
	return st, nil
}

// note keeps the times of the rollback and says whether e starts a wait for approval.
func (d *demoRun) note(e api.Event) (waiting bool) {
	switch {
	case eventStatus(e) == store.StatusWaiting:
		return true
	case eventStatus(e) == store.StatusRollingBack:
		d.failedAt = e.At
	case e.Type == events.TypeWeights && !d.failedAt.IsZero() && d.restoredAt.IsZero():
		d.restoredAt = e.At
	}
	return false
}

// treeStretch draws the follow tree, redrawn in place, with the console lines
// scrolling beneath it; the final frame stays on the screen.
func (d *demoRun) treeStretch(ctx context.Context, id string, after int64) (stretch, error) {
	st := stretch{last: after}
	ex, err := d.c.GetExecution(ctx, id)
	if err != nil {
		return st, fmt.Errorf("demo: follow %s: %w", id, err)
	}
	v := follow.NewView(ex)
	out := d.tty
	scr := follow.NewScreen(out, func() (int, int, error) { return term.GetSize(int(out.Fd())) }, d.a.getenv("NO_COLOR") == "")
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan followed, 256)
	go func() {
		defer close(items)
		for e, err := range d.c.Follow(sctx, id, after) {
			if err == nil {
				st.last = e.Seq
				st.waiting = d.note(e)
			}
			select {
			case items <- followed{e, err}:
			case <-sctx.Done():
				return
			}
			if err != nil || st.waiting {
				return // the prompt comes next, below the tree
			}
		}
	}()
	err = d.a.drawUntilEnd(ctx, d.c, v, scr, items)
	cancel()
	for range items { // the goroutine has ended once items is closed
	}
	last, cancelLast := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	if ex, gerr := d.c.GetExecution(last, id); gerr == nil {
		v.SetExecution(ex)
	}
	cancelLast()
	if cerr := scr.Close(v, time.Now()); err == nil {
		err = cerr
	}
	return st, err
}

// demoTerminal is stdout when the demo draws trees on it: a terminal, and neither
// SLUICE_PLAIN nor TERM=dumb asks for plain lines.
func (a *app) demoTerminal() *os.File {
	if f, ok := a.terminal(); ok {
		return f
	}
	return nil
}
