package server

import (
	"context"
	"log/slog"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/envrun"
	"github.com/sluicehq/sluice/internal/pipeline"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/postgres"
	"github.com/sluicehq/sluice/internal/verify"
)

// startPipelines builds the pipeline runner over the same store and engine, with the
// API's rules: a stage starts only for a person who may deploy to its environment,
// and rollback-all undoes a stage as POST .../undo would. It sets deps.Pipelines and
// returns the runner's stop. A store without pipeline runs (none of sluice's) runs
// no pipelines.
func startPipelines(cfg Config, st store.Store, eng *engine.Engine, rt *envrun.Runtimes, deps *api.Deps, log *slog.Logger) (func(), error) {
	ps, ok := st.(pipeline.Store)
	if !ok {
		log.Warn("this store keeps no pipeline runs; pipelines are off")
		return func() {}, nil
	}
	id, err := serverID(cfg)
	if err != nil {
		return nil, err
	}
	opt := pipeline.Options{
		Store: ps, Engine: eng, Owner: id, Lease: cfg.Lease, Poll: cfg.PipelinePoll, Logger: log.With("component", "pipeline", "server", id),
		Undo: func(ctx context.Context, env, service, who, reason string) (string, error) {
			return api.UndoService(ctx, st, eng, env, service, who, reason)
		},
		// verification gates measure with the providers verify steps use
		Verifier: verify.NewStep(rt.Providers()),
	}
	if pg, ok := st.(*postgres.Store); ok {
		opt.Announce = pg.Announce // decisions reach the owner through listenRequests
	}
	if a := deps.Auth; a != nil {
		opt.Authorize = func(ctx context.Context, id auth.Identity, env, action string) error {
			return a.Authorize(ctx, id, auth.RoleDeployer, env, action)
		}
	}
	r, err := pipeline.New(opt)
	if err != nil {
		return nil, err
	}
	deps.Pipelines = r
	return r.Close, nil
}

// recoverPipelines resumes the runs this server drove before a restart.
func recoverPipelines(ctx context.Context, deps api.Deps, log *slog.Logger) {
	r, ok := deps.Pipelines.(*pipeline.Runner)
	if !ok {
		return
	}
	n, err := r.Recover(ctx)
	if err != nil {
		log.Warn("cannot resume pipeline runs", "err", err)
	} else if n > 0 {
		log.Info("resumed pipeline runs", "count", n)
	}
}

// wakePipelines is what wakes the pipeline runs driven here when another server
// announces a decision; nothing when this server runs no pipelines.
func wakePipelines(deps api.Deps) func() {
	if r, ok := deps.Pipelines.(*pipeline.Runner); ok {
		return r.Wake
	}
	return func() {}
}
