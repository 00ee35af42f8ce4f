package envrun

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/internal/deploywatch"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// Definitions is the part of the store the runtimes read: stored environments.
type Definitions interface {
	GetDefinition(ctx context.Context, kind store.Kind, name string, version int64) (store.Definition, error)
}

// storedEnvironment reads and parses the latest stored environment; nil when there
// is none.
func storedEnvironment(ctx context.Context, st Definitions, name string) (*spec.Environment, error) {
	def, err := st.GetDefinition(ctx, store.KindEnvironment, name, 0)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", name, err)
	}
	env, err := spec.ParseEnvironment(name, []byte(def.Source))
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", name, err)
	}
	return env, nil
}

// Deployments returns the deployment watcher's reader of Deployments: one is read
// with the kubeconfig of the stored environment, in its platform's namespace.
func Deployments(st Definitions) deploywatch.Deployments {
	return func(ctx context.Context, environment, name string) (*appsv1.Deployment, error) {
		env, err := storedEnvironment(ctx, st, environment)
		if err != nil {
			return nil, err
		}
		if env == nil || env.Spec.Platform.Kubernetes == nil {
			return nil, fmt.Errorf("environment %s is not a stored kubernetes environment", environment)
		}
		cs, err := clientset(env)
		if err != nil {
			return nil, err
		}
		return cs.AppsV1().Deployments(env.Spec.Platform.Kubernetes.Namespace).Get(ctx, name, metav1.GetOptions{})
	}
}
