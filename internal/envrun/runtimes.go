package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/traffic"
)

// wiring is the one place where platform and router types become implementations.
// It keeps one instance per configuration so every execution of an environment
// talks to the same platform and router.
type wiring struct {
	dataDir string
	// routerExe is the sluice binary run as `sluice router` for builtin routers in
	// their own process; empty keeps them in the server (Config.RouterExecutable).
	routerExe string
	log       *slog.Logger
	output    atomic.Pointer[InstanceOutputFunc]

	mu        sync.Mutex
	recorders map[string]*recorder.Recorder
	locals    map[string]*localEnv  // by environment name
	routers   map[string]*routerEnv // by environment name
}

var _ engine.Resolver = (*wiring)(nil)

func newWiring(dataDir string, log *slog.Logger) *wiring {
	return &wiring{
		dataDir: dataDir, log: log, recorders: map[string]*recorder.Recorder{},
		locals: map[string]*localEnv{}, routers: map[string]*routerEnv{},
	}
}

// platformTypes and routerTypes list every type the spec accepts, with the
// constructor of those this build has; a nil constructor is a clear error.
var (
	platformTypes = map[string]func(w *wiring, ctx context.Context, name string, env *spec.Environment) (platform.Platform, error){
		"recorder":   (*wiring).recorderPlatform,
		"local":      (*wiring).localPlatform,
		"kubernetes": nil,
	}
	routerTypes = map[string]func(w *wiring, ctx context.Context, name string, env *spec.Environment) (traffic.Router, error){
		"recorder":   (*wiring).recorderRouter,
		"builtin":    (*wiring).builtinRouter,
		"istio":      nil,
		"gatewayapi": nil,
	}
)

func (w *wiring) recorderPlatform(_ context.Context, _ string, env *spec.Environment) (platform.Platform, error) {
	return w.recorder(env.Spec.Platform.Recorder)
}

func (w *wiring) recorderRouter(_ context.Context, _ string, env *spec.Environment) (traffic.Router, error) {
	return w.recorder(env.Spec.Router.Recorder)
}

// Resolve returns the platform and router of an environment.
func (w *wiring) Resolve(ctx context.Context, name string, env *spec.Environment) (engine.Runtime, error) {
	newPlatform, ok := platformTypes[env.Spec.Platform.Type]
	if !ok {
		return engine.Runtime{}, fmt.Errorf("platform type %q is unknown", env.Spec.Platform.Type)
	}
	if newPlatform == nil {
		return engine.Runtime{}, fmt.Errorf("platform type %q is not available in this build of sluice yet", env.Spec.Platform.Type)
	}
	newRouter, ok := routerTypes[env.Spec.Router.Type]
	if !ok {
		return engine.Runtime{}, fmt.Errorf("router type %q is unknown", env.Spec.Router.Type)
	}
	if newRouter == nil {
		return engine.Runtime{}, fmt.Errorf("router type %q is not available in this build of sluice yet", env.Spec.Router.Type)
	}
	p, err := newPlatform(w, ctx, name, env)
	if err != nil {
		return engine.Runtime{}, err
	}
	r, err := newRouter(w, ctx, name, env)
	if err != nil {
		return engine.Runtime{}, err
	}
	return engine.Runtime{Platform: p, Router: r}, nil
}

// recorder opens (once) the recording file of an environment; relative paths are in
// the data directory.
func (w *wiring) recorder(cfg *spec.RecorderSpec) (*recorder.Recorder, error) {
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

// Close releases what the wiring opened: builtin routers stop their proxies, local
// platforms stop supervising but leave their instances running, so the next server
// on the same data directory adopts them.
func (w *wiring) Close() {
	w.closeBuiltin()
	w.mu.Lock()
	defer w.mu.Unlock()
	for path, r := range w.recorders {
		if err := r.Close(); err != nil {
			w.log.Warn("closing recorder", "file", path, "err", err)
		}
	}
}
