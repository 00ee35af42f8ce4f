package envrun

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/providers"
)

// Options configure the runtimes of a server.
type Options struct {
	// DataDir keeps the state of local platforms, builtin routers and recorders;
	// empty keeps none (tests).
	DataDir string
	// RouterExecutable is the sluice binary run as `sluice router` for builtin
	// routers in their own process; empty keeps them in the server.
	RouterExecutable string
	// Logger receives the runtimes' logs; nil discards them.
	Logger *slog.Logger
}

// Runtimes turns environments into their runtimes with the kinds of a Registry.
// It keeps one instance per configuration so every execution of an environment
// talks to the same platform and router. It implements engine.Resolver.
type Runtimes struct {
	reg     *Registry
	dataDir string
	// routerExe is the sluice binary run as `sluice router` for builtin routers in
	// their own process; empty keeps them in the server (Options.RouterExecutable).
	routerExe string
	log       *slog.Logger
	output    atomic.Pointer[InstanceOutputFunc]

	mu        sync.Mutex
	recorders map[string]*recorder.Recorder
	locals    map[string]*localEnv  // by environment name
	routers   map[string]*routerEnv // by environment name
}

var _ engine.Resolver = (*Runtimes)(nil)

// New returns the runtimes of the types in reg; it starts nothing until an
// environment is resolved.
func New(reg *Registry, opts Options) *Runtimes {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runtimes{
		reg: reg, dataDir: opts.DataDir, routerExe: opts.RouterExecutable, log: log,
		recorders: map[string]*recorder.Recorder{}, locals: map[string]*localEnv{}, routers: map[string]*routerEnv{},
	}
}

// Resolve returns the platform and router of an environment; its settings are
// checked by their kinds first.
func (w *Runtimes) Resolve(ctx context.Context, name string, env *spec.Environment) (engine.Runtime, error) {
	pk, err := w.reg.platform(env)
	if err != nil {
		return engine.Runtime{}, err
	}
	rk, err := w.reg.router(env)
	if err != nil {
		return engine.Runtime{}, err
	}
	p, err := pk.New(w, ctx, name, env)
	if err != nil {
		return engine.Runtime{}, err
	}
	r, err := rk.New(w, ctx, name, env)
	if err != nil {
		return engine.Runtime{}, err
	}
	return engine.Runtime{Platform: p, Router: r}, nil
}

// Providers returns the source of every environment's verification providers,
// built with the registry's provider kinds: builtin providers read the router of
// their own environment, credentials naming Kubernetes Secrets are read with the
// platform's kubeconfig, and every resolved credential is masked from then on.
func (w *Runtimes) Providers() *providers.Source {
	return providers.NewSource(w.reg.Providers,
		verify.Deps{Metrics: w, Register: secrets.Default.Add},
		providers.PerEnvironmentMetrics(func(env string) verify.MetricsSource { return w.RouterMetricsOf(env) }),
		providers.PerEnvironmentSecrets(w.kubeSecretsOf),
	)
}

// recorder opens (once) the recording file of an environment; relative paths are in
// the data directory.
func (w *Runtimes) recorder(cfg *spec.RecorderSpec) (*recorder.Recorder, error) {
	if cfg == nil || cfg.File == "" {
		return nil, fmt.Errorf("recorder: a file is required")
	}
	path := cfg.File
	if !filepath.IsAbs(path) {
		path = filepath.Join(w.dataDir, path)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if r, ok := w.recorders[path]; ok {
		return r, nil
	}
	r, err := recorder.Open(path)
	if err != nil {
		return nil, err
	}
	w.recorders[path] = r
	return r, nil
}

// Close releases what the runtimes opened: builtin routers stop their proxies,
// local platforms stop supervising but leave their instances running, so the next
// server on the same data directory adopts them.
func (w *Runtimes) Close() {
	w.closeBuiltin()
	w.mu.Lock()
	defer w.mu.Unlock()
	for path, r := range w.recorders {
		if err := r.Close(); err != nil {
			w.log.Warn("closing recorder", "file", path, "err", err)
		}
	}
}
