package istio

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

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
	AnnotationAdopt = "sluice.dev/adopt"
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

func newObject(kind, name, namespace string, labels map[string]string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec":       spec,
	}}
	u.SetLabels(labels)
	return u
}

func labels(svc string) map[string]string {
	return map[string]string{kubernetes.LabelService: svc, kubernetes.LabelManagedBy: "sluice"}
}

// destinationRule has one subset per slot of the service's stable Service.
func (r *Router) destinationRule(svc string) *unstructured.Unstructured {
	var subsets []any
	for _, s := range slots {
		subsets = append(subsets, map[string]any{
			"name":   string(s),
			"labels": map[string]any{kubernetes.LabelSlot: string(s)},
		})
	}
	return newObject("DestinationRule", svc, r.opts.Namespace, labels(svc), map[string]any{
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
	return newObject("Gateway", name, r.opts.Namespace, labels(svc), map[string]any{
		"selector": map[string]any{"istio": ingressSelector},
		"servers":  []any{server},
	})
}

// destinations is the weighted route to the two subsets.
func (r *Router) destinations(svc string, port int, w traffic.Weights) []any {
	var out []any
	for _, s := range slots {
		dest := map[string]any{"host": r.host(svc), "subset": string(s)}
		if port > 0 {
			dest["port"] = map[string]any{"number": int64(port)}
		}
		out = append(out, map[string]any{"destination": dest, "weight": int64(w.Of(s))})
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
	return newObject("VirtualService", svc, r.opts.Namespace, labels(svc), spec)
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
	dest := map[string]any{"host": r.host(svc), "subset": string(rt.MatchSlot)}
	if rt.Port > 0 {
		dest["port"] = map[string]any{"number": int64(rt.Port)}
	}
	return map[string]any{
		"name":  r.opts.route() + MatchRouteSuffix,
		"match": match,
		"route": []any{map[string]any{"destination": dest}},
	}
}

// cookieRegex matches a Cookie header that holds the cookie name=value among others.
func cookieRegex(name, value string) string {
	return "^(.*;\\s*)?" + regexp.QuoteMeta(name) + "=" + regexp.QuoteMeta(value) + "(\\s*;.*)?$"
}

// host is the fully qualified name of the service's stable Service.
func (r *Router) host(svc string) string {
	return fmt.Sprintf("%s.%s.svc.%s", svc, r.opts.Namespace, r.opts.clusterDomain())
}

// Objects returns what Ensure writes for rt when no VirtualService exists yet, with the
// split w: the DestinationRule, the Gateway (only with hosts) and the VirtualService.
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
	out := []*unstructured.Unstructured{r.destinationRule(svc)}
	gateway := ""
	if len(rt.Hosts) > 0 {
		gateway = r.gatewayName(svc)
		out = append(out, r.gateway(gateway, svc, rt))
	}
	return append(out, r.virtualService(svc, rt, gateway, w)), nil
}
