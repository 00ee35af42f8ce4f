package providers

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/builtin"
	"github.com/sluicehq/sluice/internal/verify/datadog"
	"github.com/sluicehq/sluice/internal/verify/httpjson"
	"github.com/sluicehq/sluice/internal/verify/loki"
	"github.com/sluicehq/sluice/internal/verify/newrelic"
	"github.com/sluicehq/sluice/internal/verify/prometheus"
	"github.com/sluicehq/sluice/internal/verify/sumologic"
	"github.com/sluicehq/sluice/internal/verify/victorialogs"
)

// constructor builds one provider type.
type constructor func(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error)

// constructors are the provider types this build has.
var constructors = map[string]constructor{
	"builtin": func(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
		if deps.Metrics == nil {
			return nil, fmt.Errorf("the builtin provider reads the built-in router, and this environment's router is another")
		}
		return builtin.New(deps.Metrics, deps.Now), nil
	},
	"prometheus": func(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
		return prometheus.New(ctx, ps, deps)
	},
	"http": func(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
		return httpjson.New(ctx, ps, deps)
	},
	"loki": func(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
		return loki.New(ctx, ps, deps)
	},
	"datadog": func(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
		return datadog.New(ctx, ps, deps)
	},
	"newrelic": func(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
		return newrelic.New(ctx, ps, deps)
	},
	"sumologic": func(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
		return sumologic.New(ctx, ps, deps)
	},
	"victorialogs": func(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
		return victorialogs.New(ctx, ps, deps)
	},
}

// known are the provider types the workflow format accepts, built here or not.
var known = []string{"builtin", "prometheus", "newrelic", "datadog", "sumologic", "loki", "victorialogs", "http"}

// New builds the provider a spec describes. An unknown type is an error, never a
// fallback; a known type this build lacks would wrap verify.ErrNotAvailable (today
// every type the workflow format knows is built).
func New(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
	c, ok := constructors[ps.Type]
	if !ok {
		for _, k := range known {
			if k == ps.Type {
				return nil, fmt.Errorf("provider %s: type %s: %w", ps.Name, ps.Type, verify.ErrNotAvailable)
			}
		}
		return nil, fmt.Errorf("provider %s: unknown type %q (known: %v)", ps.Name, ps.Type, known)
	}
	p, err := c(ctx, ps, deps)
	if err != nil {
		return nil, fmt.Errorf("provider %s (%s): %w", ps.Name, ps.Type, err)
	}
	return p, nil
}

// Source finds providers by name in an environment and keeps each one built, so
// that a provider's state (the built-in router's readings, connections) outlives
// a step. It implements verify.ProviderSource.
type Source struct {
	deps       verify.Deps
	metricsFor func(envName string) verify.MetricsSource
	secretsFor SecretsFunc
	breakAfter int
	cooldown   time.Duration

	mu    sync.Mutex
	built map[string]entry
}

// SourceOption changes how a Source builds providers.
type SourceOption func(*Source)

// PerEnvironmentMetrics makes builtin providers read the built-in router of their
// own environment, f(envName), instead of deps.Metrics; f may return nil for an
// environment without one.
func PerEnvironmentMetrics(f func(envName string) verify.MetricsSource) SourceOption {
	return func(s *Source) { s.metricsFor = f }
}

// SecretsFunc returns the reader of Kubernetes Secrets for an environment,
// built from the same kubeconfig as its kubernetes platform.
type SecretsFunc func(envName string, env *spec.Environment) (verify.SecretGetter, error)

// PerEnvironmentSecrets makes providers whose credentials name Kubernetes Secrets
// read them with f(envName, env), in the environment's kubernetes namespace unless
// a reference names another. f is called only for such providers.
func PerEnvironmentSecrets(f SecretsFunc) SourceOption {
	return func(s *Source) { s.secretsFor = f }
}

type entry struct {
	spec spec.ProviderSpec
	p    verify.Provider
}

var _ verify.ProviderSource = (*Source)(nil)

// NewSource returns a source that builds providers with deps.
func NewSource(deps verify.Deps, opts ...SourceOption) *Source {
	s := &Source{deps: deps, built: map[string]entry{}, breakAfter: BreakAfter, cooldown: Cooldown}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Provider returns the provider named name in env, building it on first use and
// again when the environment's spec of it changed.
func (s *Source) Provider(ctx context.Context, envName string, env *spec.Environment, name string) (verify.Provider, error) {
	if env == nil {
		return nil, fmt.Errorf("provider %s: no environment", name)
	}
	var ps *spec.ProviderSpec
	for i := range env.Spec.Providers {
		if env.Spec.Providers[i].Name == name {
			ps = &env.Spec.Providers[i]
		}
	}
	if ps == nil {
		return nil, fmt.Errorf("environment %s has no provider named %q", envName, name)
	}
	key := envName + "\x00" + name
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.built[key]; ok && reflect.DeepEqual(e.spec, *ps) {
		return e.p, nil
	}
	deps := s.deps
	if s.metricsFor != nil {
		deps.Metrics = s.metricsFor(envName)
	}
	if err := s.withSecrets(&deps, envName, env, ps); err != nil {
		return nil, err
	}
	if s.breakAfter > 0 {
		deps.HTTP = withBreaker(deps.BaseClient(), ps.Name, s.breakAfter, s.cooldown, deps.Clock())
	}
	p, err := New(ctx, *ps, deps)
	if err != nil {
		return nil, err
	}
	s.built[key] = entry{spec: *ps, p: p}
	return p, nil
}

// withSecrets gives deps the environment's reader of Kubernetes Secrets and its
// namespace when a credential of ps names a Secret.
func (s *Source) withSecrets(deps *verify.Deps, envName string, env *spec.Environment, ps *spec.ProviderSpec) error {
	if k := env.Spec.Platform.Kubernetes; k != nil {
		deps.KubeNamespace = k.Namespace
	}
	if s.secretsFor == nil || !slices.ContainsFunc(slices.Collect(maps.Values(ps.Credentials)),
		func(r spec.SecretRef) bool { return r.Secret != nil }) {
		return nil
	}
	g, err := s.secretsFor(envName, env)
	if err != nil {
		return fmt.Errorf("provider %s: kubernetes secrets of environment %s: %w", ps.Name, envName, err)
	}
	deps.KubeSecrets = g
	return nil
}
