package server

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
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
func init() {
	platformTypes["kubernetes"] = (*wiring).kubernetesPlatform
	routerTypes["istio"] = (*wiring).istioRouter
	routerTypes["gatewayapi"] = (*wiring).gatewayAPIRouter
}

// kubeConfig returns the API server configuration of an environment: its kubernetes
// platform's kubeconfig and context, or the pod's service account when there is none.
func kubeConfig(env *spec.Environment) (*rest.Config, error) {
	k := env.Spec.Platform.Kubernetes
	if k == nil {
		return kubernetes.RESTConfig("", "")
	}
	return kubernetes.RESTConfig(k.Kubeconfig, k.Context)
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

func (w *wiring) kubernetesPlatform(_ context.Context, name string, env *spec.Environment) (platform.Platform, error) {
	k := env.Spec.Platform.Kubernetes
	if k == nil {
		return nil, errors.New("kubernetes: the environment has no kubernetes block")
	}
	cfg, err := kubeConfig(env)
	if err != nil {
		return nil, err
	}
	return kubernetes.New(cfg, kubernetes.Options{
		Namespace: k.Namespace, ServiceType: corev1.ServiceType(k.ServiceType),
		Log: w.log.With("environment", name, "platform", "kubernetes"),
	})
}

func (w *wiring) istioRouter(_ context.Context, name string, env *spec.Environment) (traffic.Router, error) {
	c := env.Spec.Router.Istio
	if c == nil {
		c = &spec.IstioRouterSpec{}
	}
	cfg, err := kubeConfig(env)
	if err != nil {
		return nil, fmt.Errorf("istio: %w", err)
	}
	return istio.New(cfg, istio.Options{
		Namespace: kubeNamespace(env, c.Namespace), Gateway: c.Gateway, Hosts: c.Hosts,
		VirtualService: c.VirtualService, Route: c.Route, Protocol: c.Protocol, Split: c.Split,
		Log: w.log.With("environment", name, "router", "istio"),
	})
}

func (w *wiring) gatewayAPIRouter(_ context.Context, name string, env *spec.Environment) (traffic.Router, error) {
	c := env.Spec.Router.GatewayAPI
	if c == nil {
		return nil, errors.New("gatewayapi: the environment has no gatewayapi block (a gateway is required)")
	}
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
