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
// so a caller waiting here gets it at once. The same notification wakes the pipeline
// runs driven here (wakePipelines), for a decision or an abort another server wrote
// into one (pipeline.Options.Announce). Other stores have no notifications: polling
// alone delivers. The returned func stops listening and waits.
func listenRequests(ctx context.Context, st store.Store, eng *engine.Engine, wakePipelines func(), log *slog.Logger) func() {
	pg, ok := st.(*postgres.Store)
	if !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		wake := func() {
			eng.WakeRequests()
			wakePipelines()
		}
		pg.ListenRequests(ctx, postgres.RequestListener{Owner: eng.Owner(), Wake: wake,
			Answered: eng.WakeAnswer, Logger: log.With("component", "requests")})
	}()
	return func() {
		cancel()
		<-done
	}
}
