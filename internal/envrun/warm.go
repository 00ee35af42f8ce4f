package envrun

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// Warm resolves, at start-up, every environment whose builtin router served
// services before the server stopped, so users are served again (with the weights
// they had) without waiting for the next execution. It returns how many it warmed;
// an environment that cannot be resolved is logged and skipped.
func (w *Runtimes) Warm(ctx context.Context, st store.Store) (int, error) {
	if w.dataDir == "" {
		return 0, nil
	}
	defs, err := st.ListDefinitions(ctx, store.KindEnvironment)
	if err != nil {
		return 0, fmt.Errorf("warm: list environments: %w", err)
	}
	n := 0
	for _, def := range defs {
		if !w.routedBefore(def.Name) {
			continue // never routed by this server's data directory
		}
		env, err := spec.ParseEnvironment(def.Name+".yaml", []byte(def.Source))
		if err != nil {
			w.log.Warn("warm: environment does not parse", "environment", def.Name, "err", err)
			continue
		}
		if env.Spec.Router.Type != "builtin" {
			continue
		}
		if _, err := w.Resolve(ctx, def.Name, env); err != nil {
			w.log.Warn("warm: environment", "environment", def.Name, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// routedBefore reports whether an environment's builtin router (in the server or
// in its own process) left state in the data directory.
func (w *Runtimes) routedBefore(envName string) bool {
	for _, p := range []string{filepath.Join(w.dataDir, "builtin", envName+".json"), filepath.Join(RouterDir(w.dataDir, envName), "state.json")} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
