package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/sluicehq/sluice/internal/deploywatch"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/store"
)

// deployments reads a Deployment with the kubeconfig of the stored environment, in
// its platform's namespace.
func deployments(st definitions) deploywatch.Deployments {
	return func(ctx context.Context, environment, name string) (*appsv1.Deployment, error) {
		env, err := storedEnvironment(ctx, st, environment)
		if err != nil {
			return nil, err
		}
		if env == nil || env.Spec.Platform.Kubernetes == nil {
			return nil, fmt.Errorf("environment %s is not a stored kubernetes environment", environment)
		}
		cfg, err := kubeConfig(env)
		if err != nil {
			return nil, err
		}
		cs, err := k8s.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("kubernetes client: %w", err)
		}
		return cs.AppsV1().Deployments(env.Spec.Platform.Kubernetes.Namespace).Get(ctx, name, metav1.GetOptions{})
	}
}

// startDeployWatch runs the watcher of deployment triggers; the returned function
// stops it and waits for it.
func startDeployWatch(ctx context.Context, eng *engine.Engine, st store.Store, log *slog.Logger) func() {
	claims, ok := st.(deploywatch.Store)
	if !ok {
		log.Warn("deployment triggers are off: the store cannot claim deliveries")
		return func() {}
	}
	w := &deploywatch.Watcher{Store: claims, Engine: eng, Deployments: deployments(st),
		Log: log.With("component", "deploywatch")}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx) })
	return func() { cancel(); wg.Wait() }
}
