package gatewayapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/sluicehq/sluice/internal/kube"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/kuberoute"
)

// FieldManager is the server-side apply field manager of what Ensure writes.
const FieldManager = "sluice"

// AnnotationWeightKeys holds the most recent idempotency keys of SetWeights.
const AnnotationWeightKeys = "sluice.dev/weight-keys"

var httpRouteGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// ErrNotEnsured is returned for a service whose HTTPRoute does not exist.
var ErrNotEnsured = errors.New("http route not found (Ensure first)")

// Options configures a Router.
type Options struct {
	// Namespace holds the HTTPRoutes and the slots' Services; "default" when empty.
	Namespace string
	// Gateway is the Gateway the routes attach to, as "name" or "namespace/name".
	Gateway string
	// Hostnames are the route's hostnames, used when the route names none.
	Hostnames []string
	// HTTPRoute, when set, names a user-owned HTTPRoute to adopt instead of
	// generating one; it must carry the annotation sluice.dev/adopt: "true".
	HTTPRoute string
	// Rule names the rule of the adopted HTTPRoute whose backendRefs sluice sets;
	// required with HTTPRoute.
	Rule string
	// Log receives what the router does; discarded when nil.
	Log *slog.Logger
}

// Router splits traffic with an HTTPRoute's backendRef weights.
type Router struct {
	dyn   dynamic.Interface
	opts  Options
	log   *slog.Logger
	split *kuberoute.Writer // reads and writes the HTTPRoute's split
}

var _ traffic.Router = (*Router)(nil)

// New returns a router that talks to the API server of cfg. It makes no request.
func New(cfg *rest.Config, opts Options) (*Router, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("gatewayapi: client: %w", err)
	}
	return NewForClient(dyn, opts)
}

// NewForClient returns a router over an existing dynamic client.
func NewForClient(dyn dynamic.Interface, opts Options) (*Router, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Gateway == "" && opts.HTTPRoute == "" {
		return nil, errors.New("gatewayapi: a gateway to attach routes to is required")
	}
	if opts.HTTPRoute != "" && opts.Rule == "" {
		return nil, fmt.Errorf("gatewayapi: adopting http route %s: the rule whose backendRefs sluice sets is required", opts.HTTPRoute)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Router{dyn: dyn, opts: opts, log: log}
	r.split = &kuberoute.Writer{
		Router:         "gatewayapi",
		Kind:           "http route",
		Resource:       r.client,
		Routes:         rules{r},
		FieldManager:   FieldManager,
		KeysAnnotation: AnnotationWeightKeys,
		ErrNotEnsured:  ErrNotEnsured,
		Log:            log,
	}
	return r, nil
}

func (r *Router) client() dynamic.ResourceInterface {
	return r.dyn.Resource(httpRouteGVR).Namespace(r.opts.Namespace)
}

// Ensure writes the service's HTTPRoute, keeping the split in force.
func (r *Router) Ensure(ctx context.Context, rt traffic.Route) error {
	if err := r.ensure(ctx, rt); err != nil {
		return fmt.Errorf("gatewayapi: ensure %s: %w", rt.Service.Service, err)
	}
	return nil
}

func (r *Router) ensure(ctx context.Context, rt traffic.Route) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rt.Port <= 0 {
		return fmt.Errorf("port %d: a backend port is required", rt.Port)
	}
	if err := checkRouting(rt); err != nil {
		return err
	}
	if len(rt.Hosts) == 0 {
		rt.Hosts = r.opts.Hostnames
	}
	for _, h := range rt.Hosts {
		if msgs := validation.IsDNS1123Subdomain(strings.TrimPrefix(h, "*.")); len(msgs) > 0 {
			return fmt.Errorf("hostname %q: %s", h, strings.Join(msgs, "; "))
		}
	}
	svc := rt.Service.Service
	w := traffic.All(platform.Green)
	if rt.Live.Valid() {
		w = traffic.All(rt.Live)
	}
	if r.opts.HTTPRoute != "" {
		return r.adopt(ctx, svc, int64(rt.Port), w)
	}
	w, err := r.split.Current(ctx, svc, w, "httpRoute: "+svc+", rule: NAME")
	if err != nil {
		return err
	}
	return kube.ApplyOwned(ctx, r.client(), r.httpRoute(svc, rt, w), svc, FieldManager)
}

