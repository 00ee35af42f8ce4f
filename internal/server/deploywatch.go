package server

import (
	"context"
	"log/slog"
	"sync"

	"github.com/sluicehq/sluice/internal/deploywatch"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/store"
)

// startDeployWatch runs the watcher of deployment triggers, which reads
// Deployments with deps; the returned function stops it and waits for it.
func startDeployWatch(ctx context.Context, eng *engine.Engine, st store.Store, deps deploywatch.Deployments, log *slog.Logger) func() {
	claims, ok := st.(deploywatch.Store)
	if !ok {
		log.Warn("deployment triggers are off: the store cannot claim deliveries")
		return func() {}
	}
	w := &deploywatch.Watcher{Store: claims, Engine: eng, Deployments: deps,
		Log: log.With("component", "deploywatch")}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx) })
	return func() { cancel(); wg.Wait() }
}
