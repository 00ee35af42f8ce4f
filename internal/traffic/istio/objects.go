package istio

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sluicehq/sluice/internal/kube"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/traffic"
)

// The Istio resources the router writes.
var (
	gatewayGVR         = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
	destinationRuleGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
	virtualServiceGVR  = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
)

const (
	apiVersion = "networking.istio.io/v1"
	// AnnotationAdopt marks a user-owned VirtualService that sluice may adopt.
	AnnotationAdopt = kube.AnnotationAdopt
	// AnnotationSubsets lists, one a line, the subsets sluice added to a
	// DestinationRule it did not create (split: subset); Release removes those only.
	AnnotationSubsets = "sluice.dev/subsets"
	// AnnotationWeightKeys holds the most recent idempotency keys of SetWeights.
	AnnotationWeightKeys = "sluice.dev/weight-keys"
	// DefaultRoute is the name of the route in a generated VirtualService.
	DefaultRoute = "sluice"
	// MatchRouteSuffix ends the name of the route that carries the match rules, in
	// front of the weighted route: "sluice-match".
	MatchRouteSuffix = "-match"
	// ingressSelector picks Istio's default ingress gateway pods.
	ingressSelector = "ingressgateway"
)

// slots lists the two slots in the order their destinations are written.
var slots = []platform.Slot{platform.Green, platform.Blue}

// newObject returns an object sluice creates for the service svc: with its labels
// and the owner marker that makes it sluice's.
func newObject(kind, name, svc, namespace string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec":       spec,
	}}
	u.SetLabels(map[string]string{kubernetes.LabelService: svc, kubernetes.LabelManagedBy: "sluice"})
	kube.MarkOwned(u, svc)
	return u
}

// slotSubset is the DestinationRule subset of one slot (split: subset).
func slotSubset(s platform.Slot) map[string]any {
	return map[string]any{"name": string(s), "labels": map[string]any{kubernetes.LabelSlot: string(s)}}
}

// destinationRule has one subset per slot of the service's stable Service; it is
// written only with split: subset.
func (r *Router) destinationRule(svc string) *unstructured.Unstructured {
	var subsets []any
	for _, s := range slots {
		subsets = append(subsets, slotSubset(s))
	}
	return newObject("DestinationRule", svc, svc, r.opts.Namespace, map[string]any{
		"host":    r.host(svc),
		"subsets": subsets,
	})
}

// gateway exposes the route's hosts on Istio's ingress gateway.
func (r *Router) gateway(name, svc string, rt traffic.Route) *unstructured.Unstructured {
	hosts := make([]any, 0, len(rt.Hosts))
	for _, h := range rt.Hosts {
		hosts = append(hosts, h)
	}
	port := map[string]any{"number": int64(80), "name": "http", "protocol": "HTTP"}
	server := map[string]any{"port": port, "hosts": hosts}
	switch r.opts.protocol() {
	case ProtocolTCP:
		port["number"], port["name"], port["protocol"] = int64(rt.Port), "tcp", "TCP"
	case ProtocolTLS:
		port["number"], port["name"], port["protocol"] = int64(443), "tls", "TLS"
		server["tls"] = map[string]any{"mode": "PASSTHROUGH"}
	}
	return newObject("Gateway", name, svc, r.opts.Namespace, map[string]any{
		"selector": map[string]any{"istio": ingressSelector},
		"servers":  []any{server},
	})
}

// destination is the route destination of one slot: its own Service (split: host) or
// its subset of the stable Service (split: subset).
func (r *Router) destination(svc string, s platform.Slot, port int) map[string]any {
	dest := map[string]any{"host": r.slotHost(svc, s)}
	if r.opts.split() == SplitSubset {
		dest = map[string]any{"host": r.host(svc), "subset": string(s)}
	}
	if port > 0 {
		dest["port"] = map[string]any{"number": int64(port)}
	}
	return dest
}

// destinations is the weighted route to the two slots.
func (r *Router) destinations(svc string, port int, w traffic.Weights) []any {
	var out []any
	for _, s := range slots {
		out = append(out, map[string]any{"destination": r.destination(svc, s, port), "weight": int64(w.Of(s))})
	}
	return out
}

