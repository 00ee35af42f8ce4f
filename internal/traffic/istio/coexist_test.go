package istio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/istio"
)

// teamManager is the field manager the team's objects are applied under, as Argo CD
// applies them.
const teamManager = "argocd-controller"

var (
	drGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
	gwGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
)

// team applies the team's objects the way a GitOps sync does.
type team struct {
	t   *testing.T
	dyn dynamic.Interface
	ns  string
}

// apply server-side applies the object in path under the team's field manager,
// forcing (Argo CD's server-side apply takes every field in git back), with the adopt
// annotation when adopt is set. It returns the object the API server stored.
func (tm team) apply(ctx context.Context, gvr schema.GroupVersionResource, path string, adopt bool) *unstructured.Unstructured {
	tm.t.Helper()
	u := readObject(tm.t, path)
	u.SetNamespace(tm.ns)
	if adopt {
		a := u.GetAnnotations()
		a[istio.AnnotationAdopt] = "true"
		u.SetAnnotations(a)
	}
	out, err := tm.dyn.Resource(gvr).Namespace(tm.ns).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: teamManager, Force: true})
	if err != nil {
		tm.t.Fatalf("team applies %s: %v", path, err)
	}
	return out
}

func (tm team) get(ctx context.Context, gvr schema.GroupVersionResource, name string) *unstructured.Unstructured {
	tm.t.Helper()
	u, err := tm.dyn.Resource(gvr).Namespace(tm.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		tm.t.Fatalf("get %s %s: %v", gvr.Resource, name, err)
	}
	return u
}

func newTeam(t *testing.T) (team, context.Context) {
	cfg := restConfig(t)
	dyn := kubetest.Dynamic(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return team{t: t, dyn: dyn, ns: namespace(t, cfg)}, ctx
}

// TestCoexistence is issue 11's coexistence check: a team's VirtualService and
// DestinationRule, applied under the team's field manager, are unchanged through a
// refused adoption, a release, a promotion, a rollback, a forced re-apply of the
// team's objects and sluice's Release, except the adopted route's destinations and
// weights, compared field by field.
func TestCoexistence(t *testing.T) {
	tm, ctx := newTeam(t)
	vsPath, drPath := "testdata/team-virtualservice.yaml", "testdata/team-destinationrule.yaml"
	tm.apply(ctx, virtualServiceGVR(), vsPath, false)
	dr := tm.apply(ctx, drGVR, drPath, false)
	r, err := istio.New(restConfig(t), istio.Options{Namespace: tm.ns, VirtualService: "storefront", Route: "shop", Hosts: []string{"www.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	svc := traffic.ServiceRef{Service: "shop"}

	before := tm.get(ctx, virtualServiceGVR(), "storefront")
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}); err == nil || !strings.Contains(err.Error(), "adopt") {
		t.Fatalf("Ensure without the adopt annotation: %v, want a refusal", err)
	}
	tm.unchanged(ctx, virtualServiceGVR(), before)
	tm.unchanged(ctx, drGVR, dr)
	tm.noGateways(ctx, "after the refused adoption")

	vs := tm.apply(ctx, virtualServiceGVR(), vsPath, true) // the team adds the annotation in git
	steps := []struct {
		name string
		do   func() error
		want traffic.Weights
	}{
		{"ensure", func() error { return r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}) }, traffic.All(platform.Green)},
		{"canary 10%", func() error { return r.SetWeights(ctx, svc, traffic.Split(platform.Blue, 10), "1/canary") }, traffic.Split(platform.Blue, 10)},
		{"promotion", func() error { return r.SetWeights(ctx, svc, traffic.All(platform.Blue), "1/promote") }, traffic.All(platform.Blue)},
		{"next release", func() error {
			return r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080, Live: platform.Blue})
		}, traffic.All(platform.Blue)},
		{"canary 10% of green", func() error { return r.SetWeights(ctx, svc, traffic.Split(platform.Green, 10), "2/canary") }, traffic.Split(platform.Green, 10)},
		{"rollback", func() error { return r.SetWeights(ctx, svc, traffic.All(platform.Blue), "2/rollback") }, traffic.All(platform.Blue)},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		tm.onlyRouteChanged(ctx, vs, st.want, st.name)
		tm.unchanged(ctx, drGVR, dr)
		tm.sluiceOwnsOnlyTheRoutes(ctx, st.name)
	}

	vs = tm.apply(ctx, virtualServiceGVR(), vsPath, true) // a GitOps sync puts git's content back
	if w, err := r.Weights(ctx, svc); err == nil {
		t.Fatalf("Weights after the team's forced re-apply = %s, want an error (git's route has no slot destinations)", w)
	}
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080, Live: platform.Blue}); err != nil {
		t.Fatalf("Ensure after the forced re-apply: %v", err)
	}
	tm.onlyRouteChanged(ctx, vs, traffic.All(platform.Blue), "ensure after the forced re-apply")
	if err := r.SetWeights(ctx, svc, traffic.Split(platform.Green, 10), "3/canary"); err != nil {
		t.Fatal(err)
	}
	tm.onlyRouteChanged(ctx, vs, traffic.Split(platform.Green, 10), "canary after the forced re-apply")

	if err := r.Release(ctx, svc); err != nil {
		t.Fatalf("Release: %v", err)
	}
	got := tm.get(ctx, virtualServiceGVR(), "storefront")
	if want := teamAnnotations(vs); !maps.Equal(got.GetAnnotations(), want) {
		t.Errorf("annotations after Release = %v, want the team's %v", got.GetAnnotations(), want)
	}
	tm.onlyRouteChanged(ctx, vs, traffic.Split(platform.Green, 10), "after Release")
	tm.unchanged(ctx, drGVR, dr)
	tm.noGateways(ctx, "after Release")
}

