package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// cluster is the test control plane of scripts/kube.sh.
type cluster struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

// testCluster connects to SLUICE_TEST_KUBECONFIG; without it the test skips, or
// fails under CI=true.
func testCluster(t *testing.T) *cluster {
	t.Helper()
	path := os.Getenv("SLUICE_TEST_KUBECONFIG")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(`SLUICE_TEST_KUBECONFIG is not set under CI=true: start a control plane with eval "$(scripts/kube.sh start)"`)
		}
		t.Skip(`SLUICE_TEST_KUBECONFIG is not set: start a control plane with eval "$(scripts/kube.sh start)"`)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

// apply writes every object with server-side apply, in order, and returns what the
// API server stored. Every kind must be served: scripts/kube.sh installs
// prometheus-operator's ServiceMonitor CRD, so the chart's ServiceMonitor is applied
// and validated like the rest.
func (c *cluster) apply(ctx context.Context, t *testing.T, ns string, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, o := range objs {
		res, err := c.resource(o, ns)
		if meta.IsNoMatchError(err) {
			t.Fatalf("the control plane does not serve %s for %s/%s: is its CRD installed (scripts/kube.sh installs Istio's, the Gateway API's and prometheus-operator's ServiceMonitor)? %v",
				o.GroupVersionKind(), o.GetKind(), o.GetName(), err)
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		got, err := res.Patch(ctx, o.GetName(), types.ApplyPatchType, b, metav1.PatchOptions{FieldManager: "sluice-deploy-test", Force: ptr(true)})
		if err != nil {
			t.Fatalf("apply %s/%s: %v", o.GetKind(), o.GetName(), err)
		}
		out = append(out, got)
	}
	return out
}

// resource is the client of o's kind, in its namespace or ns.
func (c *cluster) resource(o *unstructured.Unstructured, ns string) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return c.dyn.Resource(m.Resource), nil
	}
	if o.GetNamespace() == "" {
		o.SetNamespace(ns)
	}
	return c.dyn.Resource(m.Resource).Namespace(o.GetNamespace()), nil
}

// cleanup deletes the namespaces and cluster roles a test made.
func (c *cluster) cleanup(t *testing.T, namespaces, clusterRoles []string) {
	t.Cleanup(func() {
		ctx := context.Background()
		for _, n := range namespaces {
			c.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Delete(ctx, n, metav1.DeleteOptions{}) //nolint:errcheck // best effort
		}
		for _, n := range clusterRoles {
			c.dyn.Resource(schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}).Delete(ctx, n, metav1.DeleteOptions{}) //nolint:errcheck // best effort
		}
	})
}

func ptr[T any](v T) *T { return &v }

func namespaceObject(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
}

// TestChartAppliesServerSide applies the rendered chart, with PostgreSQL, TLS, a
// ServiceMonitor and one application namespace, to the test control plane.
func TestChartAppliesServerSide(t *testing.T) {
	c := testCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1e8)
	ns, app := "sluice-chart-"+suffix, "shop-chart-"+suffix
	vals := postgresValues()
	vals["namespaces"] = []any{app}
	objs, err := render(ns, vals)
	if err != nil {
		t.Fatal(err)
	}
	// A release named after the test keeps the cluster-wide ClusterRole apart from others'.
	for _, o := range objs {
		rename(o, "sluice-deployer", "sluice-"+suffix+"-deployer")
	}
	c.cleanup(t, []string{ns, app}, []string{"sluice-" + suffix + "-deployer"})
	c.apply(ctx, t, "", []*unstructured.Unstructured{namespaceObject(ns), namespaceObject(app)})
	got := c.apply(ctx, t, ns, objs)
	checkStored(t, got, objs)
}

// TestPlainManifestsApplyServerSide applies deploy/*.yaml to the test control plane,
// with their namespaces and ClusterRole renamed so that the test owns them.
func TestPlainManifestsApplyServerSide(t *testing.T) {
	c := testCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1e8)
	ns, app, role := "sluice-plain-"+suffix, "shop-plain-"+suffix, "sluice-deployer-"+suffix
	objs := manifests(t, "sluice.yaml", "rbac.yaml", "app-namespace.yaml", "servicemonitor.yaml")
	for _, o := range objs {
		relocate(o, map[string]string{"sluice-system": ns, "shop": app})
		rename(o, "sluice-deployer", role)
	}
	c.cleanup(t, []string{ns, app}, []string{role})
	c.apply(ctx, t, "", []*unstructured.Unstructured{namespaceObject(app)})
	got := c.apply(ctx, t, ns, objs)
	checkStored(t, got, objs)
}

// checkStored asserts the API server kept the Deployment's pod template as written.
func checkStored(t *testing.T, got, sent []*unstructured.Unstructured) {
	t.Helper()
	want := deployment(t, find(t, sent, "Deployment", "sluice")).Spec.Template.Spec.Containers[0]
	stored := deployment(t, find(t, got, "Deployment", "sluice")).Spec.Template.Spec.Containers[0]
	if !slices.Equal(stored.Args, want.Args) || len(stored.Env) != len(want.Env) {
		t.Errorf("stored container args %q env %+v, want %q %+v", stored.Args, stored.Env, want.Args, want.Env)
	}
	for _, k := range []string{"ServiceAccount", "Service", "ClusterRole", "RoleBinding"} {
		find(t, got, k, "")
	}
	checkServiceMonitor(t, find(t, got, "ServiceMonitor", "sluice"), find(t, sent, "ServiceMonitor", "sluice"))
}

// checkServiceMonitor asserts the API server (validating against prometheus-operator's
// CRD schema) kept the ServiceMonitor's selector and its /metrics endpoint as sent.
func checkServiceMonitor(t *testing.T, stored, sent *unstructured.Unstructured) {
	t.Helper()
	for _, path := range [][]string{{"spec", "selector"}, {"spec", "endpoints"}} {
		got, _, _ := unstructured.NestedFieldNoCopy(stored.Object, path...)
		want, _, _ := unstructured.NestedFieldNoCopy(sent.Object, path...)
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if want == nil || string(gb) != string(wb) {
			t.Errorf("stored ServiceMonitor %s = %s, want %s", strings.Join(path, "."), gb, wb)
		}
	}
}

// relocate moves an object (and a RoleBinding's subjects) between namespaces.
func relocate(o *unstructured.Unstructured, to map[string]string) {
	if n, ok := to[o.GetNamespace()]; ok {
		o.SetNamespace(n)
	}
	if o.GetKind() == "Namespace" {
		if n, ok := to[o.GetName()]; ok {
			o.SetName(n)
		}
	}
	subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
	for _, s := range subjects {
		m := s.(map[string]any)
		if n, ok := to[fmt.Sprint(m["namespace"])]; ok {
			m["namespace"] = n
		}
	}
	if subjects != nil {
		unstructured.SetNestedSlice(o.Object, subjects, "subjects") //nolint:errcheck // the slice came from there
	}
}

// rename gives a ClusterRole, and the roleRefs naming it, a name of the test's.
func rename(o *unstructured.Unstructured, from, to string) {
	if o.GetKind() == "ClusterRole" && o.GetName() == from {
		o.SetName(to)
	}
	if name, _, _ := unstructured.NestedString(o.Object, "roleRef", "name"); name == from {
		unstructured.SetNestedField(o.Object, to, "roleRef", "name") //nolint:errcheck // roleRef is a map
	}
}
