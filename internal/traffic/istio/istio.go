package istio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/traffic"
)

// FieldManager is the server-side apply field manager of what Ensure writes.
const FieldManager = "sluice"

// The protocols a route can carry.
const (
	ProtocolHTTP = "http"
	ProtocolTCP  = "tcp"
	ProtocolTLS  = "tls"
)

// ErrNotEnsured is returned for a service whose VirtualService does not exist.
var ErrNotEnsured = errors.New("virtual service not found (Ensure first)")

// Options configures a Router.
type Options struct {
	// Namespace holds the Istio objects and the services' Kubernetes Services; "default" when empty.
	Namespace string
	// Gateway names the Gateway for the hosts; "<service>-gateway" when empty. A Gateway
	// is written only when the route has hosts.
	Gateway string
	// Hosts are the external hosts, used when the route names none.
	Hosts []string
	// VirtualService, when set, names a user-owned VirtualService to adopt instead of
	// generating one.
	VirtualService string
	// Route names the route whose weights sluice sets; DefaultRoute when empty.
	Route string
	// Protocol is http (the default), tcp or tls.
	Protocol string
	// ClusterDomain is the cluster's DNS domain; cluster.local when empty.
	ClusterDomain string
	// Log receives what the router does; discarded when nil.
	Log *slog.Logger
}

func (o Options) protocol() string {
	if o.Protocol == "" {
		return ProtocolHTTP
	}
	return o.Protocol
}

func (o Options) route() string {
	if o.Route == "" {
		return DefaultRoute
	}
	return o.Route
}

func (o Options) clusterDomain() string {
	if o.ClusterDomain == "" {
		return "cluster.local"
	}
	return o.ClusterDomain
}

// Router splits traffic with a VirtualService's weights between DestinationRule subsets.
type Router struct {
	dyn  dynamic.Interface
	opts Options
	log  *slog.Logger
}

var _ traffic.Router = (*Router)(nil)

// New returns a router that talks to the API server of cfg. It makes no request.
func New(cfg *rest.Config, opts Options) (*Router, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("istio: client: %w", err)
	}
	return NewForClient(dyn, opts)
}

// NewForClient returns a router over an existing dynamic client.
func NewForClient(dyn dynamic.Interface, opts Options) (*Router, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	switch opts.protocol() {
	case ProtocolHTTP, ProtocolTCP, ProtocolTLS:
	default:
		return nil, fmt.Errorf("istio: protocol %q: want http, tcp or tls", opts.Protocol)
	}
	if opts.VirtualService != "" && opts.protocol() != ProtocolHTTP {
		return nil, fmt.Errorf("istio: adopting virtual service %s: only http routes can be adopted", opts.VirtualService)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{dyn: dyn, opts: opts, log: log}, nil
}

func (r *Router) client(gvr schema.GroupVersionResource) dynamic.ResourceInterface {
	return r.dyn.Resource(gvr).Namespace(r.opts.Namespace)
}

// vsName is the name of the service's VirtualService: the adopted one or the service's.
func (r *Router) vsName(svc string) string {
	if r.opts.VirtualService != "" {
		return r.opts.VirtualService
	}
	return svc
}

func (r *Router) gatewayName(svc string) string {
	if r.opts.Gateway != "" {
		return r.opts.Gateway
	}
	return svc + "-gateway"
}

// Ensure writes the DestinationRule, the Gateway when there are hosts, and the
// VirtualService (or adopts the user's), keeping the split in force.
func (r *Router) Ensure(ctx context.Context, rt traffic.Route) error {
	if err := r.ensure(ctx, rt); err != nil {
		return fmt.Errorf("istio: ensure %s: %w", rt.Service.Service, err)
	}
	return nil
}

func (r *Router) ensure(ctx context.Context, rt traffic.Route) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.checkRouting(rt); err != nil {
		return err
	}
	svc := rt.Service.Service
	if len(rt.Hosts) == 0 {
		rt.Hosts = r.opts.Hosts
	}
	if err := validateHosts(rt.Hosts); err != nil {
		return err
	}
	if r.opts.protocol() == ProtocolTLS && len(rt.Hosts) == 0 {
		return errors.New("a tls route needs hosts to match SNI on")
	}
	if err := r.apply(ctx, destinationRuleGVR, r.destinationRule(svc)); err != nil {
		return err
	}
	gateway := ""
	if len(rt.Hosts) > 0 {
		gateway = r.gatewayName(svc)
		if rt.Gateway != "" {
			gateway = rt.Gateway
		}
		if err := r.ensureGateway(ctx, gateway, svc, rt); err != nil {
			return err
		}
	}
	if r.opts.VirtualService != "" {
		return r.adopt(ctx, svc, rt.Port)
	}
	w := traffic.All(platform.Green)
	if cur, err := r.read(ctx, svc); err == nil {
		w = cur
	} else if !errors.Is(err, ErrNotEnsured) {
		return err
	}
	vs := r.virtualService(svc, rt, gateway, w)
	if err := validateVirtualService(vs, r.host(svc), subsetNames()); err != nil {
		return err
	}
	return r.apply(ctx, virtualServiceGVR, vs)
}