func virtualServiceGVR() schema.GroupVersionResource { return vsGVR }

// unchanged fails unless the object was not written since want was read.
func (tm team) unchanged(ctx context.Context, gvr schema.GroupVersionResource, want *unstructured.Unstructured) {
	tm.t.Helper()
	got := tm.get(ctx, gvr, want.GetName())
	if got.GetResourceVersion() != want.GetResourceVersion() {
		tm.t.Errorf("%s %s was written (resourceVersion %s, was %s); differences: %v", gvr.Resource, want.GetName(),
			got.GetResourceVersion(), want.GetResourceVersion(), diff("", got.Object, want.Object))
	}
}

func (tm team) noGateways(ctx context.Context, when string) {
	tm.t.Helper()
	list, err := tm.dyn.Resource(gwGVR).Namespace(tm.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		tm.t.Fatal(err)
	}
	if len(list.Items) > 0 {
		tm.t.Errorf("%s: gateway %s exists", when, list.Items[0].GetName())
	}
}

// onlyRouteChanged compares the stored VirtualService with the team's, field by
// field: the only difference allowed is the destinations of the route "shop", which
// must send w to the slots' Services and keep the team's destination at weight 0,
// and sluice's weight-keys annotation.
func (tm team) onlyRouteChanged(ctx context.Context, team *unstructured.Unstructured, w traffic.Weights, when string) {
	tm.t.Helper()
	got := tm.get(ctx, virtualServiceGVR(), team.GetName())
	want := team.DeepCopy()
	http := want.Object["spec"].(map[string]any)["http"].([]any)
	shop := http[2].(map[string]any)
	slot := func(s platform.Slot) any {
		return map[string]any{"destination": map[string]any{
			"host": fmt.Sprintf("shop-%s.%s.svc.cluster.local", s, tm.ns),
			"port": map[string]any{"number": int64(8080)},
		}, "weight": int64(w.Of(s))}
	}
	stable := map[string]any{"destination": map[string]any{"host": "shop", "port": map[string]any{"number": int64(8080)}}, "weight": int64(0)}
	shop["route"] = []any{slot(platform.Green), slot(platform.Blue), stable}
	if d := diff("", got.Object["spec"], want.Object["spec"]); len(d) > 0 {
		tm.t.Errorf("%s: the team's virtual service differs in more than the adopted route's weights: %v", when, d)
	}
	gotA, wantA := teamAnnotations(got), teamAnnotations(team)
	if !maps.Equal(gotA, wantA) || !maps.Equal(got.GetLabels(), team.GetLabels()) {
		tm.t.Errorf("%s: metadata = %v %v, want the team's %v %v", when, got.GetLabels(), gotA, team.GetLabels(), wantA)
	}
}

