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

// Kind is one provider type: the check of its spec and its constructor.
type Kind struct {
	// Validate checks a spec of this type as New would, without reading a
	// credential or making a request; a *verify.FieldError names the field.
	Validate func(ps spec.ProviderSpec) error
	// New builds the provider; it makes no request.
	New func(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error)
}

// Kinds maps provider types to their kinds.
type Kinds map[string]Kind

// Types are the provider types of this build: every type the workflow format
// knows (spec.ProviderTypes). A type's check is its own constructor's (SpecCheck),
// but for builtin, which takes nothing to construct.
var Types = Kinds{
	"builtin":      {Validate: builtin.Validate, New: newBuiltin},
	"prometheus":   kindOf(prometheus.New),
	"http":         kindOf(httpjson.New),
	"loki":         kindOf(loki.New),
	"datadog":      kindOf(datadog.New),
	"newrelic":     kindOf(newrelic.New),
	"sumologic":    kindOf(sumologic.New),
	"victorialogs": kindOf(victorialogs.New),
}

// kindOf is the kind of a provider package: its constructor, and as its check
// the same constructor run without credentials or requests (verify.SpecCheck).
func kindOf[P verify.Provider](newProvider func(context.Context, spec.ProviderSpec, verify.Deps) (P, error)) Kind {
	return Kind{
		Validate: verify.SpecCheck(newProvider),
		New: func(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
			p, err := newProvider(ctx, ps, deps)
			if err != nil {
				return nil, err
			}
			return p, nil
		},
	}
}

func newBuiltin(_ context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
	if err := builtin.Validate(ps); err != nil {
		return nil, err
	}
	if deps.Metrics == nil {
		return nil, fmt.Errorf("the builtin provider reads the built-in router, and this environment's router is another")
	}
	return builtin.New(deps.Metrics, deps.Now), nil
}

// kind returns the kind of a spec's type; an unknown type is an error, never a
// fallback.
func (k Kinds) kind(ps spec.ProviderSpec) (Kind, error) {
	c, ok := k[ps.Type]
	if !ok {
		return c, fmt.Errorf("provider %s: unknown type %q (known: %v)", ps.Name, ps.Type, slices.Sorted(maps.Keys(k)))
	}
	return c, nil
}

// Validate checks a spec with its type's check.
func (k Kinds) Validate(ps spec.ProviderSpec) error {
	c, err := k.kind(ps)
	if err != nil {
		return err
	}
	return c.Validate(ps)
}

// New builds the provider a spec describes.
func (k Kinds) New(ctx context.Context, ps spec.ProviderSpec, deps verify.Deps) (verify.Provider, error) {
	c, err := k.kind(ps)
	if err != nil {
		return nil, err
	}
	p, err := c.New(ctx, ps, deps)
	if err != nil {
		return nil, fmt.Errorf("provider %s (%s): %w", ps.Name, ps.Type, err)
	}
	return p, nil
}

// Source finds providers by name in an environment and keeps each one built, so
// that a provider's state (the built-in router's readings, connections) outlives
// a step. It implements verify.ProviderSource.
type Source struct {
	kinds      Kinds
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

// NewSource returns a source that builds providers of the given kinds with deps.
func NewSource(kinds Kinds, deps verify.Deps, opts ...SourceOption) *Source {
	s := &Source{kinds: kinds, deps: deps, built: map[string]entry{}, breakAfter: BreakAfter, cooldown: Cooldown}
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
	p, err := s.kinds.New(ctx, *ps, deps)
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
