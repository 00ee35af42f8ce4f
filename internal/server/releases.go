package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"k8s.io/client-go/dynamic"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/release"
	"github.com/sluicehq/sluice/internal/store"
)

// startReleases runs the Release controller when cfg.Releases names a namespace;
// the returned function stops it and waits for it.
func startReleases(ctx context.Context, cfg Config, eng *engine.Engine, st store.Store, log *slog.Logger) (func(), error) {
	if cfg.Releases == "" {
		return func() {}, nil
	}
	rc, err := kubernetes.RESTConfig(cfg.ReleasesKubeconfig, "")
	if err != nil {
		return nil, fmt.Errorf("server: releases: %w", err)
	}
	dc, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("server: releases: %w", err)
	}
	ns := cfg.Releases
	if ns == "*" {
		ns = ""
	}
	c := &release.Controller{Client: dc, Namespace: ns, Engine: eng, Store: st, Definitions: st,
		Log: log.With("component", "releases", "namespace", cfg.Releases)}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { c.Run(ctx) })
	log.Info("running workflows from Release resources", "namespace", cfg.Releases)
	return func() { cancel(); wg.Wait() }, nil
}
