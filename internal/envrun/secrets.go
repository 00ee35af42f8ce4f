package envrun

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// kubeSecrets reads keys of Kubernetes Secrets with one environment's credentials.
// It implements verify.SecretGetter and secrets.Getter.
type kubeSecrets struct{ client k8s.Interface }

var (
	_ verify.SecretGetter = kubeSecrets{}
	_ secrets.Getter      = kubeSecrets{}
)

// Get returns the value of key in the Secret namespace/name. Its errors name the
// Secret and the keys it has, never a value.
func (k kubeSecrets) Get(ctx context.Context, namespace, name, key string) ([]byte, error) {
	s, err := k.client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if v, ok := s.Data[key]; ok {
		return v, nil
	}
	keys := slices.Sorted(maps.Keys(s.Data))
	return nil, fmt.Errorf("the Secret has no key %s (it has: %s)", key, strings.Join(keys, ", "))
}

// kubeSecretsOf returns the reader of Kubernetes Secrets of an environment, with
// the same kubeconfig and context (or service account) as its kubernetes platform.
// Only environments on the kubernetes platform have one: the spec rejects Secret
// references anywhere else. The client makes no request until it is used.
func (w *Runtimes) kubeSecretsOf(envName string, env *spec.Environment) (verify.SecretGetter, error) {
	if env == nil || env.Spec.Platform.Type != "kubernetes" || env.Spec.Platform.Kubernetes == nil {
		return nil, fmt.Errorf("environment %s is not on the kubernetes platform, so it cannot read Kubernetes Secrets", envName)
	}
	cs, err := clientset(env)
	if err != nil {
		return nil, fmt.Errorf("kubernetes secrets: %w", err)
	}
	return kubeSecrets{client: cs}, nil
}

// ResolveSecret resolves a secret reference of the environment envName (a
// notifier's) and registers the value with secrets.Default; a Kubernetes Secret is
// read with the environment's kubeconfig, in its namespace unless the reference
// names another.
func (w *Runtimes) ResolveSecret(ctx context.Context, envName string, env *spec.Environment, ref spec.SecretRef) (string, error) {
	r := &secrets.Resolver{}
	if ref.Secret != nil {
		g, err := w.kubeSecretsOf(envName, env)
		if err != nil {
			return "", fmt.Errorf("secrets: %s: %w", ref.Secret, err)
		}
		r.Kube, r.Namespace = g, env.Spec.Platform.Kubernetes.Namespace
	}
	return r.Resolve(ctx, ref)
}