// teamAnnotations returns u's annotations without sluice's weight keys (an object
// read back after the team's apply still has them: they are sluice's field).
func teamAnnotations(u *unstructured.Unstructured) map[string]string {
	a := u.GetAnnotations()
	delete(a, istio.AnnotationWeightKeys)
	return a
}

// sluiceOwnsOnlyTheRoutes checks what server-side apply records: sluice manages only
// the http list (an atomic list in Istio's CRD, so a write to one route manages the
// list) and its weight-keys annotation; the team's manager keeps everything else.
func (tm team) sluiceOwnsOnlyTheRoutes(ctx context.Context, when string) {
	tm.t.Helper()
	got := tm.get(ctx, virtualServiceGVR(), "storefront")
	owned := map[string][]string{}
	for _, e := range got.GetManagedFields() {
		owned[e.Manager] = append(owned[e.Manager], fieldPaths(tm.t, e.FieldsV1)...)
	}
	sluice := owned[istio.FieldManager]
	allowed := []string{"metadata.annotations." + istio.AnnotationWeightKeys, "spec.http"}
	if !slices.Contains(sluice, "spec.http") || slices.ContainsFunc(sluice, func(p string) bool { return !slices.Contains(allowed, p) }) {
		tm.t.Errorf("%s: sluice manages %v, want spec.http and at most its weight-keys annotation", when, sluice)
	}
	for _, want := range []string{"spec.hosts", "spec.gateways", "spec.tcp", "metadata.annotations.sluice.dev/adopt", "metadata.labels.team"} {
		if !slices.Contains(owned[teamManager], want) {
			tm.t.Errorf("%s: the team's manager lost %s (it manages %v)", when, want, owned[teamManager])
		}
	}
}

// fieldPaths lists the leaves of a managedFields entry as dotted paths.
func fieldPaths(t *testing.T, f *metav1.FieldsV1) []string {
	t.Helper()
	if f == nil {
		return nil
	}
	var tree map[string]any
	if err := json.Unmarshal(f.Raw, &tree); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if k == "." {
				continue
			}
			p := strings.TrimPrefix(prefix+"."+strings.TrimPrefix(k, "f:"), ".")
			child, _ := v.(map[string]any)
			if len(child) == 0 || len(child) == 1 && child["."] != nil {
				out = append(out, p)
				continue
			}
			walk(p, child)
		}
	}
	walk("", tree)
	sort.Strings(out)
	return out
}

// diff lists the paths at which got and want differ.
func diff(path string, got, want any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path}
		}
		var out []string
		for k := range mergeKeys(g, w) {
			out = append(out, diff(path+"."+k, g[k], w[k])...)
		}
		sort.Strings(out)
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s (%d entries, want %d)", path, len(g), len(w))}
		}
		var out []string
		for i := range w {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i])...)
		}
		return out
	default:
		if !reflect.DeepEqual(got, want) {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
		}
		return nil
	}
}

