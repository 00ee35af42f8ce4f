package kube_test

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/internal/kube"
)

func TestKeys(t *testing.T) {
	list := ""
	for i := range kube.KeepKeys + 3 {
		list = kube.WithKey(list, fmt.Sprintf("k%d", i))
	}
	keys := kube.SplitKeys(list)
	if len(keys) != kube.KeepKeys || keys[0] != "k3" || keys[len(keys)-1] != fmt.Sprintf("k%d", kube.KeepKeys+2) {
		t.Fatalf("keys = %v, want the last %d", keys, kube.KeepKeys)
	}
	tests := []struct {
		key  string
		want bool
	}{{"k3", true}, {"k0", false}, {"", false}}
	for _, tc := range tests {
		if got := kube.HasKey(list, tc.key); got != tc.want {
			t.Errorf("HasKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
	if kube.SplitKeys("") != nil {
		t.Error("SplitKeys of an empty list is not empty")
	}
}

func TestPointer(t *testing.T) {
	tests := []struct {
		segments []any
		want     string
	}{
		{[]any{"spec", "http", 2, "route"}, "/spec/http/2/route"},
		{[]any{"metadata", "annotations", "sluice.dev/weight-keys"}, "/metadata/annotations/sluice.dev~1weight-keys"},
		{[]any{"a~b"}, "/a~0b"},
		{[]any{"spec", "subsets", "-"}, "/spec/subsets/-"},
	}
	for _, tc := range tests {
		if got := kube.Pointer(tc.segments...); got != tc.want {
			t.Errorf("Pointer(%v) = %q, want %q", tc.segments, got, tc.want)
		}
	}
}

func TestOwned(t *testing.T) {
	managed := func(names ...string) []metav1.ManagedFieldsEntry {
		var out []metav1.ManagedFieldsEntry
		for _, n := range names {
			out = append(out, metav1.ManagedFieldsEntry{Manager: n})
		}
		return out
	}
	tests := []struct {
		name        string
		annotations map[string]string
		labels      map[string]string
		managers    []string
		want        bool
	}{
		{"marker", map[string]string{kube.AnnotationOwner: "shop"}, nil, []string{"sluice", "team"}, true},
		{"marker of another service", map[string]string{kube.AnnotationOwner: "cart"}, map[string]string{"sluice.dev/service": "shop"}, []string{"sluice"}, false},
		{"labels only sluice wrote (before the marker)", nil, map[string]string{"sluice.dev/service": "shop"}, []string{"sluice"}, true},
		{"labels on a team's object", nil, map[string]string{"sluice.dev/service": "shop"}, []string{"team", "sluice"}, false},
		{"nothing", nil, nil, []string{"sluice"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{}}
			u.SetAnnotations(tc.annotations)
			u.SetLabels(tc.labels)
			u.SetManagedFields(managed(tc.managers...))
			if got := kube.Owned(u, "shop", "sluice"); got != tc.want {
				t.Errorf("Owned = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAnnotationOps(t *testing.T) {
	bare := &unstructured.Unstructured{Object: map[string]any{}}
	if ops := kube.SetAnnotation(bare, "k", "v"); len(ops) != 1 || ops[0].Path != "/metadata/annotations" {
		t.Errorf("SetAnnotation without annotations = %+v, want one add of the map", ops)
	}
	if ops := kube.RemoveAnnotation(bare, "k"); ops != nil {
		t.Errorf("RemoveAnnotation of a missing key = %+v, want none", ops)
	}
	with := &unstructured.Unstructured{Object: map[string]any{}}
	with.SetAnnotations(map[string]string{"k": "old"})
	if ops := kube.SetAnnotation(with, "k", "v"); len(ops) != 1 || ops[0].Path != "/metadata/annotations/k" || ops[0].Value != "v" {
		t.Errorf("SetAnnotation = %+v", ops)
	}
	if ops := kube.RemoveAnnotation(with, "k"); len(ops) != 1 || ops[0].Op != "remove" {
		t.Errorf("RemoveAnnotation = %+v", ops)
	}
}
