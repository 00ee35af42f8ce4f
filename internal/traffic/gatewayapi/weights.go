package gatewayapi

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/internal/kube"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/kuberoute"
)

// Weights reads the split from the HTTPRoute stored by the API server.
func (r *Router) Weights(ctx context.Context, svc traffic.ServiceRef) (traffic.Weights, error) {
	return r.split.Weights(ctx, r.routeName(svc.Service), svc.Service)
}

// routeName is the name of the service's HTTPRoute: the adopted one or the service's.
func (r *Router) routeName(svc string) string {
	if r.opts.HTTPRoute != "" {
		return r.opts.HTTPRoute
	}
	return svc
}

// SetWeights writes the split into the route's backendRefs, retrying on conflicts, and
// reads it back. The write is a JSON patch of that rule's backendRefs only.
func (r *Router) SetWeights(ctx context.Context, svc traffic.ServiceRef, w traffic.Weights, key string) error {
	return r.split.SetWeights(ctx, r.routeName(svc.Service), svc.Service, w, key, nil)
}

// rules is the router's part of the weight-writing skeleton: the HTTPRoute rule that
// carries the split, and its backendRefs.
type rules struct{ r *Router }

func (rs rules) Entry(u *unstructured.Unstructured, svc string) (kuberoute.Entry, error) {
	i, rule, err := rs.r.findRule(u, svc)
	if err != nil {
		return kuberoute.Entry{}, err
	}
	return kuberoute.Entry{Path: []any{"spec", "rules", i}, Field: "backendRefs", Value: rule}, nil
}

func (rules) Weights(e kuberoute.Entry, svc string) (traffic.Weights, error) {
	return weightsOf(e.Destinations(), svc)
}

func (rules) WithWeights(e kuberoute.Entry, svc string, w traffic.Weights) []any {
	refs := e.Destinations()
	return withWeights(refs, svc, portOf(refs, svc), w)
}

// findRule returns the index and the rule whose weights sluice owns:
// the rule named in Options.Rule, or else the first rule without header matches that
// refers to a slot's Service (a rule with header matches carries A/B rules, not the
// split).
func (r *Router) findRule(u *unstructured.Unstructured, svc string) (int, map[string]any, error) {
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for i, rule := range rules {
		m, _ := rule.(map[string]any)
		refs, _ := m["backendRefs"].([]any)
		if r.opts.Rule != "" {
			if m["name"] == r.opts.Rule {
				return i, m, nil
			}
			continue
		}
		if !matchesHeaders(m) && slices.ContainsFunc(refs, func(ref any) bool { _, ok := slotOf(ref, svc); return ok }) {
			return i, m, nil
		}
	}
	if r.opts.Rule != "" {
		return 0, nil, fmt.Errorf("http route %s has no rule named %q", u.GetName(), r.opts.Rule)
	}
	return 0, nil, fmt.Errorf("http route %s has no rule with a backendRef to %s-green or %s-blue", u.GetName(), svc, svc)
}

// withWeights returns the rule's backendRefs with the split w: one per slot's Service
// on port; backendRefs to anything else are kept, at weight 0.
func withWeights(refs []any, svc string, port int64, w traffic.Weights) []any {
	out := backendRefs(svc, port, w)
	for _, ref := range refs {
		if _, ok := slotOf(ref, svc); ok {
			continue
		}
		kept := map[string]any{}
		for k, v := range ref.(map[string]any) {
			kept[k] = v
		}
		kept["weight"] = int64(0)
		out = append(out, kept)
	}
	return out
}

// portOf returns the port of the slots' backendRefs, 0 when there are none.
func portOf(refs []any, svc string) int64 {
	for _, ref := range refs {
		if _, ok := slotOf(ref, svc); ok {
			p, _ := ref.(map[string]any)["port"].(int64)
			return p
		}
	}
	return 0
}

// adopt makes the adopted HTTPRoute's rule send to the two slots' Services, keeping a
// split already in force and otherwise sending everything to w's slot. It checks the
// route before writing anything, and changes only that rule's backendRefs.
func (r *Router) adopt(ctx context.Context, svc string, port int64, w traffic.Weights) error {
	if err := r.split.CheckAdoptable(ctx, r.opts.HTTPRoute, svc); err != nil {
		return err
	}
	_, err := r.split.Patch(ctx, r.opts.HTTPRoute, svc, nil, func(u *unstructured.Unstructured, e kuberoute.Entry) ([]any, []kube.Op) {
		refs := e.Destinations()
		if _, err := weightsOf(refs, svc); err == nil || !kube.Adoptable(u) {
			return nil, nil
		}
		return withWeights(refs, svc, port, w), nil
	})
	return err
}

// matchesHeaders reports whether an HTTPRoute rule matches on request headers.
func matchesHeaders(rule map[string]any) bool {
	matches, _ := rule["matches"].([]any)
	for _, m := range matches {
		if mm, ok := m.(map[string]any); ok {
			if h, ok := mm["headers"].([]any); ok && len(h) > 0 {
				return true
			}
		}
	}
	return false
}

// slotOf says which slot's Service a backendRef names.
func slotOf(r any, svc string) (platform.Slot, bool) {
	ref, _ := r.(map[string]any)
	if kind, ok := ref["kind"].(string); ok && kind != "Service" {
		return "", false
	}
	name, _ := ref["name"].(string)
	for _, s := range []platform.Slot{platform.Green, platform.Blue} {
		if name == kubernetes.SlotName(platform.SlotRef{Service: svc, Slot: s}) {
			return s, true
		}
	}
	return "", false
}

func weightsOf(refs []any, svc string) (traffic.Weights, error) {
	var w traffic.Weights
	for _, ref := range refs {
		slot, ok := slotOf(ref, svc)
		if !ok {
			continue
		}
		weight := int64(1) // the Gateway API default
		if v, ok := ref.(map[string]any)["weight"].(int64); ok {
			weight = v
		}
		if slot == platform.Blue {
			w.Blue = int(weight)
		} else {
			w.Green = int(weight)
		}
	}
	if err := w.Validate(); err != nil {
		return w, fmt.Errorf("stored split is not in percent: %w", err)
	}
	return w, nil
}
