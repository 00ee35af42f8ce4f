package gatewayapi_test

import (
	"context"
	"maps"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/internal/kube"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/gatewayapi"
)

const teamManager = "argocd-controller"

// teamRoute applies the team's HTTPRoute under the team's field manager, forcing as
// Argo CD's server-side apply does, with the adopt annotation when adopt is set.
func teamRoute(t *testing.T, ctx context.Context, ri dynamic.ResourceInterface, adopt bool) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile("testdata/team-httproute.yaml")
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &u.Object); err != nil {
		t.Fatal(err)
	}
	if adopt {
		u.SetAnnotations(map[string]string{kube.AnnotationAdopt: "true"})
	}
	out, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: teamManager, Force: true})
	if err != nil {
		t.Fatalf("team applies its route: %v", err)
	}
	return out
}

// TestCoexistence checks adoption of a team's HTTPRoute: refused without the
// annotation (nothing written), then through a release, a promotion, a rollback, a
// forced re-apply of the team's route and Release, the route is the team's except the
// adopted rule's backendRefs and weights; sluice never deletes it.
func TestCoexistence(t *testing.T) {
	cfg := restConfig(t)
	ns := namespace(t, cfg)
	dyn := kubetest.Dynamic(t, cfg)
	ri := dyn.Resource(routeGVR).Namespace(ns)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := teamRoute(t, ctx, ri, false)
	r, err := gatewayapi.New(cfg, gatewayapi.Options{Namespace: ns, Gateway: "public", HTTPRoute: "storefront", Rule: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	svc := traffic.ServiceRef{Service: "shop"}
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}); err == nil || !strings.Contains(err.Error(), "adopt") {
		t.Fatalf("Ensure without the adopt annotation: %v, want a refusal", err)
	}
	if got, err := ri.Get(ctx, "storefront", metav1.GetOptions{}); err != nil || got.GetResourceVersion() != before.GetResourceVersion() {
		t.Fatalf("the team's route after a refused adoption: %v, written: %v", err, err == nil)
	}

	team := teamRoute(t, ctx, ri, true)
	steps := []struct {
		name string
		do   func() error
		want traffic.Weights
	}{
		{"ensure", func() error { return r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}) }, traffic.All(platform.Green)},
		{"canary", func() error { return r.SetWeights(ctx, svc, traffic.Split(platform.Blue, 10), "1/canary") }, traffic.Split(platform.Blue, 10)},
		{"promotion", func() error { return r.SetWeights(ctx, svc, traffic.All(platform.Blue), "1/promote") }, traffic.All(platform.Blue)},
		{"canary of green", func() error { return r.SetWeights(ctx, svc, traffic.Split(platform.Green, 10), "2/canary") }, traffic.Split(platform.Green, 10)},
		{"rollback", func() error { return r.SetWeights(ctx, svc, traffic.All(platform.Blue), "2/rollback") }, traffic.All(platform.Blue)},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		onlyRefsChanged(t, ctx, ri, team, st.want, st.name)
	}
	team = teamRoute(t, ctx, ri, true) // a GitOps sync puts git's content back
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080, Live: platform.Blue}); err != nil {
		t.Fatalf("Ensure after the forced re-apply: %v", err)
	}
	onlyRefsChanged(t, ctx, ri, team, traffic.All(platform.Blue), "ensure after the forced re-apply")
	if err := r.Release(ctx, svc); err != nil {
		t.Fatalf("Release: %v", err)
	}
	got := onlyRefsChanged(t, ctx, ri, team, traffic.All(platform.Blue), "after Release")
	if want := teamAnnotations(team); !maps.Equal(got.GetAnnotations(), want) {
		t.Errorf("annotations after Release = %v, want the team's %v", got.GetAnnotations(), want)
	}
}

// onlyRefsChanged compares the stored route with the team's: the only difference
// allowed is the backendRefs of the rule "shop" (the slots' Services with w, the
// team's backend kept at weight 0), and sluice's weight-keys annotation.
func onlyRefsChanged(t *testing.T, ctx context.Context, ri dynamic.ResourceInterface, team *unstructured.Unstructured, w traffic.Weights, when string) *unstructured.Unstructured {
	t.Helper()
	got, err := ri.Get(ctx, team.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := team.DeepCopy()
	rules := want.Object["spec"].(map[string]any)["rules"].([]any)
	shop := rules[1].(map[string]any)
	ref := func(name string, weight int) any {
		return map[string]any{"group": "", "kind": "Service", "name": name, "port": int64(8080), "weight": int64(weight)}
	}
	shop["backendRefs"] = []any{ref("shop-green", w.Green), ref("shop-blue", w.Blue), ref("shop", 0)}
	if !reflect.DeepEqual(got.Object["spec"], want.Object["spec"]) {
		g, _ := yaml.Marshal(got.Object["spec"])
		wt, _ := yaml.Marshal(want.Object["spec"])
		t.Errorf("%s: the team's route differs in more than the adopted rule's backendRefs:\n--- got\n%s--- want\n%s", when, g, wt)
	}
	if a := teamAnnotations(got); !maps.Equal(a, teamAnnotations(team)) || !maps.Equal(got.GetLabels(), team.GetLabels()) {
		t.Errorf("%s: metadata = %v %v, want the team's", when, got.GetLabels(), a)
	}
	return got
}

// teamAnnotations returns u's annotations without sluice's weight keys (a route read
// back after the team's apply still has them: they are sluice's field).
func teamAnnotations(u *unstructured.Unstructured) map[string]string {
	a := u.GetAnnotations()
	delete(a, gatewayapi.AnnotationWeightKeys)
	return a
}

// TestNeverTakesOver checks that a route of sluice's name that sluice did not create,
// even one carrying sluice's labels, is neither overwritten by Ensure nor deleted by
// Release.
func TestNeverTakesOver(t *testing.T) {
	cfg := restConfig(t)
	ns := namespace(t, cfg)
	dyn := kubetest.Dynamic(t, cfg)
	ri := dyn.Resource(routeGVR).Namespace(ns)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	theirs := teamRoute(t, ctx, ri, false).DeepCopy()
	theirs.SetName("shop")
	theirs.SetLabels(map[string]string{"sluice.dev/service": "shop", "app.kubernetes.io/managed-by": "sluice"})
	theirs.SetResourceVersion("")
	theirs.SetUID("")
	theirs.SetManagedFields(nil)
	theirs.SetCreationTimestamp(metav1.Time{})
	stored, err := ri.Create(ctx, theirs, metav1.CreateOptions{FieldManager: teamManager})
	if err != nil {
		t.Fatal(err)
	}
	r, err := gatewayapi.New(cfg, gatewayapi.Options{Namespace: ns, Gateway: "public"})
	if err != nil {
		t.Fatal(err)
	}
	svc := traffic.ServiceRef{Service: "shop"}
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}); err == nil || !strings.Contains(err.Error(), "not created by sluice") {
		t.Fatalf("Ensure over a team's route named shop: %v, want a refusal", err)
	}
	if err := r.Release(ctx, svc); err != nil {
		t.Fatal(err)
	}
	got, err := ri.Get(ctx, "shop", metav1.GetOptions{})
	if apierrors.IsNotFound(err) || err == nil && got.GetResourceVersion() != stored.GetResourceVersion() {
		t.Fatalf("the team's route after Ensure and Release: %v (written or deleted)", err)
	}
}