// virtualService is the generated VirtualService carrying the split w.
func (r *Router) virtualService(svc string, rt traffic.Route, gateway string, w traffic.Weights) *unstructured.Unstructured {
	hosts := []any{r.host(svc)}
	for _, h := range rt.Hosts {
		hosts = append(hosts, h)
	}
	route := map[string]any{"route": r.destinations(svc, rt.Port, w)}
	routes := []any{route}
	switch r.opts.protocol() {
	case ProtocolHTTP:
		route["name"] = r.opts.route()
		if len(rt.Match) > 0 {
			routes = []any{r.matchRoute(svc, rt), route}
		}
	case ProtocolTLS:
		sni := make([]any, 0, len(rt.Hosts))
		for _, h := range rt.Hosts {
			sni = append(sni, h)
		}
		route["match"] = []any{map[string]any{"sniHosts": sni}}
	}
	spec := map[string]any{"hosts": hosts, r.opts.protocol(): routes}
	if gateway != "" {
		spec["gateways"] = []any{gateway, "mesh"}
	}
	return newObject("VirtualService", svc, svc, r.opts.Namespace, spec)
}

// matchRoute sends requests that match any of the route's rules to the match slot's
// subset; it comes before the weighted route, so Istio tries it first. Header names
// are written in lower case, as istiod requires; a cookie is matched with a regular
// expression on the Cookie header, as Istio has no cookie match of its own.
func (r *Router) matchRoute(svc string, rt traffic.Route) map[string]any {
	var match []any
	for _, m := range rt.Match {
		name, value := strings.ToLower(m.Header), map[string]any{"exact": m.Value}
		if m.Cookie != "" {
			name, value = "cookie", map[string]any{"regex": cookieRegex(m.Cookie, m.Value)}
		}
		match = append(match, map[string]any{"headers": map[string]any{name: value}})
	}
	return map[string]any{
		"name":  r.opts.route() + MatchRouteSuffix,
		"match": match,
		"route": []any{map[string]any{"destination": r.destination(svc, rt.MatchSlot, rt.Port)}},
	}
}

// cookieRegex matches a Cookie header that holds the cookie name=value among others.
func cookieRegex(name, value string) string {
	return "^(.*;\\s*)?" + regexp.QuoteMeta(name) + "=" + regexp.QuoteMeta(value) + "(\\s*;.*)?$"
}

// host is the fully qualified name of the service's stable Service.
func (r *Router) host(svc string) string { return r.fqdn(svc) }

// slotHost is the fully qualified name of one slot's Service, <service>-<slot>,
// which the Kubernetes platform writes with the slot's Deployment.
func (r *Router) slotHost(svc string, s platform.Slot) string {
	return r.fqdn(r.slotName(svc, s))
}

func (r *Router) fqdn(name string) string {
	return fmt.Sprintf("%s.%s.svc.%s", name, r.opts.Namespace, r.opts.clusterDomain())
}

// names reports whether host, as written in a route, names the Kubernetes Service
// name of the router's namespace: short, namespaced or fully qualified.
func (r *Router) names(host, name string) bool {
	ns := name + "." + r.opts.Namespace
	return host == name || host == ns || host == ns+".svc" || host == r.fqdn(name)
}

// Objects returns what Ensure writes for rt when no VirtualService exists yet, with the
// split w: the DestinationRule (only with split: subset), the Gateway (only with
// hosts) and the VirtualService.
// It exists for golden-file tests and for reviewing what sluice writes.
func Objects(opts Options, rt traffic.Route, w traffic.Weights) ([]*unstructured.Unstructured, error) {
	r, err := NewForClient(nil, opts)
	if err != nil {
		return nil, err
	}
	svc := rt.Service.Service
	if len(rt.Hosts) == 0 {
		rt.Hosts = r.opts.Hosts
	}
	var out []*unstructured.Unstructured
	if r.opts.split() == SplitSubset {
		out = append(out, r.destinationRule(svc))
	}
	gateway := ""
	if len(rt.Hosts) > 0 {
		gateway = r.gatewayName(svc)
		out = append(out, r.gateway(gateway, svc, rt))
	}
	return append(out, r.virtualService(svc, rt, gateway, w)), nil
}
