package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// work sends jobs until there are no more.
func (d *Dispatcher) work() {
	defer d.wg.Done()
	for j := range d.jobs {
		if err := d.send(j); err != nil {
			d.fail(j, err)
		}
	}
}

// send tries a job up to Attempts times, waiting Backoff, then twice as long, and
// so on between tries; a permanent failure is not tried again.
func (d *Dispatcher) send(j job) error {
	wait := d.o.Backoff
	var err error
	for attempt := 1; attempt <= d.o.Attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-time.After(wait):
				wait *= 2
			case <-d.ctx.Done():
				return fmt.Errorf("%w (the server stopped before a retry)", err)
			}
		}
		ctx, cancel := context.WithTimeout(d.ctx, d.o.Timeout)
		err = d.try(ctx, j)
		cancel()
		if err == nil {
			d.o.Logger.Info("notification sent", "execution", j.msg.ExecutionID, "notifier", j.notifier.Label(), "trigger", j.msg.Trigger)
			return nil
		}
		if errors.Is(err, ErrPermanent) {
			return err
		}
		err = fmt.Errorf("%w (after %d tries)", err, attempt)
	}
	return err
}

// try builds the notifier (secrets are resolved at each use, so a rotated one
// applies at once) and sends the message once.
func (d *Dispatcher) try(ctx context.Context, j job) error {
	n, err := d.build(ctx, j)
	if err != nil {
		return fmt.Errorf("%w (%w)", err, ErrPermanent)
	}
	return n.Notify(ctx, j.msg)
}

// build makes the Notifier a job's spec describes.
func (d *Dispatcher) build(ctx context.Context, j job) (Notifier, error) {
	ns := j.notifier
	secret := func(ref spec.SecretRef) (string, error) {
		if d.o.Resolve == nil {
			return "", errors.New("notify: no secret resolver")
		}
		return d.o.Resolve(ctx, j.msg.Environment, j.env, ref)
	}
	switch {
	case ns.Type == "slack" && ns.Slack != nil:
		u, err := secret(ns.Slack.URL)
		return &Slack{URL: u, Client: d.o.HTTPClient}, err
	case ns.Type == "webhook" && ns.Webhook != nil:
		s, err := secret(ns.Webhook.Secret)
		return &Webhook{URL: ns.Webhook.URL, Secret: s, Client: d.o.HTTPClient, Now: d.o.Now}, err
	case ns.Type == "email" && ns.Email != nil:
		e := ns.Email
		m := &Email{Host: e.Host, Port: e.Port, From: e.From, To: e.To, Username: e.Username, TLS: e.TLS, Now: d.o.Now}
		if e.Password != nil {
			p, err := secret(*e.Password)
			if err != nil {
				return nil, err
			}
			m.Password = p
		}
		return m, nil
	}
	return nil, fmt.Errorf("notify: unknown notifier type %q: want slack, webhook or email", ns.Type)
}

// fail writes a notifier's failure to the execution's console (and the log); the
// execution itself goes on untouched.
func (d *Dispatcher) fail(j job, cause error) {
	msg := d.o.Redact(fmt.Sprintf("notification %s (%s) of %q failed: %v; the execution goes on",
		j.notifier.Label(), j.notifier.Type, j.msg.Trigger, cause))
	d.o.Logger.Warn(msg, "execution", j.msg.ExecutionID)
	ev := store.Event{ExecutionID: j.msg.ExecutionID, At: d.o.Now().UTC(), Type: string(events.TypeConsole), Level: string(events.LevelWarn), Message: msg}
	c := &store.Commit{ExecutionID: j.msg.ExecutionID, Events: []store.Event{ev}}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(d.ctx), d.o.Timeout)
	defer cancel()
	if err := d.o.Store.Commit(ctx, c); err != nil {
		d.o.Logger.Error("cannot write a notification failure to the console", "execution", j.msg.ExecutionID, "err", err)
		return
	}
	if d.o.Console != nil {
		d.o.Console(c.Events...)
	}
}
