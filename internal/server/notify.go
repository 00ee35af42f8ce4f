package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/notify"
	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/store"
)

// notifyDrain is how long a stopping server gives queued notifications.
const notifyDrain = 10 * time.Second

// fanout hands every durable event to each publisher in turn.
type fanout []engine.Publisher

// Publish implements engine.Publisher.
func (f fanout) Publish(evs ...store.Event) {
	for _, p := range f {
		p.Publish(evs...)
	}
}

// notifications starts the dispatcher of the environments' notifiers, whose secrets
// rt resolves, and returns
// the engine's Publisher: every durable event goes to the broker (console, UI,
// CLI) and then to the dispatcher, which never blocks it. A notifier's failure is
// written to the execution's console and published to the broker. stop gives
// queued notifications up to notifyDrain; call it after the engine has closed.
func notifications(st store.Store, broker engine.Publisher, rt *envrun.Runtimes, log *slog.Logger) (pub engine.Publisher, stop func()) {
	d := notify.New(notify.Options{
		Store:   st,
		Console: broker.Publish,
		Resolve: rt.ResolveSecret, // registers values with secrets.Default
		Redact:  secrets.Default.String,
		Logger:  log.With("component", "notify"),
	})
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), notifyDrain)
		defer cancel()
		d.Close(ctx)
	}
	return fanout{broker, d}, stop
}
