package kubernetes_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
)

// TestDeployManifests applies every object in deploy/ to the real API server as a
// server-side dry run (namespaced ones into a test namespace), so a field the schema
// does not know or a wrong kind fails here rather than in a user's cluster.
func TestDeployManifests(t *testing.T) {
	cfg := restConfig(t)
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(t, cs)
	dyn := kubetest.Dynamic(t, cfg)
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	files, err := filepath.Glob("../../../deploy/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, file := range files {
		if filepath.Base(file) == "servicemonitor.yaml" {
			// prometheus-operator's CRD is not on the test control plane; tools/deploy
			// renders and checks the ServiceMonitor instead.
			continue
		}
		for _, u := range readManifests(t, file) {
			t.Run(filepath.Base(file)+"/"+u.GetKind()+"/"+u.GetName(), func(t *testing.T) {
				gvk := u.GroupVersionKind()
				m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					t.Fatalf("the API server does not know %s: %v", gvk, err)
				}
				var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
				if m.Scope.Name() == "namespace" {
					u.SetNamespace(ns)
					ri = dyn.Resource(m.Resource).Namespace(ns)
				}
				body, err := u.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				force := true
				opts := metav1.PatchOptions{FieldManager: "sluice-test", Force: &force, DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}
				if _, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, opts); err != nil {
					t.Fatalf("dry-run apply: %v", err)
				}
			})
		}
	}
}

func readManifests(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s: %v", file, err)
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() != "Namespace" {
			out = append(out, u)
		}
	}
}
