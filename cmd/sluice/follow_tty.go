package main

import (
	"context"
	"errors"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/follow"
)

// Follow mode on a terminal: how often the tree is redrawn (spinners, progress) and
// how often at most the execution record is read again after a step changed.
const (
	redrawEvery  = 100 * time.Millisecond
	refreshEvery = 300 * time.Millisecond
)

// terminal returns stdout when it is a terminal and SLUICE_PLAIN does not ask for
// plain lines.
func (a *app) terminal() (*os.File, bool) {
	f, ok := a.stdout.(*os.File)
	if !ok || a.getenv("SLUICE_PLAIN") != "" || a.getenv("TERM") == "dumb" {
		return nil, false
	}
	return f, term.IsTerminal(int(f.Fd()))
}

// followed is one item of an execution's event stream.
type followed struct {
	e   api.Event
	err error
}

// followTerminal follows an execution with the tree view redrawn in place and the
// console lines scrolling beneath it; it ends when the execution ends.
func (a *app) followTerminal(ctx context.Context, c *client.Client, id string, after int64, out *os.File) error {
	ex, err := c.GetExecution(ctx, id)
	if err != nil {
		return err
	}
	v := follow.NewView(ex)
	size := func() (int, int, error) { return term.GetSize(int(out.Fd())) }
	scr := follow.NewScreen(out, size, a.getenv("NO_COLOR") == "")
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan followed, 256)
	go func() {
		defer close(items)
		for e, err := range c.Follow(streamCtx, id, after) {
			select {
			case items <- followed{e, err}:
			case <-streamCtx.Done():
				return
			}
		}
	}()
	err = a.drawUntilEnd(ctx, c, v, scr, items)
	// The last record, even after Ctrl-C, so the final tree is right; bounded, as the
	// server may be what went away.
	last, cancelLast := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	if ex, gerr := c.GetExecution(last, id); gerr == nil {
		v.SetExecution(ex)
	}
	cancelLast()
	if cerr := scr.Close(v, a.now()); err == nil {
		err = cerr
	}
	return err
}

// drawUntilEnd applies events to the view and redraws it until the stream ends.
func (a *app) drawUntilEnd(ctx context.Context, c *client.Client, v *follow.View, scr *follow.Screen, items <-chan followed) error {
	tick := time.NewTicker(redrawEvery)
	defer tick.Stop()
	stale, lastRead := false, time.Time{}
	if err := scr.Draw(v, a.now()); err != nil {
		return err
	}
	for {
		select {
		case it, ok := <-items:
			if !ok {
				return nil
			}
			if it.err != nil {
				if errors.Is(it.err, ctx.Err()) {
					return &exitError{code: 130}
				}
				return it.err
			}
			stale = v.Apply(it.e) || stale
			if text := follow.ConsoleText(it.e, time.Local); text != "" {
				if err := scr.Print(text); err != nil {
					return err
				}
			}
		case <-tick.C:
			if stale && time.Since(lastRead) >= refreshEvery {
				stale, lastRead = false, time.Now()
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				if ex, err := c.GetExecution(rctx, v.ID); err == nil {
					v.SetExecution(ex)
				}
				cancel()
			}
			if err := scr.Draw(v, a.now()); err != nil {
				return err
			}
		}
	}
}
