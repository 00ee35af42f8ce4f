package istio

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/internal/kube"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/traffic"
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
	_, entry, err := r.findRoute(u)
	if err != nil {
		return traffic.Weights{}, err
	}
	return r.weightsOf(entry, svc)
}

// SetWeights writes the split into the VirtualService's route, retrying on conflicts,
// and reads it back. The write is a JSON patch of that route's destinations only.
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
	written, err := r.patchRoute(ctx, svc, subsets, func(u *unstructured.Unstructured, entry map[string]any) ([]any, []kube.Op) {
		if kube.HasKey(u.GetAnnotations()[AnnotationWeightKeys], key) {
			return nil, nil
		}
		var keyOps []kube.Op
		if key != "" {
			keyOps = kube.SetAnnotation(u, AnnotationWeightKeys, kube.WithKey(u.GetAnnotations()[AnnotationWeightKeys], key))
		}
		return r.withWeights(entry, svc, w), keyOps
	})
	if err != nil || written == nil {
		return err
	}
	return r.verify(ctx, svc, written, w)
}

// routeFunc returns the new destinations of the route entry sluice owns in u (nil for
// no change) and any other operations to send with them.
type routeFunc func(u *unstructured.Unstructured, entry map[string]any) ([]any, []kube.Op)

// patchRoute changes the destinations of the route whose weights sluice owns, and
// nothing else of it, with a JSON patch guarded by the resourceVersion read and by a
// test of the route's name. VirtualService's route lists are atomic in the Istio
// CRD's schema, so the write makes sluice the field manager of spec.http (or tcp,
// tls); the patch still changes only the one route's destinations.
func (r *Router) patchRoute(ctx context.Context, svc string, subsets []string, fn routeFunc) (*unstructured.Unstructured, error) {
	name := r.vsName(svc)
	out, err := kube.Patch(ctx, r.client(virtualServiceGVR), name, FieldManager, func(u *unstructured.Unstructured) ([]kube.Op, error) {
		i, entry, err := r.findRoute(u)
		if err != nil {
			return nil, err
		}
		dests, extra := fn(u, entry)
		if dests == nil && len(extra) == 0 {
			return nil, nil
		}
		if dests == nil {
			return extra, nil
		}
		where := fmt.Sprintf("spec.%s[%d]", r.opts.protocol(), i)
		if err := validateRoute(where, dests, r.host(svc), subsets); err != nil {
			return nil, fmt.Errorf("virtual service %s: %w", name, err)
		}
		ops := []kube.Op{}
		if n, ok := entry["name"].(string); ok {
			ops = append(ops, kube.Test(kube.Pointer("spec", r.opts.protocol(), i, "name"), n))
		}
		ops = append(ops, kube.Add(kube.Pointer("spec", r.opts.protocol(), i, "route"), dests))
		return append(ops, extra...), nil
	})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("virtual service %s: %w", name, ErrNotEnsured)
	}
	return out, err
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
	_, entry, err := r.findRoute(u)
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

// errNotAdoptable says a VirtualService lacks the adoption annotation.
var errNotAdoptable = errors.New("not marked for adoption (annotation " + AnnotationAdopt + `: "true")`)

// checkAdoptable reads the VirtualService to adopt and reports why it cannot be:
// missing, without the adoption annotation, or without the route.
func (r *Router) checkAdoptable(ctx context.Context) error {
	name := r.opts.VirtualService
	u, err := r.client(virtualServiceGVR).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("virtual service %s to adopt: %w", name, ErrNotEnsured)
	}
	if err != nil {
		return fmt.Errorf("get virtual service %s: %w", name, err)
	}
	if !kube.Adoptable(u) {
		return fmt.Errorf("virtual service %s: %w", name, errNotAdoptable)
	}
	_, _, err = r.findRoute(u)
	return err
}

// adopt makes the adopted VirtualService's route send to the two slots, keeping a
// split already in force and otherwise sending everything to w's slot. Only that
// route's destinations change.
func (r *Router) adopt(ctx context.Context, svc string, port int, w traffic.Weights) error {
	subsets, err := r.subsets(ctx, svc)
	if err != nil {
		return err
	}
	_, err = r.patchRoute(ctx, svc, subsets, func(u *unstructured.Unstructured, entry map[string]any) ([]any, []kube.Op) {
		if !kube.Adoptable(u) {
			return nil, nil // the annotation went since checkAdoptable: leave the object alone
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

// unadopt forgets the adopted VirtualService's weight keys; its routes stay as they
// are, so the live slot keeps its traffic.
func (r *Router) unadopt(ctx context.Context) error {
	_, err := kube.Patch(ctx, r.client(virtualServiceGVR), r.opts.VirtualService, FieldManager, func(u *unstructured.Unstructured) ([]kube.Op, error) {
		return kube.RemoveAnnotation(u, AnnotationWeightKeys), nil
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
