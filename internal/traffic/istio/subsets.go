package istio

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/internal/kube"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
)

// subsetPlan is what Ensure writes to the service's DestinationRule (split: subset).
type subsetPlan struct {
	own bool            // sluice's own DestinationRule (or none yet): apply it whole
	add []platform.Slot // slots whose subsets to add to the user's DestinationRule
}

// wantSubsets returns the subset names sluice's destinations use: the slots' with
// split: subset, none with split: host.
func (r *Router) wantSubsets() []string {
	if r.opts.split() != SplitSubset {
		return nil
	}
	out := make([]string, 0, len(slots))
	for _, s := range slots {
		out = append(out, string(s))
	}
	return out
}

// planSubsets decides how the slots' subsets come to be in the DestinationRule named
// after the service: sluice writes the whole object when it created it (or none
// exists); in a user's, it adds the slot subsets that are missing and refuses a
// subset of a slot's name that selects other pods, as changing it would rewrite the
// user's entry.
func (r *Router) planSubsets(ctx context.Context, svc string) (subsetPlan, error) {
	u, err := r.client(destinationRuleGVR).Get(ctx, svc, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return subsetPlan{own: true}, nil
	}
	if err != nil {
		return subsetPlan{}, fmt.Errorf("get destination rule %s: %w", svc, err)
	}
	if r.owned(u, svc) {
		return subsetPlan{own: true}, nil
	}
	add, err := missingSubsets(u)
	return subsetPlan{add: add}, err
}

// missingSubsets returns the slots without a subset in a user's DestinationRule, and
// an error for a subset of a slot's name that selects other pods than the slot's.
func missingSubsets(u *unstructured.Unstructured) ([]platform.Slot, error) {
	list, _, _ := unstructured.NestedSlice(u.Object, "spec", "subsets")
	var add []platform.Slot
	for _, s := range slots {
		i := subsetIndex(list, string(s))
		if i < 0 {
			add = append(add, s)
			continue
		}
		m, _ := list[i].(map[string]any)
		labels, _ := m["labels"].(map[string]any)
		want := slotSubset(s)["labels"].(map[string]any)
		if !maps.Equal(labels, want) {
			return nil, fmt.Errorf("destination rule %s: subset %q selects %v, not %s=%s; rename it, or use split: host",
				u.GetName(), s, labels, kubernetes.LabelSlot, s)
		}
	}
	return add, nil
}

func subsetIndex(list []any, name string) int {
	return slices.IndexFunc(list, func(e any) bool {
		m, _ := e.(map[string]any)
		return m["name"] == name
	})
}

// writeSubsets writes what planSubsets decided: sluice's own DestinationRule, or the
// missing slot subsets appended to the user's, recorded in AnnotationSubsets so that
// Release removes those entries only.
func (r *Router) writeSubsets(ctx context.Context, svc string, p subsetPlan) error {
	if p.own {
		return kube.ApplyOwned(ctx, r.client(destinationRuleGVR), r.destinationRule(svc), svc, FieldManager)
	}
	if len(p.add) == 0 {
		return nil
	}
	_, err := kube.Patch(ctx, r.client(destinationRuleGVR), svc, FieldManager, func(u *unstructured.Unstructured) ([]kube.Op, error) {
		add, err := missingSubsets(u)
		if err != nil || len(add) == 0 {
			return nil, err
		}
		return addSubsetOps(u, add), nil
	})
	if err != nil {
		return fmt.Errorf("add subsets to destination rule %s: %w", svc, err)
	}
	return nil
}

func addSubsetOps(u *unstructured.Unstructured, add []platform.Slot) []kube.Op {
	recorded := kube.SplitKeys(u.GetAnnotations()[AnnotationSubsets])
	var ops []kube.Op
	if _, found, _ := unstructured.NestedSlice(u.Object, "spec", "subsets"); !found {
		ops = append(ops, kube.Add(kube.Pointer("spec", "subsets"), []any{}))
	}
	for _, s := range add {
		ops = append(ops, kube.Add(kube.Pointer("spec", "subsets", "-"), slotSubset(s)))
		if !slices.Contains(recorded, string(s)) {
			recorded = append(recorded, string(s))
		}
	}
	return append(ops, kube.SetAnnotation(u, AnnotationSubsets, strings.Join(recorded, "\n"))...)
}

// releaseSubsets deletes sluice's own DestinationRule, or removes from a user's only
// the subsets sluice added (AnnotationSubsets), each guarded by a test of its name.
func (r *Router) releaseSubsets(ctx context.Context, svc string) error {
	u, err := r.client(destinationRuleGVR).Get(ctx, svc, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get destination rule %s: %w", svc, err)
	}
	if r.owned(u, svc) {
		return kube.DeleteOwned(ctx, r.client(destinationRuleGVR), svc, svc, FieldManager)
	}
	_, err = kube.Patch(ctx, r.client(destinationRuleGVR), svc, FieldManager, removeSubsetOps)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove subsets from destination rule %s: %w", svc, err)
	}
	return nil
}

func removeSubsetOps(u *unstructured.Unstructured) ([]kube.Op, error) {
	added := kube.SplitKeys(u.GetAnnotations()[AnnotationSubsets])
	if len(added) == 0 {
		return nil, nil
	}
	list, _, _ := unstructured.NestedSlice(u.Object, "spec", "subsets")
	var ops []kube.Op
	for i := len(list) - 1; i >= 0; i-- { // from the end, so indexes stay valid
		m, _ := list[i].(map[string]any)
		if name, _ := m["name"].(string); slices.Contains(added, name) {
			ops = append(ops, kube.Test(kube.Pointer("spec", "subsets", i, "name"), name), kube.Remove(kube.Pointer("spec", "subsets", i)))
		}
	}
	return append(ops, kube.RemoveAnnotation(u, AnnotationSubsets)...), nil
}

// subsets returns the subset names of the service's DestinationRule (split: subset),
// for checking the destinations sluice writes; nil with split: host.
func (r *Router) subsets(ctx context.Context, svc string) ([]string, error) {
	if r.opts.split() != SplitSubset {
		return nil, nil
	}
	u, err := r.client(destinationRuleGVR).Get(ctx, svc, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("destination rule %s: %w", svc, ErrNotEnsured)
	}
	if err != nil {
		return nil, err
	}
	list, _, _ := unstructured.NestedSlice(u.Object, "spec", "subsets")
	var out []string
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if name, ok := m["name"].(string); ok {
				out = append(out, name)
			}
		}
	}
	return out, nil
}
