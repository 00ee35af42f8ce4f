package release

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRD creates the Release CustomResourceDefinition from its manifest (the
// file deploy/crds/releases.sluice.dev.yaml) unless it exists, and waits until the
// API server serves it. Installers apply the manifest (or the Helm chart's copy)
// themselves; tests use this.
func InstallCRD(ctx context.Context, dc dynamic.Interface, manifest []byte) error {
	var obj unstructured.Unstructured
	if err := yaml.Unmarshal(manifest, &obj.Object); err != nil {
		return fmt.Errorf("release: CRD manifest: %w", err)
	}
	_, err := dc.Resource(crdGVR).Create(ctx, &obj, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("release: create CRD: %w", err)
	}
	for {
		got, err := dc.Resource(crdGVR).Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err == nil && established(got) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("release: CRD %s not established: %w", obj.GetName(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// established reports whether a CRD's Established condition is True.
func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
