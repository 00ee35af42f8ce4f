package gatewayapi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/traffic"
)

// Conflict retries: a write that loses a resourceVersion race is tried again after a
// jittered, growing pause, at most maxAttempts times.
const (
	maxAttempts  = 50
	firstBackoff = 5 * time.Millisecond
	maxBackoff   = 200 * time.Millisecond
	keepKeys     = 16
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
	u, err := r.client().Get(ctx, svc, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return traffic.Weights{}, ErrNotEnsured
	}
	if err != nil {
		return traffic.Weights{}, err
	}
	refs, err := findRefs(u, svc)
	if err != nil {
		return traffic.Weights{}, err
	}
	return weightsOf(refs, svc)
}

// SetWeights writes the split into the route's backendRefs, retrying on conflicts, and
// reads it back.
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
	written, err := r.modify(ctx, svc, func(u *unstructured.Unstructured) (bool, error) {
		keys := u.GetAnnotations()[AnnotationWeightKeys]
		if key != "" && slices.Contains(splitKeys(keys), key) {
			return false, nil
		}
		refs, err := findRefs(u, svc)
		if err != nil {
			return false, err
		}
		for _, ref := range refs {
			m := ref.(map[string]any)
			if slot, ok := slotOf(m, svc); ok {
				m["weight"] = int64(w.Of(slot))
			}
		}
		if key != "" {
			a := u.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			a[AnnotationWeightKeys] = withKey(keys, key)
			u.SetAnnotations(a)
		}
		return true, nil
	})
	if err != nil || written == nil {
		return err
	}
	return r.verify(ctx, svc, written, w)
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
	refs, err := findRefs(u, svc)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	got, err := weightsOf(refs, svc)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if got != w {
		return fmt.Errorf("read back %s after writing %s", got, w)
	}
	return nil
}

// modify gets the route, lets fn change it and updates it guarded by its
// resourceVersion, retrying on conflicts. It returns the stored object, or nil when fn
// reported no change.
func (r *Router) modify(ctx context.Context, name string, fn func(u *unstructured.Unstructured) (bool, error)) (*unstructured.Unstructured, error) {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		u, err := r.client().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("http route %s: %w", name, ErrNotEnsured)
		}
		if err != nil {
			return nil, err
		}
		changed, err := fn(u)
		if err != nil || !changed {
			return nil, err
		}
		out, err := r.client().Update(ctx, u, metav1.UpdateOptions{FieldManager: FieldManager})
		if err == nil {
			return out, nil
		}
		if !apierrors.IsConflict(err) || attempt >= maxAttempts {
			return nil, fmt.Errorf("update http route %s (attempt %d): %w", name, attempt, err)
		}
		pause := backoff/2 + rand.N(backoff)
		backoff = min(2*backoff, maxBackoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// findRefs returns the backendRefs of the first rule without header matches that
// refers to a slot's Service (a rule with header matches carries A/B rules, not the
// split); the maps are the route's own, so changes to them are written by an update.
func findRefs(u *unstructured.Unstructured, svc string) ([]any, error) {
	spec, _ := u.Object["spec"].(map[string]any)
	rules, _ := spec["rules"].([]any)
	for _, rule := range rules {
		m, _ := rule.(map[string]any)
		if matchesHeaders(m) {
			continue
		}
		refs, _ := m["backendRefs"].([]any)
		for _, ref := range refs {
			if rm, ok := ref.(map[string]any); ok {
				if _, ok := slotOf(rm, svc); ok {
					return refs, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("http route %s has no rule with a backendRef to %s-green or %s-blue", u.GetName(), svc, svc)
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
func slotOf(ref map[string]any, svc string) (platform.Slot, bool) {
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
		m, _ := ref.(map[string]any)
		slot, ok := slotOf(m, svc)
		if !ok {
			continue
		}
		weight := int64(1) // the Gateway API default
		if v, ok := m["weight"].(int64); ok {
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

func withKey(list, key string) string {
	keys := append(splitKeys(list), key)
	if len(keys) > keepKeys {
		keys = keys[len(keys)-keepKeys:]
	}
	return strings.Join(keys, "\n")
}

func splitKeys(list string) []string {
	if list == "" {
		return nil
	}
	return strings.Split(list, "\n")
}
