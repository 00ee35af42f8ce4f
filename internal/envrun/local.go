package envrun

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/local"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
	"github.com/sluicehq/sluice/internal/traffic/builtin/routerd"
)

// InstanceOutputFunc receives every line an instance of a local platform prints; the
// engine's InstanceOutput has this shape and puts the line on the console of the
// execution driving the service.
type InstanceOutputFunc func(environment, service, slot string, instance int, stream, line string)

// closeTimeout bounds how long Close waits for routers to drain.
const closeTimeout = 10 * time.Second

// localEnv is the local platform of one environment.
type localEnv struct {
	cfg    spec.LocalPlatformSpec
	p      *local.Platform
	router atomic.Pointer[envRouter] // the environment's builtin router, once made
}

// envRouter is an environment's builtin router: in the server process
// (builtin.Router) or a separate `sluice router` process (routerd.Client).
type envRouter interface {
	traffic.Router
	EndpointsChanged(ref platform.SlotRef, endpoints []string)
	Metrics(service string) (proxy.MetricsSnapshot, error)
	Addr(service string) string
	Restore(ctx context.Context) error
	Close(ctx context.Context) error
}

var (
	_ envRouter = (*builtin.Router)(nil)
	_ envRouter = (*routerd.Client)(nil)
)

// routerEnv is the builtin router of one environment.
type routerEnv struct {
	cfg spec.BuiltinRouterSpec
	r   envRouter
}

// SetInstanceOutput sends every instance line of every local platform to f as well as
// to the server log; the server passes the engine's InstanceOutput.
func (w *Runtimes) SetInstanceOutput(f InstanceOutputFunc) { w.output.Store(&f) }

// localPlatform returns (once per environment) the local platform, whose state
// lives in DATA/local/ENV so a restarted server adopts the instances.
func (w *Runtimes) localPlatform(_ context.Context, name string, env *spec.Environment) (platform.Platform, error) {
	le, err := w.localEnv(name, env)
	if err != nil {
		return nil, err
	}
	return le.p, nil
}