func mergeKeys(a, b map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// TestCoexistenceSubsets checks split: subset against a team's DestinationRule: sluice
// adds its two subsets and nothing else, Release takes out exactly those, and a team
// subset of a slot's name that selects other pods is refused before anything is
// written.
func TestCoexistenceSubsets(t *testing.T) {
	tm, ctx := newTeam(t)
	drPath := "testdata/team-destinationrule.yaml"
	dr := tm.apply(ctx, drGVR, drPath, false)
	r, err := istio.New(restConfig(t), istio.Options{Namespace: tm.ns, Split: istio.SplitSubset})
	if err != nil {
		t.Fatal(err)
	}
	svc := traffic.ServiceRef{Service: "shop"}
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	got := tm.get(ctx, drGVR, "shop")
	want := dr.DeepCopy()
	subsets := want.Object["spec"].(map[string]any)["subsets"].([]any)
	for _, s := range []string{"green", "blue"} {
		subsets = append(subsets, map[string]any{"name": s, "labels": map[string]any{"sluice.dev/slot": s}})
	}
	want.Object["spec"].(map[string]any)["subsets"] = subsets
	if d := diff("", got.Object["spec"], want.Object["spec"]); len(d) > 0 {
		t.Errorf("destination rule after Ensure differs in more than sluice's two subsets: %v", d)
	}
	if err := r.SetWeights(ctx, svc, traffic.Split(platform.Blue, 10), "w"); err != nil {
		t.Fatal(err)
	}
	if err := r.Release(ctx, svc); err != nil {
		t.Fatalf("Release: %v", err)
	}
	got = tm.get(ctx, drGVR, "shop")
	if d := diff("", got.Object["spec"], dr.Object["spec"]); len(d) > 0 {
		t.Errorf("destination rule after Release differs from the team's: %v", d)
	}
	if !maps.Equal(got.GetAnnotations(), dr.GetAnnotations()) || !maps.Equal(got.GetLabels(), dr.GetLabels()) {
		t.Errorf("destination rule metadata after Release: %v %v, want %v %v", got.GetLabels(), got.GetAnnotations(), dr.GetLabels(), dr.GetAnnotations())
	}
	if _, err := tm.dyn.Resource(vsGVR).Namespace(tm.ns).Get(ctx, "shop", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("sluice's own virtual service after Release: %v, want it deleted", err)
	}

	// A team subset named green that selects the team's own pods is theirs: refused.
	clash := readObject(t, drPath)
	clash.SetNamespace(tm.ns)
	clash.Object["spec"].(map[string]any)["subsets"] = []any{map[string]any{"name": "green", "labels": map[string]any{"version": "v1"}}}
	clashed, err := tm.dyn.Resource(drGVR).Namespace(tm.ns).Apply(ctx, "shop", clash, metav1.ApplyOptions{FieldManager: teamManager, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}); err == nil || !strings.Contains(err.Error(), `subset "green"`) {
		t.Fatalf("Ensure with a team subset named green: %v, want a refusal naming it", err)
	}
	tm.unchanged(ctx, drGVR, clashed)
	if _, err := tm.dyn.Resource(vsGVR).Namespace(tm.ns).Get(ctx, "shop", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("virtual service after a refused Ensure: %v, want none written", err)
	}
}

// TestNeverTakesOverOrDeletes checks that objects of sluice's names that sluice did
// not create are neither overwritten by Ensure nor deleted by Release, even when they
// carry sluice's labels (labels anyone can add do not make an object sluice's).
func TestNeverTakesOverOrDeletes(t *testing.T) {
	tm, ctx := newTeam(t)
	labels := map[string]string{"sluice.dev/service": "shop", "app.kubernetes.io/managed-by": "sluice"}
	vs := readObject(t, "testdata/adopt-user.yaml")
	vs.SetName("shop")
	dr := readObject(t, "testdata/team-destinationrule.yaml")
	var theirs []*unstructured.Unstructured
	for _, o := range []struct {
		gvr schema.GroupVersionResource
		u   *unstructured.Unstructured
	}{{vsGVR, vs}, {drGVR, dr}} {
		o.u.SetNamespace(tm.ns)
		o.u.SetLabels(labels)
		out, err := tm.dyn.Resource(o.gvr).Namespace(tm.ns).Apply(ctx, o.u.GetName(), o.u, metav1.ApplyOptions{FieldManager: teamManager, Force: true})
		if err != nil {
			t.Fatal(err)
		}
		theirs = append(theirs, out)
	}
	r, err := istio.New(restConfig(t), istio.Options{Namespace: tm.ns, Split: istio.SplitSubset})
	if err != nil {
		t.Fatal(err)
	}
	svc := traffic.ServiceRef{Service: "shop"}
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}); err == nil || !strings.Contains(err.Error(), "not created by sluice") {
		t.Fatalf("Ensure over a team's virtual service named shop: %v, want a refusal", err)
	}
	tm.unchanged(ctx, vsGVR, theirs[0])
	tm.unchanged(ctx, drGVR, theirs[1])
	if err := r.Release(ctx, svc); err != nil {
		t.Fatalf("Release: %v", err)
	}
	tm.unchanged(ctx, vsGVR, theirs[0])
	tm.unchanged(ctx, drGVR, theirs[1])
}
