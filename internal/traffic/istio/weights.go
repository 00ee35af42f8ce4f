package istio

import (
	"context"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/internal/kube"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/kuberoute"
)

// Weights reads the split from the VirtualService stored by the API server.
func (r *Router) Weights(ctx context.Context, svc traffic.ServiceRef) (traffic.Weights, error) {
	return r.split.Weights(ctx, r.vsName(svc.Service), svc.Service)
}

// SetWeights writes the split into the VirtualService's route, retrying on conflicts,
// and reads it back. The write is a JSON patch of that route's destinations only,
// checked first against the DestinationRule's subsets.
func (r *Router) SetWeights(ctx context.Context, svc traffic.ServiceRef, w traffic.Weights, key string) error {
	return r.split.SetWeights(ctx, r.vsName(svc.Service), svc.Service, w, key, func(ctx context.Context) (kuberoute.Check, error) {
		return r.routeCheck(ctx, svc.Service)
	})
}

// routeCheck returns the check of a route's new destinations that istiod's webhook
// would make: weights, and subsets that exist in the DestinationRule.
func (r *Router) routeCheck(ctx context.Context, svc string) (kuberoute.Check, error) {
	subsets, err := r.subsets(ctx, svc)
	if err != nil {
		return nil, err
	}
	return func(e kuberoute.Entry, dests []any) error {
		return validateRoute(e.Where(), dests, r.host(svc), subsets)
	}, nil
}

// routes is the router's part of the weight-writing skeleton: the VirtualService
// route that carries the split, and its destinations.
type routes struct{ r *Router }

func (rs routes) Entry(u *unstructured.Unstructured, _ string) (kuberoute.Entry, error) {
	i, entry, err := rs.r.findRoute(u)
	if err != nil {
		return kuberoute.Entry{}, err
	}
	return kuberoute.Entry{Path: []any{"spec", rs.r.opts.protocol(), i}, Field: "route", Value: entry}, nil
}

func (rs routes) Weights(e kuberoute.Entry, svc string) (traffic.Weights, error) {
	return rs.r.weightsOf(e.Value, svc)
}

func (rs routes) WithWeights(e kuberoute.Entry, svc string, w traffic.Weights) []any {
	return rs.r.withWeights(e.Value, svc, w)
}

// findRoute returns the index and entry of the route whose weights sluice owns: the
// http route of the configured name, or the first tcp or tls route.
func (r *Router) findRoute(u *unstructured.Unstructured) (int, map[string]any, error) {
	proto := r.opts.protocol()
	list, _, err := unstructured.NestedSlice(u.Object, "spec", proto)
	if err != nil {
		return 0, nil, fmt.Errorf("virtual service %s: spec.%s: %w", u.GetName(), proto, err)
	}
	for i, e := range list {
		entry, ok := e.(map[string]any)
		if ok && (proto != ProtocolHTTP || entry["name"] == r.opts.route()) {
			return i, entry, nil
		}
	}
	if proto == ProtocolHTTP {
		return 0, nil, fmt.Errorf("virtual service %s has no http route named %q", u.GetName(), r.opts.route())
	}
	return 0, nil, fmt.Errorf("virtual service %s has no %s route", u.GetName(), proto)
}

// slotOf says which slot a route destination sends to: a slot's Service, or a slot's
// subset of the stable Service (either split is read, so a route written with the
// other one still reads right).
func (r *Router) slotOf(d any, svc string) (platform.Slot, bool) {
	subset, _, host := destination(d)
	for _, s := range slots {
		if subset == "" && r.names(host, r.slotName(svc, s)) || subset == string(s) && r.names(host, svc) {
			return s, true
		}
	}
	return "", false
}

func (r *Router) slotName(svc string, s platform.Slot) string {
	return kubernetes.SlotName(platform.SlotRef{Service: svc, Slot: s})
}

// weightsOf reads the split of a route entry from its destinations to the slots.
func (r *Router) weightsOf(entry map[string]any, svc string) (traffic.Weights, error) {
	dests, _ := entry["route"].([]any)
	var w traffic.Weights
	found := map[platform.Slot]bool{}
	for _, d := range dests {
		s, ok := r.slotOf(d, svc)
		if !ok {
			continue
		}
		_, weight, _ := destination(d)
		if s == platform.Blue {
			w.Blue = weight
		} else {
			w.Green = weight
		}
		found[s] = true
	}
	if len(found) == 0 {
		return w, fmt.Errorf("route has no destination to a slot of %s (%s or %s)", svc, r.slotName(svc, platform.Green), r.slotName(svc, platform.Blue))
	}
	if len(found) == 1 && len(dests) == 1 && w.Blue+w.Green == 0 { // a single destination without a weight takes everything
		if found[platform.Blue] {
			w.Blue = 100
		} else {
			w.Green = 100
		}
	}
	if err := w.Validate(); err != nil {
		return w, fmt.Errorf("stored split is invalid: %w", err)
	}
	return w, nil
}

func destination(d any) (subset string, weight int, host string) {
	m, _ := d.(map[string]any)
	dest, _ := m["destination"].(map[string]any)
	subset, _ = dest["subset"].(string)
	host, _ = dest["host"].(string)
	switch v := m["weight"].(type) {
	case int64:
		weight = int(v)
	case float64:
		weight = int(v)
	}
	return subset, weight, host
}

// withWeights returns the route entry's destinations with the split w: one
// destination per slot, in the router's split, with the port of the slot
// destinations already there; destinations to anything else are kept, at weight 0.
func (r *Router) withWeights(entry map[string]any, svc string, w traffic.Weights) []any {
	dests, _ := entry["route"].([]any)
	port := int64(0)
	for _, d := range dests {
		m, _ := d.(map[string]any)
		dest, _ := m["destination"].(map[string]any)
		if p, ok := dest["port"].(map[string]any); ok {
			port, _ = p["number"].(int64)
		}
	}
	out := r.destinations(svc, int(port), w)
	for _, d := range dests {
		if _, ok := r.slotOf(d, svc); ok {
			continue
		}
		kept := map[string]any{}
		for k, v := range d.(map[string]any) {
			kept[k] = v
		}
		kept["weight"] = int64(0)
		out = append(out, kept)
	}
	return out
}

// adopt makes the adopted VirtualService's route send to the two slots, keeping a
// split already in force and otherwise sending everything to w's slot. Only that
// route's destinations change.
func (r *Router) adopt(ctx context.Context, svc string, port int, w traffic.Weights) error {
	check, err := r.routeCheck(ctx, svc)
	if err != nil {
		return err
	}
	_, err = r.split.Patch(ctx, r.vsName(svc), svc, check, func(u *unstructured.Unstructured, e kuberoute.Entry) ([]any, []kube.Op) {
		entry := e.Value
		if !kube.Adoptable(u) {
			return nil, nil // the annotation went since CheckAdoptable: leave the object alone
		}
		cur, err := r.weightsOf(entry, svc)
		if err == nil {
			w = cur
		}
		dests := r.withWeights(entry, svc, w)
		if port > 0 && err != nil {
			dests = append(r.destinations(svc, port, w), dests[len(slots):]...)
		}
		if reflect.DeepEqual(dests, entry["route"]) {
			return nil, nil
		}
		return dests, nil
	})
	return err
}