func (w *Runtimes) localEnv(name string, env *spec.Environment) (*localEnv, error) {
	cfg := spec.LocalPlatformSpec{}
	if env.Spec.Platform.Local != nil {
		cfg = *env.Spec.Platform.Local
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if le, ok := w.locals[name]; ok {
		if !sameLocal(le.cfg, cfg) {
			return nil, fmt.Errorf("local: environment %s: platform.local changed while the server runs (from %+v to %+v); restart the server to apply it", name, le.cfg, cfg)
		}
		return le, nil
	}
	le := &localEnv{cfg: cfg}
	opts := local.Options{
		KeepRunning: true,
		StopGrace:   cfg.StopGrace.Std(),
		Commands:    localCommands(cfg.Commands),
		User:        cfg.User,
		WorkDir:     cfg.WorkDir,
		Output:      w.instanceOutput(name),
		OnEndpoints: func(ref platform.SlotRef, eps []string) {
			if r := le.router.Load(); r != nil {
				(*r).EndpointsChanged(ref, eps)
			}
		},
		Logger: w.log.With("component", "local", "environment", name),
	}
	if w.dataDir != "" {
		opts.StateDir = LocalStateDir(w.dataDir, name)
	}
	p, err := local.New(opts)
	if err != nil {
		return nil, fmt.Errorf("local: environment %s: %w", name, err)
	}
	le.p = p
	w.locals[name] = le
	return le, nil
}

// sameLocal reports whether two platform.local blocks configure the same thing:
// where a command was written (its position, which differs between the stored
// document warmed at start-up and an execution's copy) does not count.
func sameLocal(a, b spec.LocalPlatformSpec) bool {
	strip := func(cs []spec.LocalCommand) []spec.LocalCommand {
		out := make([]spec.LocalCommand, len(cs))
		for i, c := range cs {
			c.Pos = spec.Pos{}
			out[i] = c
		}
		return out
	}
	a.Commands, b.Commands = strip(a.Commands), strip(b.Commands)
	return reflect.DeepEqual(a, b)
}

// localCommands converts an environment's local.commands for the platform.
func localCommands(cs []spec.LocalCommand) []local.Command {
	out := make([]local.Command, 0, len(cs))
	for _, c := range cs {
		out = append(out, local.Command{Name: c.Name, Executable: c.Executable, Args: c.Args})
	}
	return out
}

// instanceOutput masks every secret sluice knows in an instance's line (the platform
// already masked the service's own secret env values), then logs it with its slot and
// instance and passes it to the hook set by SetInstanceOutput: nothing an instance
// prints is stored, streamed or logged before it is masked.
func (w *Runtimes) instanceOutput(envName string) func(ref platform.SlotRef, instance int, stream, line string) {
	log := w.log.With("component", "instance", "environment", envName)
	return func(ref platform.SlotRef, instance int, stream, line string) {
		line = secrets.Default.String(line)
		log.Info(line, "service", ref.Service, "slot", ref.Slot, "instance", instance, "stream", stream)
		if f := w.output.Load(); f != nil {
			(*f)(envName, ref.Service, string(ref.Slot), instance, stream, line)
		}
	}
}

// builtinRouter returns (once per environment) the builtin router, whose endpoints
// come from the environment's local platform.
func (w *Runtimes) builtinRouter(ctx context.Context, name string, env *spec.Environment) (traffic.Router, error) {
	if err := validateBuiltin(env); err != nil {
		return nil, fmt.Errorf("environment %s: %w", name, err)
	}
	cfg := env.Spec.Router.Builtin
	le, err := w.localEnv(name, env)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if re, ok := w.routers[name]; ok {
		if !reflect.DeepEqual(re.cfg, *cfg) {
			return nil, fmt.Errorf("builtin: environment %s: router.builtin changed from %+v to %+v while the server runs; restart the server to apply it", name, re.cfg, *cfg)
		}
		return re.r, nil
	}
	r, err := w.newEnvRouter(name, *cfg, le.p)
	if err != nil {
		return nil, fmt.Errorf("builtin: environment %s: %w", name, err)
	}
	le.router.Store(&r)
	// A restarted server serves the services it routed before, with their weights:
	// it adopts the router process, or restores the in-process router's state.
	if err := r.Restore(ctx); err != nil {
		le.router.Store(nil)
		r.Close(ctx) //nolint:errcheck // the restore error is the one to report
		return nil, fmt.Errorf("builtin: environment %s: %w", name, err)
	}
	w.routers[name] = &routerEnv{cfg: *cfg, r: r}
	return r, nil
}

// validateBuiltin checks router.builtin without I/O: a listen address, the local
// platform whose instances it routes to, and a mode the proxy has (TLS files are
// read when the router starts, on the server's machine).
func validateBuiltin(env *spec.Environment) error {
	cfg := env.Spec.Router.Builtin
	if cfg == nil || cfg.Listen == "" {
		return errors.New("builtin: router.builtin.listen is required")
	}
	if env.Spec.Platform.Type != "local" {
		return fmt.Errorf("builtin: the builtin router needs platform type local, not %q", env.Spec.Platform.Type)
	}
	s := routerd.SettingsOf(*cfg)
	s.TLSCert, s.TLSKey = "", ""
	if _, err := s.ProxyConfig(); err != nil {
		return fmt.Errorf("builtin: %w", err)
	}
	return nil
}

// newEnvRouter makes an environment's builtin router: a client of a separate
// router process (the default when the server knows its executable and has a
// data directory), or a router inside the server (process: inprocess).
func (w *Runtimes) newEnvRouter(name string, cfg spec.BuiltinRouterSpec, src builtin.EndpointSource) (envRouter, error) {
	settings := routerd.SettingsOf(cfg)
	log := w.log.With("component", "router", "environment", name)
	if cfg.Process != "inprocess" && w.routerExe != "" && w.dataDir != "" {
		return routerd.NewClient(routerd.ClientOptions{
			Dir: RouterDir(w.dataDir, name), Settings: settings, Executable: w.routerExe, Source: src, Logger: log,
		})
	}
	pcfg, err := settings.ProxyConfig()
	if err != nil {
		return nil, err
	}
	opts := builtin.Options{Listen: cfg.Listen, Admin: cfg.Admin, Source: src, Proxy: pcfg, Mirror: settings.Mirror(), Logger: log}
	if w.dataDir != "" {
		opts.StateFile = filepath.Join(w.dataDir, "builtin", name+".json")
	}
	return builtin.New(opts)
}

// RouterDir is where the router process of an environment keeps its state and
// sockets under a server's data directory.
func RouterDir(dataDir, envName string) string {
	return filepath.Join(dataDir, "router", envName)
}

// RouterMetrics returns the builtin router's per-slot counters of a service in an
// environment, for the builtin verification provider.
func (w *Runtimes) RouterMetrics(envName, service string) (proxy.MetricsSnapshot, error) {
	w.mu.Lock()
	re, ok := w.routers[envName]
	w.mu.Unlock()
	if !ok {
		return proxy.MetricsSnapshot{}, fmt.Errorf("builtin: metrics of %s in environment %s: the environment has no builtin router in this server", service, envName)
	}
	return re.r.Metrics(service)
}

// RouterMetricsOf returns the metrics source of one environment's builtin router
// (it satisfies verify.MetricsSource).
func (w *Runtimes) RouterMetricsOf(envName string) EnvironmentMetrics {
	return EnvironmentMetrics{w: w, env: envName}
}

// EnvironmentMetrics reads the builtin router metrics of one environment.
type EnvironmentMetrics struct {
	w   *Runtimes
	env string
}

// Metrics returns the per-slot counters of a service.
func (m EnvironmentMetrics) Metrics(service string) (proxy.MetricsSnapshot, error) {
	return m.w.RouterMetrics(m.env, service)
}

// Endpoints returns the ready instances of a slot on an environment's local platform
// (it satisfies loadtest.TargetSource).
func (w *Runtimes) Endpoints(ctx context.Context, envName string, ref platform.SlotRef) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	le, ok := w.locals[envName]
	w.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("endpoints of %s: environment %s has no local platform in this server", ref, envName)
	}
	return le.p.Endpoints(ref), nil
}

