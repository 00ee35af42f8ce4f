package envrun

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/gatewayapi"
	"github.com/sluicehq/sluice/internal/traffic/istio"
)

// The kubernetes platform and the istio and gatewayapi routers hold no state of their
// own (everything lives in the API server), so each Resolve builds them afresh; their
// constructors make no request.

// kubeConfig returns the API server configuration of an environment: its kubernetes
// platform's kubeconfig and context, or the pod's service account when there is none.
func kubeConfig(env *spec.Environment) (*rest.Config, error) {
	k := env.Spec.Platform.Kubernetes
	if k == nil {
		return kubernetes.RESTConfig("", "")
	}
	return kubernetes.RESTConfig(k.Kubeconfig, k.Context)
}

// clientset returns a client of the environment's API server (kubeConfig); it
// makes no request until it is used.
func clientset(env *spec.Environment) (k8s.Interface, error) {
	cfg, err := kubeConfig(env)
	if err != nil {
		return nil, err
	}
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}

// kubeNamespace is the router's namespace, else the platform's.
func kubeNamespace(env *spec.Environment, routerNS string) string {
	if routerNS != "" {
		return routerNS
	}
	if k := env.Spec.Platform.Kubernetes; k != nil {
		return k.Namespace
	}
	return ""
}

// validateKubernetes checks that the kubernetes platform has its block.
func validateKubernetes(env *spec.Environment) error {
	if env.Spec.Platform.Kubernetes == nil {
		return errors.New("kubernetes: the environment has no kubernetes block (platform.kubernetes with a namespace)")
	}
	return nil
}

func (w *Runtimes) kubernetesPlatform(_ context.Context, name string, env *spec.Environment) (platform.Platform, error) {
	if err := validateKubernetes(env); err != nil {
		return nil, err
	}
	k := env.Spec.Platform.Kubernetes
	cfg, err := kubeConfig(env)
	if err != nil {
		return nil, err
	}
	return kubernetes.New(cfg, kubernetes.Options{
		Namespace: k.Namespace, ServiceType: corev1.ServiceType(k.ServiceType),
		Log: w.log.With("environment", name, "platform", "kubernetes"),
	})
}

// istioOptions are the istio router's options from an environment's router.istio.
func istioOptions(env *spec.Environment) istio.Options {
	c := env.Spec.Router.Istio
	if c == nil {
		c = &spec.IstioRouterSpec{}
	}
	return istio.Options{
		Namespace: kubeNamespace(env, c.Namespace), Gateway: c.Gateway, Hosts: c.Hosts,
		VirtualService: c.VirtualService, Route: c.Route, Protocol: c.Protocol, Split: c.Split,
	}
}

// validateIstio checks router.istio as the istio router will.
func validateIstio(env *spec.Environment) error {
	return istioOptions(env).Validate()
}

func (w *Runtimes) istioRouter(_ context.Context, name string, env *spec.Environment) (traffic.Router, error) {
	cfg, err := kubeConfig(env)
	if err != nil {
		return nil, fmt.Errorf("istio: %w", err)
	}
	opts := istioOptions(env)
	opts.Log = w.log.With("environment", name, "router", "istio")
	return istio.New(cfg, opts)
}

// validateGatewayAPI checks that the gatewayapi router has its block.
func validateGatewayAPI(env *spec.Environment) error {
	if env.Spec.Router.GatewayAPI == nil {
		return errors.New("gatewayapi: the environment has no gatewayapi block (a gateway is required)")
	}
	return nil
}

// gatewayAPIRouter runs after validateGatewayAPI (Resolve checks first).
func (w *Runtimes) gatewayAPIRouter(_ context.Context, name string, env *spec.Environment) (traffic.Router, error) {
	c := env.Spec.Router.GatewayAPI
	cfg, err := kubeConfig(env)
	if err != nil {
		return nil, fmt.Errorf("gatewayapi: %w", err)
	}
	return gatewayapi.New(cfg, gatewayapi.Options{
		Namespace: kubeNamespace(env, c.Namespace), Gateway: c.Gateway, Hostnames: c.Hostnames,
		HTTPRoute: c.HTTPRoute, Rule: c.Rule,
		Log: w.log.With("environment", name, "router", "gatewayapi"),
	})
}
