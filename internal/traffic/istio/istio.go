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

	"github.com/sluicehq/sluice/internal/kube"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/kuberoute"
)

// FieldManager is the server-side apply field manager of what Ensure writes.
const FieldManager = "sluice"

// The protocols a route can carry.
const (
	ProtocolHTTP = "http"
	ProtocolTCP  = "tcp"
	ProtocolTLS  = "tls"
)

// The ways a route can reach a slot (Options.Split).
const (
	SplitHost   = "host"
	SplitSubset = "subset"
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
	// Split is how the route reaches a slot: SplitHost (the default) sends it to the
	// slot's own Service, <service>-<slot>, so no DestinationRule is needed or
	// changed; SplitSubset sends it to a subset of the stable Service, so a
	// DestinationRule's traffic policy for that host applies to both slots.
	Split string
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

func (o Options) split() string {
	if o.Split == "" {
		return SplitHost
	}
	return o.Split
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
	dyn   dynamic.Interface
	opts  Options
	log   *slog.Logger
	split *kuberoute.Writer // reads and writes the VirtualService's split
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

// Validate checks the options without I/O: a known protocol and split, and an
// adopted virtual service only for http routes.
func (opts Options) Validate() error {
	switch opts.protocol() {
	case ProtocolHTTP, ProtocolTCP, ProtocolTLS:
	default:
		return fmt.Errorf("istio: protocol %q: want http, tcp or tls", opts.Protocol)
	}
	switch opts.split() {
	case SplitHost, SplitSubset:
	default:
		return fmt.Errorf("istio: split %q: want host or subset", opts.Split)
	}
	if opts.VirtualService != "" && opts.protocol() != ProtocolHTTP {
		return fmt.Errorf("istio: adopting virtual service %s: only http routes can be adopted", opts.VirtualService)
	}
	return nil
}

// NewForClient returns a router over an existing dynamic client.
func NewForClient(dyn dynamic.Interface, opts Options) (*Router, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Router{dyn: dyn, opts: opts, log: log}
	r.split = &kuberoute.Writer{
		Router:         "istio",
		Kind:           "virtual service",
		Resource:       func() dynamic.ResourceInterface { return r.client(virtualServiceGVR) },
		Routes:         routes{r},
		FieldManager:   FieldManager,
		KeysAnnotation: AnnotationWeightKeys,
		ErrNotEnsured:  ErrNotEnsured,
		Log:            log,
	}
	return r, nil
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

// Ensure writes the Gateway when there are hosts, the DestinationRule with split:
// subset, and the VirtualService (or adopts the user's), keeping the split in force.
// It decides everything before it writes anything: a refused adoption, or an object
// of sluice's name that someone else created, leaves every object as it was.
func (r *Router) Ensure(ctx context.Context, rt traffic.Route) error {
	if err := r.ensure(ctx, rt); err != nil {
		return fmt.Errorf("istio: ensure %s: %w", rt.Service.Service, err)
	}
	return nil
}

// plan is what Ensure found before writing: which objects it writes.
type plan struct {
	gateway    string     // the Gateway the VirtualService names; "" without hosts
	ownGateway bool       // write the Gateway (sluice's, or none yet)
	subsets    subsetPlan // split: subset only
	adopted    bool       // the VirtualService is the user's
	weights    traffic.Weights
}

func (r *Router) ensure(ctx context.Context, rt traffic.Route) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.checkRouting(rt); err != nil {
		return err
	}
	if len(rt.Hosts) == 0 {
		rt.Hosts = r.opts.Hosts
	}
	if err := validateHosts(rt.Hosts); err != nil {
		return err
	}
	if r.opts.protocol() == ProtocolTLS && len(rt.Hosts) == 0 {
		return errors.New("a tls route needs hosts to match SNI on")
	}
	p, err := r.plan(ctx, rt)
	if err != nil {
		return err
	}
	return r.write(ctx, rt, p)
}

// plan reads what exists and decides what Ensure writes, writing nothing.
func (r *Router) plan(ctx context.Context, rt traffic.Route) (plan, error) {
	svc := rt.Service.Service
	p := plan{weights: traffic.All(liveOr(rt.Live))}
	var err error
	if r.opts.VirtualService != "" {
		p.adopted = true
		if err := r.split.CheckAdoptable(ctx, r.opts.VirtualService, svc); err != nil {
			return p, err
		}
	} else if p.weights, err = r.split.Current(ctx, svc, p.weights, "virtualService: "+svc); err != nil {
		return p, err
	}
	if r.opts.split() == SplitSubset {
		if p.subsets, err = r.planSubsets(ctx, svc); err != nil {
			return p, err
		}
	}
	if len(rt.Hosts) > 0 {
		p.gateway = r.gatewayName(svc)
		if rt.Gateway != "" {
			p.gateway = rt.Gateway
		}
		if p.ownGateway, err = r.mayWrite(ctx, gatewayGVR, p.gateway, svc); err != nil {
			return p, err
		}
		if !p.ownGateway {
			r.log.Info("using a gateway sluice did not write", "gateway", p.gateway, "service", svc)
		}
	}
	return p, nil
}

// liveOr is the slot a new split sends everything to: the live one, or green before
// the first release.
func liveOr(s platform.Slot) platform.Slot {
	if s.Valid() {
		return s
	}
	return platform.Green
}

// mayWrite reports whether sluice may write the object name: it does not exist or
// sluice created it for the service.
func (r *Router) mayWrite(ctx context.Context, gvr schema.GroupVersionResource, name, svc string) (bool, error) {
	u, err := r.client(gvr).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %s %s: %w", gvr.Resource, name, err)
	}
	return r.owned(u, svc), nil
}

// owned reports whether sluice created u for the service.
func (r *Router) owned(u *unstructured.Unstructured, svc string) bool {
	return kube.Owned(u, svc, FieldManager)
}

// write writes what plan decided, in the order that lets each object's references
// resolve: subsets and Gateway before the VirtualService that uses them.
func (r *Router) write(ctx context.Context, rt traffic.Route, p plan) error {
	svc := rt.Service.Service
	if r.opts.split() == SplitSubset {
		if err := r.writeSubsets(ctx, svc, p.subsets); err != nil {
			return err
		}
	}
	if p.ownGateway {
		if err := kube.ApplyOwned(ctx, r.client(gatewayGVR), r.gateway(p.gateway, svc, rt), svc, FieldManager); err != nil {
			return err
		}
	}
	if p.adopted {
		return r.adopt(ctx, svc, rt.Port, p.weights)
	}
	vs := r.virtualService(svc, rt, p.gateway, p.weights)
	if err := validateVirtualService(vs, r.host(svc), r.wantSubsets()); err != nil {
		return err
	}
	return kube.ApplyOwned(ctx, r.client(virtualServiceGVR), vs, svc, FieldManager)
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

// Release deletes the VirtualService, the DestinationRule and the Gateway sluice
// created for the service. What sluice did not create stays: an adopted
// VirtualService keeps its routes (the adopted one still sends everything to the live
// slot) and loses only sluice's weight keys; a user's DestinationRule loses only the
// subsets sluice added to it.
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
		if err := r.split.ForgetKeys(ctx, r.opts.VirtualService); err != nil {
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
		if err := kube.DeleteOwned(ctx, r.client(virtualServiceGVR), svc, svc, FieldManager); err != nil {
			return err
		}
	}
	if err := r.releaseSubsets(ctx, svc); err != nil {
		return err
	}
	for _, g := range gateways {
		if g == "mesh" || strings.Contains(g, "/") {
			continue
		}
		if err := kube.DeleteOwned(ctx, r.client(gatewayGVR), g, svc, FieldManager); err != nil {
			return err
		}
	}
	return nil
}