// httpRoute is the generated HTTPRoute carrying the split w.
func (r *Router) httpRoute(svc string, rt traffic.Route, w traffic.Weights) *unstructured.Unstructured {
	parent := map[string]any{"name": r.opts.Gateway}
	if ns, name, ok := strings.Cut(r.opts.Gateway, "/"); ok {
		parent = map[string]any{"name": name, "namespace": ns}
	}
	rules := []any{map[string]any{"backendRefs": backendRefs(svc, int64(rt.Port), w)}}
	if len(rt.Match) > 0 {
		rules = append(rules, matchRule(svc, rt))
	}
	spec := map[string]any{"parentRefs": []any{parent}, "rules": rules}
	if len(rt.Hosts) > 0 {
		hosts := make([]any, 0, len(rt.Hosts))
		for _, h := range rt.Hosts {
			hosts = append(hosts, h)
		}
		spec["hostnames"] = hosts
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1",
		"kind":       "HTTPRoute",
		"metadata":   map[string]any{"name": svc, "namespace": r.opts.Namespace},
		"spec":       spec,
	}}
	u.SetLabels(map[string]string{kubernetes.LabelService: svc, kubernetes.LabelManagedBy: "sluice"})
	kube.MarkOwned(u, svc)
	return u
}

// ErrRouting is wrapped by Ensure for routing the Gateway API cannot express.
var ErrRouting = errors.New("routing not supported")

// checkRouting refuses cookie rules (an HTTPRoute matches paths, headers, query
// parameters and methods; a regular expression on the Cookie header is only
// implementation-specific) and sticky sessions (HTTPRoute has none; session
// persistence is still experimental).
func checkRouting(rt traffic.Route) error {
	if err := rt.ValidateMatch(); err != nil {
		return err
	}
	if rt.Sticky {
		return fmt.Errorf("sticky sessions: %w by the gatewayapi router (use the builtin router)", ErrRouting)
	}
	for _, m := range rt.Match {
		if m.Cookie != "" {
			return fmt.Errorf("cookie rule %s: %w: the Gateway API cannot match cookies; match a header instead", m, ErrRouting)
		}
	}
	return nil
}

// matchRule sends requests that carry any of the route's headers to the match slot's
// Service. Order does not matter: the Gateway API gives a rule with header matches
// precedence over one without (both match every path).
func matchRule(svc string, rt traffic.Route) map[string]any {
	var matches []any
	for _, m := range rt.Match {
		matches = append(matches, map[string]any{"headers": []any{
			map[string]any{"type": "Exact", "name": m.Header, "value": m.Value},
		}})
	}
	name := kubernetes.SlotName(platform.SlotRef{Service: svc, Slot: rt.MatchSlot})
	return map[string]any{
		"matches":     matches,
		"backendRefs": []any{map[string]any{"name": name, "port": int64(rt.Port)}},
	}
}

func backendRefs(svc string, port int64, w traffic.Weights) []any {
	var out []any
	for _, s := range []platform.Slot{platform.Green, platform.Blue} {
		name := kubernetes.SlotName(platform.SlotRef{Service: svc, Slot: s})
		out = append(out, map[string]any{"name": name, "port": port, "weight": int64(w.Of(s))})
	}
	return out
}

// Release deletes the HTTPRoute sluice created for the service. An adopted HTTPRoute
// stays as it is (its rule still sends everything to the live slot) and loses only
// sluice's weight keys; a route sluice did not create is never deleted.
func (r *Router) Release(ctx context.Context, svc traffic.ServiceRef) error {
	if err := r.release(ctx, svc.Service); err != nil {
		return fmt.Errorf("gatewayapi: release %s: %w", svc.Service, err)
	}
	return nil
}

func (r *Router) release(ctx context.Context, svc string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.opts.HTTPRoute == "" {
		return kube.DeleteOwned(ctx, r.client(), svc, svc, FieldManager)
	}
	return r.split.ForgetKeys(ctx, r.opts.HTTPRoute)
}

// Objects returns the HTTPRoute Ensure writes for rt when none exists yet, with the
// split w. It exists for golden-file tests and for reviewing what sluice writes.
func Objects(opts Options, rt traffic.Route, w traffic.Weights) ([]*unstructured.Unstructured, error) {
	r, err := NewForClient(nil, opts)
	if err != nil {
		return nil, err
	}
	if len(rt.Hosts) == 0 {
		rt.Hosts = r.opts.Hostnames
	}
	return []*unstructured.Unstructured{r.httpRoute(rt.Service.Service, rt, w)}, nil
}
