package kube_test

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/sluicehq/sluice/internal/kube"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
)

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// configMapsIn returns the ConfigMaps of a new namespace on the test control plane.
func configMapsIn(t *testing.T) (dynamic.ResourceInterface, context.Context) {
	t.Helper()
	cfg := kubetest.Config(t)
	ns := kubetest.Namespace(t, kubetest.Clientset(t, cfg), "sluice-kube-")
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return dyn.Resource(configMaps).Namespace(ns), ctx
}

func configMap(name string, data map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name},
		"data":     data,
	}}
}

// TestPatchRecomputesAfterALostRace checks that a patch computed from an object
// someone else changed before it arrived is not applied over their change, but
// computed again from the new object.
func TestPatchRecomputesAfterALostRace(t *testing.T) {
	ri, ctx := configMapsIn(t)
	if _, err := ri.Create(ctx, configMap("c", map[string]any{"team": "1"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	out, err := kube.Patch(ctx, ri, "c", "sluice", func(u *unstructured.Unstructured) ([]kube.Op, error) {
		calls++
		if calls == 1 { // the team writes after sluice read
			theirs := u.DeepCopy()
			theirs.Object["data"] = map[string]any{"team": "2"}
			if _, err := ri.Update(ctx, theirs, metav1.UpdateOptions{FieldManager: "team"}); err != nil {
				t.Fatal(err)
			}
		}
		seen, _, _ := unstructured.NestedString(u.Object, "data", "team")
		return []kube.Op{kube.Add(kube.Pointer("data", "seen"), seen)}, nil
	})
	if err != nil {
		t.Fatalf("Patch: %v", err)
	}
	data, _, _ := unstructured.NestedStringMap(out.Object, "data")
	if calls != 2 || data["team"] != "2" || data["seen"] != "2" {
		t.Fatalf("after %d calls data = %v, want the team's write kept and the patch computed from it", calls, data)
	}
}

func TestPatchReportsAnInvalidPatchOnce(t *testing.T) {
	ri, ctx := configMapsIn(t)
	if _, err := ri.Create(ctx, configMap("c", map[string]any{"a": "1"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	_, err := kube.Patch(ctx, ri, "c", "sluice", func(*unstructured.Unstructured) ([]kube.Op, error) {
		calls++
		return []kube.Op{kube.Test(kube.Pointer("data", "a"), "2")}, nil
	})
	if err == nil || calls != 1 {
		t.Fatalf("a failing test on an unchanged object: %v after %d calls, want one error", err, calls)
	}
	if _, err := kube.Patch(ctx, ri, "missing", "sluice", nil); !apierrors.IsNotFound(err) {
		t.Fatalf("Patch of a missing object: %v, want not found", err)
	}
	stop := errors.New("stop")
	if _, err := kube.Patch(ctx, ri, "c", "sluice", func(*unstructured.Unstructured) ([]kube.Op, error) { return nil, stop }); !errors.Is(err, stop) {
		t.Fatalf("Patch with a failing fn: %v", err)
	}
}

// TestApplyOwned checks that sluice creates its object with the owner marker, applies
// it again, and leaves an object of the same name it did not create untouched, even
// one carrying its labels; DeleteOwned deletes only its own.
func TestApplyOwned(t *testing.T) {
	ri, ctx := configMapsIn(t)
	if err := kube.ApplyOwned(ctx, ri, configMap("mine", map[string]any{"v": "1"}), "shop", "sluice"); err != nil {
		t.Fatal(err)
	}
	if err := kube.ApplyOwned(ctx, ri, configMap("mine", map[string]any{"v": "2"}), "shop", "sluice"); err != nil {
		t.Fatal(err)
	}
	mine, err := ri.Get(ctx, "mine", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := unstructured.NestedString(mine.Object, "data", "v"); v != "2" || mine.GetAnnotations()[kube.AnnotationOwner] != "shop" {
		t.Fatalf("sluice's object = %v", mine.Object)
	}
	theirs := configMap("theirs", map[string]any{"v": "team"})
	theirs.SetLabels(map[string]string{"sluice.dev/service": "shop"})
	stored, err := ri.Create(ctx, theirs, metav1.CreateOptions{FieldManager: "team"})
	if err != nil {
		t.Fatal(err)
	}
	if err := kube.ApplyOwned(ctx, ri, configMap("theirs", map[string]any{"v": "sluice"}), "shop", "sluice"); !errors.Is(err, kube.ErrNotOwned) {
		t.Fatalf("ApplyOwned over the team's object: %v, want ErrNotOwned", err)
	}
	for _, name := range []string{"mine", "theirs"} {
		if err := kube.DeleteOwned(ctx, ri, name, "shop", "sluice"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ri.Get(ctx, "mine", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("sluice's object after DeleteOwned: %v, want deleted", err)
	}
	now, err := ri.Get(ctx, "theirs", metav1.GetOptions{})
	if err != nil || now.GetResourceVersion() != stored.GetResourceVersion() {
		t.Errorf("the team's object after ApplyOwned and DeleteOwned: %v (resourceVersion changed: %v)", err, err == nil)
	}
}
