package gatewayapi

import (
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/internal/kube"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/traffic"
)

// Weights reads the split from the HTTPRoute stored by the API server.
func (r *Router) Weights(ctx context.Context, svc traffic.ServiceRef) (traffic.Weights, error) {
	if err := ctx.Err(); err != nil {
		return traffic.Weights{}, fmt.Errorf("gatewayapi: weights %s: %w", svc.Service, err)
	}
	w, err := r.read(ctx, svc.Service)
	if err != nil {
		return traffic.Weights{}, fmt.Errorf("gatewayapi: weights %s: %w", svc.Service, err)
	}
	return w, nil
}

func (r *Router) read(ctx context.Context, svc string) (traffic.Weights, error) {
	u, err := r.client().Get(ctx, r.routeName(svc), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return traffic.Weights{}, ErrNotEnsured
	}
	if err != nil {
		return traffic.Weights{}, err
	}
	return r.weightsIn(u, svc)
}

// routeName is the name of the service's HTTPRoute: the adopted one or the service's.
func (r *Router) routeName(svc string) string {
	if r.opts.HTTPRoute != "" {
		return r.opts.HTTPRoute
	}
	return svc
}

// weightsIn reads the split from the backendRefs of the route's weighted rule.
func (r *Router) weightsIn(u *unstructured.Unstructured, svc string) (traffic.Weights, error) {
	_, refs, err := r.findRule(u, svc)
	if err != nil {
		return traffic.Weights{}, err
	}
	return weightsOf(refs, svc)
}

// SetWeights writes the split into the route's backendRefs, retrying on conflicts, and
// reads it back. The write is a JSON patch of that rule's backendRefs only.
func (r *Router) SetWeights(ctx context.Context, svc traffic.ServiceRef, w traffic.Weights, key string) error {
	if err := r.setWeights(ctx, svc.Service, w, key); err != nil {
		return fmt.Errorf("gatewayapi: set weights %s %s: %w", svc.Service, w, err)
	}
	return nil
}

func (r *Router) setWeights(ctx context.Context, svc string, w traffic.Weights, key string) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	written, err := r.patchRule(ctx, svc, func(u *unstructured.Unstructured, refs []any) ([]any, []kube.Op) {
		keys := u.GetAnnotations()[AnnotationWeightKeys]
		if kube.HasKey(keys, key) {
			return nil, nil
		}
		var keyOps []kube.Op
		if key != "" {
			keyOps = kube.SetAnnotation(u, AnnotationWeightKeys, kube.WithKey(keys, key))
		}
		return withWeights(refs, svc, portOf(refs, svc), w), keyOps
	})
	if err != nil || written == nil {
		return err
	}
	return r.verify(ctx, svc, written, w)
}

// ruleFunc returns the new backendRefs of the rule sluice owns in u (nil for no
// change) and any other operations to send with them.
type ruleFunc func(u *unstructured.Unstructured, refs []any) ([]any, []kube.Op)

// patchRule changes the backendRefs of the rule whose weights sluice owns, and nothing
// else, with a JSON patch guarded by the resourceVersion read and, for a named rule,
// by a test of its name. HTTPRoute's rules are an atomic list in the Gateway API
// CRD's schema, so the write makes sluice the field manager of spec.rules; the patch
// still changes only the one rule's backendRefs.
func (r *Router) patchRule(ctx context.Context, svc string, fn ruleFunc) (*unstructured.Unstructured, error) {
	name := r.routeName(svc)
	out, err := kube.Patch(ctx, r.client(), name, FieldManager, func(u *unstructured.Unstructured) ([]kube.Op, error) {
		i, refs, err := r.findRule(u, svc)
		if err != nil {
			return nil, err
		}
		newRefs, extra := fn(u, refs)
		if newRefs == nil {
			return extra, nil
		}
		var ops []kube.Op
		rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
		if n, ok := rules[i].(map[string]any)["name"].(string); ok {
			ops = append(ops, kube.Test(kube.Pointer("spec", "rules", i, "name"), n))
		}
		ops = append(ops, kube.Add(kube.Pointer("spec", "rules", i, "backendRefs"), newRefs))
		return append(ops, extra...), nil
	})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("http route %s: %w", name, ErrNotEnsured)
	}
	return out, err
}

// verify reads the route back: unless another writer changed it since, it must hold
// exactly the split written.
func (r *Router) verify(ctx context.Context, svc string, written *unstructured.Unstructured, w traffic.Weights) error {
	u, err := r.client().Get(ctx, written.GetName(), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if u.GetResourceVersion() != written.GetResourceVersion() {
		r.log.Info("weights changed again after this write", "service", svc, "written", w.String())
		return nil
	}
	got, err := r.weightsIn(u, svc)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if got != w {
		return fmt.Errorf("read back %s after writing %s", got, w)
	}
	return nil
}

// findRule returns the index and backendRefs of the rule whose weights sluice owns:
// the rule named in Options.Rule, or else the first rule without header matches that
// refers to a slot's Service (a rule with header matches carries A/B rules, not the
// split).
func (r *Router) findRule(u *unstructured.Unstructured, svc string) (int, []any, error) {
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for i, rule := range rules {
		m, _ := rule.(map[string]any)
		refs, _ := m["backendRefs"].([]any)
		if r.opts.Rule != "" {
			if m["name"] == r.opts.Rule {
				return i, refs, nil
			}
			continue
		}
		if !matchesHeaders(m) && slices.ContainsFunc(refs, func(ref any) bool { _, ok := slotOf(ref, svc); return ok }) {
			return i, refs, nil
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

// errNotAdoptable says an HTTPRoute lacks the adoption annotation.
var errNotAdoptable = errors.New("not marked for adoption (annotation " + kube.AnnotationAdopt + `: "true")`)

// adopt makes the adopted HTTPRoute's rule send to the two slots' Services, keeping a
// split already in force and otherwise sending everything to w's slot. It checks the
// route before writing anything, and changes only that rule's backendRefs.
func (r *Router) adopt(ctx context.Context, svc string, port int64, w traffic.Weights) error {
	u, err := r.client().Get(ctx, r.opts.HTTPRoute, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("http route %s to adopt: %w", r.opts.HTTPRoute, ErrNotEnsured)
	}
	if err != nil {
		return fmt.Errorf("get http route %s: %w", r.opts.HTTPRoute, err)
	}
	if !kube.Adoptable(u) {
		return fmt.Errorf("http route %s: %w", r.opts.HTTPRoute, errNotAdoptable)
	}
	if _, _, err := r.findRule(u, svc); err != nil {
		return err
	}
	_, err = r.patchRule(ctx, svc, func(u *unstructured.Unstructured, refs []any) ([]any, []kube.Op) {
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
