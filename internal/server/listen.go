package server

import (
	"context"
	"log/slog"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/postgres"
)

// listenRequests wakes the engine when another server stores a request for an
// execution this one drives (PostgreSQL's LISTEN/NOTIFY), so it is carried out within
// milliseconds rather than at the next poll, and when any server stores an answer,
// so a caller waiting here gets it at once. Other stores have no notifications:
// the engine's polling alone delivers. The returned func stops listening and waits.
func listenRequests(ctx context.Context, st store.Store, eng *engine.Engine, log *slog.Logger) func() {
	pg, ok := st.(*postgres.Store)
	if !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pg.ListenRequests(ctx, postgres.RequestListener{Owner: eng.Owner(), Wake: eng.WakeRequests,
			Answered: eng.WakeAnswer, Logger: log.With("component", "requests")})
	}()
	return func() {
		cancel()
		<-done
	}
}