// ErrRouting is wrapped by Ensure for routing the router cannot set up.
var ErrRouting = errors.New("routing not supported")

// checkRouting refuses what the router cannot do with a route's rules: sticky
// sessions (weights are per request in Istio; a consistent hash would hold only
// within a subset), rules on tcp or tls routes, and rules in an adopted
// VirtualService, which is the user's to write.
func (r *Router) checkRouting(rt traffic.Route) error {
	if err := rt.ValidateMatch(); err != nil {
		return err
	}
	switch {
	case rt.Sticky:
		return fmt.Errorf("sticky sessions: %w by the istio router (use the builtin router)", ErrRouting)
	case len(rt.Match) > 0 && r.opts.protocol() != ProtocolHTTP:
		return fmt.Errorf("match rules on a %s route: %w (they match HTTP requests)", r.opts.protocol(), ErrRouting)
	case len(rt.Match) > 0 && r.opts.VirtualService != "":
		return fmt.Errorf("match rules in adopted virtual service %s: %w (add them to it yourself)", r.opts.VirtualService, ErrRouting)
	}
	return nil
}

// ensureGateway writes the Gateway for the route's hosts, unless a Gateway of that name
// exists that sluice did not write for this service: that one is the user's, and the
// VirtualService only refers to it.
func (r *Router) ensureGateway(ctx context.Context, name, svc string, rt traffic.Route) error {
	cur, err := r.client(gatewayGVR).Get(ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("get gateway %s: %w", name, err)
	}
	if err == nil && !ownedBy(cur, svc) {
		r.log.Info("using a gateway sluice did not write", "gateway", name, "service", svc)
		return nil
	}
	return r.apply(ctx, gatewayGVR, r.gateway(name, svc, rt))
}

// ownedBy reports whether sluice wrote u for the service.
func ownedBy(u *unstructured.Unstructured, svc string) bool {
	return u.GetLabels()[kubernetes.LabelService] == svc && u.GetLabels()[kubernetes.LabelManagedBy] == "sluice"
}

func (r *Router) apply(ctx context.Context, gvr schema.GroupVersionResource, u *unstructured.Unstructured) error {
	_, err := r.client(gvr).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("apply %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return nil
}

// Release deletes the VirtualService (or gives an adopted one back), the
// DestinationRule and the Gateway sluice wrote for the service.
func (r *Router) Release(ctx context.Context, svc traffic.ServiceRef) error {
	if err := r.release(ctx, svc.Service); err != nil {
		return fmt.Errorf("istio: release %s: %w", svc.Service, err)
	}
	return nil
}

func (r *Router) release(ctx context.Context, svc string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	gateways := []string{r.gatewayName(svc)}
	if r.opts.VirtualService != "" {
		if err := r.unadopt(ctx); err != nil {
			return err
		}
	} else {
		vs, err := r.client(virtualServiceGVR).Get(ctx, svc, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("get virtual service %s: %w", svc, err)
		}
		if err == nil { // a Gateway named by the route is released too, if sluice wrote it
			named, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "gateways")
			gateways = append(gateways, named...)
		}
		if err := r.deleteOwned(ctx, virtualServiceGVR, svc, svc); err != nil {
			return err
		}
	}
	if err := r.deleteOwned(ctx, destinationRuleGVR, svc, svc); err != nil {
		return err
	}
	for _, g := range gateways {
		if g == "mesh" || strings.Contains(g, "/") {
			continue
		}
		if err := r.deleteOwned(ctx, gatewayGVR, g, svc); err != nil {
			return err
		}
	}
	return nil
}

// deleteOwned deletes an object only when sluice wrote it for the service.
func (r *Router) deleteOwned(ctx context.Context, gvr schema.GroupVersionResource, name, svc string) error {
	u, err := r.client(gvr).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s %s: %w", gvr.Resource, name, err)
	}
	if !ownedBy(u, svc) {
		return nil
	}
	uid := u.GetUID()
	err = r.client(gvr).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s: %w", gvr.Resource, name, err)
	}
	return nil
}

func subsetNames() []string {
	out := make([]string, 0, len(slots))
	for _, s := range slots {
		out = append(out, string(s))
	}
	return out
}
