package istio

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/internal/platform"
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

// Weights reads the split from the VirtualService stored by the API server.
func (r *Router) Weights(ctx context.Context, svc traffic.ServiceRef) (traffic.Weights, error) {
	if err := ctx.Err(); err != nil {
		return traffic.Weights{}, fmt.Errorf("istio: weights %s: %w", svc.Service, err)
	}
	w, err := r.read(ctx, svc.Service)
	if err != nil {
		return traffic.Weights{}, fmt.Errorf("istio: weights %s: %w", svc.Service, err)
	}
	return w, nil
}

func (r *Router) read(ctx context.Context, svc string) (traffic.Weights, error) {
	u, err := r.client(virtualServiceGVR).Get(ctx, r.vsName(svc), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return traffic.Weights{}, ErrNotEnsured
	}
	if err != nil {
		return traffic.Weights{}, err
	}
	entry, err := r.findRoute(u)
	if err != nil {
		return traffic.Weights{}, err
	}
	return r.weightsOf(entry, svc)
}

// SetWeights writes the split into the VirtualService's route, retrying on conflicts,
// and reads it back.
func (r *Router) SetWeights(ctx context.Context, svc traffic.ServiceRef, w traffic.Weights, key string) error {
	if err := r.setWeights(ctx, svc.Service, w, key); err != nil {
		return fmt.Errorf("istio: set weights %s %s: %w", svc.Service, w, err)
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
	subsets, err := r.subsets(ctx, svc)
	if err != nil {
		return err
	}
	written, err := r.modify(ctx, r.vsName(svc), func(u *unstructured.Unstructured) (bool, error) {
		if key != "" && slices.Contains(splitKeys(u.GetAnnotations()[AnnotationWeightKeys]), key) {
			return false, nil
		}
		entry, err := r.findRoute(u)
		if err != nil {
			return false, err
		}
		r.setWeightsIn(entry, svc, w)
		if key != "" {
			setAnnotation(u, AnnotationWeightKeys, withKey(u.GetAnnotations()[AnnotationWeightKeys], key))
		}
		return true, validateVirtualService(u, r.host(svc), subsets)
	})
	if err != nil || written == nil {
		return err
	}
	return r.verify(ctx, svc, written, w)
}

// verify reads the VirtualService back: unless another writer changed it since, it
// must hold exactly the split written.
func (r *Router) verify(ctx context.Context, svc string, written *unstructured.Unstructured, w traffic.Weights) error {
	u, err := r.client(virtualServiceGVR).Get(ctx, written.GetName(), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if u.GetResourceVersion() != written.GetResourceVersion() {
		r.log.Info("weights changed again after this write", "service", svc, "written", w.String())
		return nil
	}
	entry, err := r.findRoute(u)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	got, err := r.weightsOf(entry, svc)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if got != w {
		return fmt.Errorf("read back %s after writing %s", got, w)
	}
	return nil
}

// modify gets an object, lets fn change it and updates it guarded by its
// resourceVersion, retrying on conflicts. It returns the stored object, or nil when fn
// reported no change.
func (r *Router) modify(ctx context.Context, name string, fn func(u *unstructured.Unstructured) (bool, error)) (*unstructured.Unstructured, error) {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		u, err := r.client(virtualServiceGVR).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("virtual service %s: %w", name, ErrNotEnsured)
		}
		if err != nil {
			return nil, err
		}
		changed, err := fn(u)
		if err != nil || !changed {
			return nil, err
		}
		out, err := r.client(virtualServiceGVR).Update(ctx, u, metav1.UpdateOptions{FieldManager: FieldManager})
		if err == nil {
			return out, nil
		}
		if !apierrors.IsConflict(err) || attempt >= maxAttempts {
			return nil, fmt.Errorf("update virtual service %s (attempt %d): %w", name, attempt, err)
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

// subsets returns the subset names of the service's DestinationRule.
func (r *Router) subsets(ctx context.Context, svc string) ([]string, error) {
	u, err := r.client(destinationRuleGVR).Get(ctx, svc, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("destination rule %s: %w", svc, ErrNotEnsured)
	}
	if err != nil {
		return nil, err
	}
	list, _, err := unstructured.NestedSlice(u.Object, "spec", "subsets")
	if err != nil {
		return nil, fmt.Errorf("destination rule %s: %w", svc, err)
	}
	var out []string
	for _, s := range list {
		if m, ok := s.(map[string]any); ok {
			if name, ok := m["name"].(string); ok {
				out = append(out, name)
			}
		}
	}
	return out, nil
}

// findRoute returns the route entry whose weights sluice owns: the http route of the
// configured name, or the first tcp or tls route.
func (r *Router) findRoute(u *unstructured.Unstructured) (map[string]any, error) {
	proto := r.opts.protocol()
	list, _, err := unstructured.NestedSlice(u.Object, "spec", proto)
	if err != nil {
		return nil, fmt.Errorf("virtual service %s: spec.%s: %w", u.GetName(), proto, err)
	}
	for i, e := range list {
		entry, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if proto != ProtocolHTTP || entry["name"] == r.opts.route() {
			// NestedSlice copies; write the entry back in place so changes stick.
			spec := u.Object["spec"].(map[string]any)
			spec[proto].([]any)[i] = entry
			return entry, nil
		}
	}
	if proto == ProtocolHTTP {
		return nil, fmt.Errorf("virtual service %s has no http route named %q", u.GetName(), r.opts.route())
	}
	return nil, fmt.Errorf("virtual service %s has no %s route", u.GetName(), proto)
}

// weightsOf reads the split of a route entry from its destinations to the subsets.
func (r *Router) weightsOf(entry map[string]any, svc string) (traffic.Weights, error) {
	dests, _ := entry["route"].([]any)
	var w traffic.Weights
	found := 0
	for _, d := range dests {
		subset, weight, host := destination(d)
		if host != r.host(svc) && host != svc {
			continue
		}
		switch platform.Slot(subset) {
		case platform.Blue:
			w.Blue, found = weight, found+1
		case platform.Green:
			w.Green, found = weight, found+1
		}
	}
	if found == 1 && w.Blue+w.Green == 0 { // a single destination without a weight takes everything
		if hasSubset(dests, platform.Blue) {
			w.Blue = 100
		} else {
			w.Green = 100
		}
	}
	if found == 0 {
		return w, fmt.Errorf("route has no destination to the %s subsets of %s", strings.Join(subsetNames(), "/"), r.host(svc))
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

func hasSubset(dests []any, s platform.Slot) bool {
	return slices.ContainsFunc(dests, func(d any) bool { sub, _, _ := destination(d); return sub == string(s) })
}

// setWeightsIn sets the weight of each subset's destination, adding a missing one with
// the port of the other.
func (r *Router) setWeightsIn(entry map[string]any, svc string, w traffic.Weights) {
	dests, _ := entry["route"].([]any)
	port := int64(0)
	for _, d := range dests {
		m, _ := d.(map[string]any)
		dest, _ := m["destination"].(map[string]any)
		if p, ok := dest["port"].(map[string]any); ok {
			port, _ = p["number"].(int64)
		}
	}
	out := append([]any(nil), r.destinations(svc, int(port), w)...)
	for _, d := range dests { // keep destinations to anything else, at weight 0
		if sub, _, host := destination(d); (host == r.host(svc) || host == svc) && (sub == string(platform.Blue) || sub == string(platform.Green)) {
			continue
		}
		d.(map[string]any)["weight"] = int64(0)
		out = append(out, d)
	}
	entry["route"] = out
}

func setAnnotation(u *unstructured.Unstructured, k, v string) {
	a := u.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[k] = v
	u.SetAnnotations(a)
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

// errNotAdoptable says a VirtualService lacks the adoption annotation.
var errNotAdoptable = errors.New("not marked for adoption (annotation " + AnnotationAdopt + `: "true")`)

// adopt makes the adopted VirtualService's route point at the two subsets, keeping a
// split already in force.
func (r *Router) adopt(ctx context.Context, svc string, port int) error {
	subsets, err := r.subsets(ctx, svc)
	if err != nil {
		return err
	}
	_, err = r.modify(ctx, r.opts.VirtualService, func(u *unstructured.Unstructured) (bool, error) {
		if u.GetAnnotations()[AnnotationAdopt] != "true" {
			return false, fmt.Errorf("virtual service %s: %w", u.GetName(), errNotAdoptable)
		}
		entry, err := r.findRoute(u)
		if err != nil {
			return false, err
		}
		if _, err := r.weightsOf(entry, svc); err == nil {
			return false, nil // already routes to the subsets
		}
		entry["route"] = r.destinations(svc, port, traffic.All(platform.Green))
		return true, validateVirtualService(u, r.host(svc), subsets)
	})
	return err
}

// unadopt forgets the adopted VirtualService's weight keys; its routes stay as they are.
func (r *Router) unadopt(ctx context.Context) error {
	_, err := r.modify(ctx, r.opts.VirtualService, func(u *unstructured.Unstructured) (bool, error) {
		a := u.GetAnnotations()
		if _, ok := a[AnnotationWeightKeys]; !ok {
			return false, nil
		}
		delete(a, AnnotationWeightKeys)
		u.SetAnnotations(a)
		return true, nil
	})
	if errors.Is(err, ErrNotEnsured) {
		return nil
	}
	return err
}
