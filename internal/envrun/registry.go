package envrun

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/verify/providers"
)

// PlatformKind is one platform type: the check of its settings and its constructor.
type PlatformKind struct {
	// Validate checks an environment's settings of this platform without I/O;
	// its error names the field. Nil: the spec's own checks are all there is.
	Validate func(env *spec.Environment) error
	// New builds (or returns the kept) platform of the environment name; it
	// runs after Validate and makes no request to the platform.
	New func(w *Runtimes, ctx context.Context, name string, env *spec.Environment) (platform.Platform, error)
}

// RouterKind is one router type: the check of its settings and its constructor.
type RouterKind struct {
	// Validate checks an environment's settings of this router without I/O; its
	// error names the field. Nil: the spec's own checks are all there is.
	Validate func(env *spec.Environment) error
	// New builds (or returns the kept) router of the environment name; it runs
	// after Validate.
	New func(w *Runtimes, ctx context.Context, name string, env *spec.Environment) (traffic.Router, error)
}

// Registry maps every platform, router and provider type an environment may name
// to its kind. It is the one list of them; Builtin covers exactly the types the
// spec accepts (spec.PlatformTypes, spec.RouterTypes, spec.ProviderTypes).
type Registry struct {
	Platforms map[string]PlatformKind
	Routers   map[string]RouterKind
	Providers providers.Kinds
}

// Builtin returns the registry of every type this build has.
func Builtin() *Registry {
	return &Registry{
		Platforms: map[string]PlatformKind{
			"local":      {New: (*Runtimes).localPlatform},
			"kubernetes": {Validate: validateKubernetes, New: (*Runtimes).kubernetesPlatform},
			"recorder":   {Validate: validatePlatformRecorder, New: (*Runtimes).recorderPlatform},
		},
		Routers: map[string]RouterKind{
			"builtin":    {Validate: validateBuiltin, New: (*Runtimes).builtinRouter},
			"istio":      {Validate: validateIstio, New: (*Runtimes).istioRouter},
			"gatewayapi": {Validate: validateGatewayAPI, New: (*Runtimes).gatewayAPIRouter},
			"recorder":   {Validate: validateRouterRecorder, New: (*Runtimes).recorderRouter},
		},
		Providers: providers.Types,
	}
}

// platform returns the kind of an environment's platform after its check.
func (r *Registry) platform(env *spec.Environment) (PlatformKind, error) {
	k, ok := r.Platforms[env.Spec.Platform.Type]
	if !ok {
		return k, fmt.Errorf("platform type %q is unknown (known: %v)", env.Spec.Platform.Type, slices.Sorted(maps.Keys(r.Platforms)))
	}
	return k, check(k.Validate, env)
}

// router returns the kind of an environment's router after its check.
func (r *Registry) router(env *spec.Environment) (RouterKind, error) {
	k, ok := r.Routers[env.Spec.Router.Type]
	if !ok {
		return k, fmt.Errorf("router type %q is unknown (known: %v)", env.Spec.Router.Type, slices.Sorted(maps.Keys(r.Routers)))
	}
	return k, check(k.Validate, env)
}

func check(validate func(*spec.Environment) error, env *spec.Environment) error {
	if validate == nil {
		return nil
	}
	return validate(env)
}