// closeBuiltin stops every builtin router's proxies, then lets go of every local
// platform, leaving its instances running for adoption.
func (w *Runtimes) closeBuiltin() {
	w.mu.Lock()
	routers, locals := w.routers, w.locals
	w.routers, w.locals = map[string]*routerEnv{}, map[string]*localEnv{}
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	for name, re := range routers {
		if err := re.r.Close(ctx); err != nil {
			w.log.Warn("closing builtin router", "environment", name, "err", err)
		}
	}
	for name, le := range locals {
		le.router.Store(nil)
		if err := le.p.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			w.log.Warn("closing local platform", "environment", name, "err", err)
		}
	}
}

// LocalStateDir is where the local platform of an environment keeps its state under
// a server's data directory; a local.Platform opened there adopts its instances.
func LocalStateDir(dataDir, envName string) string {
	return filepath.Join(dataDir, "local", envName)
}

// Metrics returns the per-slot counters of a service from whichever environment's
// builtin router serves it, so Runtimes itself satisfies verify.MetricsSource for
// a verify.Deps shared by every environment. A service routed in two environments is
// an error naming both; RouterMetricsOf reads one environment exactly.
func (w *Runtimes) Metrics(service string) (proxy.MetricsSnapshot, error) {
	w.mu.Lock()
	var found []string
	var router envRouter
	for name, re := range w.routers {
		if re.r.Addr(service) != "" {
			found, router = append(found, name), re.r
		}
	}
	w.mu.Unlock()
	switch len(found) {
	case 0:
		return proxy.MetricsSnapshot{}, fmt.Errorf("builtin: metrics of %s: %w in any environment of this server", service, builtin.ErrNotEnsured)
	case 1:
		return router.Metrics(service)
	default:
		sort.Strings(found)
		return proxy.MetricsSnapshot{}, fmt.Errorf("builtin: metrics of %s: the service is routed in environments %v; read one environment", service, found)
	}
}
