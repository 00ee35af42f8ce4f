package istio_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/istio"
	"github.com/sluicehq/sluice/internal/traffic/traffictest"
)

// abRoute sends requests with X-Canary: true or the cookie canary=1 to blue.
func abRoute(svc string) traffic.Route {
	return traffic.Route{
		Service: traffic.ServiceRef{Service: svc}, Port: 8080,
		Match: []traffic.Match{
			{Header: "X-Canary", Value: "true"},
			{Cookie: "canary", Value: "1"},
		},
		MatchSlot: platform.Blue,
	}
}

func TestConformanceWithMatchRules(t *testing.T) {
	cfg := restConfig(t)
	traffictest.Run(t, func(t *testing.T) traffic.Router {
		r, err := istio.New(cfg, istio.Options{Namespace: namespace(t, cfg), Hosts: []string{"shop.example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		return traffictest.WithMatch(r, abRoute("shop"))
	}, traffictest.Config{NeedsEnsure: true})
}

func TestGoldenMatch(t *testing.T) {
	objs, err := istio.Objects(istio.Options{Namespace: "prod"}, abRoute("shop"), traffic.Split(platform.Blue, 10))
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(objs[len(objs)-1].Object)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/http-match.yaml", b)
}

// TestCookieRegexMatches checks the regular expression written for a cookie rule
// against Cookie headers (Envoy uses RE2, as Go's regexp does).
func TestCookieRegexMatches(t *testing.T) {
	objs, err := istio.Objects(istio.Options{}, abRoute("shop"), traffic.All(platform.Green))
	if err != nil {
		t.Fatal(err)
	}
	expr := cookieRegexOf(t, objs[len(objs)-1])
	re := regexp.MustCompile(expr)
	tests := []struct {
		header string
		want   bool
	}{
		{"canary=1", true},
		{"session=abc; canary=1", true},
		{"canary=1; session=abc", true},
		{"a=b;canary=1;c=d", true},
		{"canary=10", false},
		{"xcanary=1", false},
		{"canary=0", false},
		{"session=canary=1x", false},
	}
	for _, tc := range tests {
		if got := re.MatchString(tc.header); got != tc.want {
			t.Errorf("%q matches %q: %v, want %v", expr, tc.header, got, tc.want)
		}
	}
}

// matchRoute returns the first http route of a VirtualService, the match route.
func matchRoute(t *testing.T, vs *unstructured.Unstructured) map[string]any {
	t.Helper()
	routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	if len(routes) != 2 {
		t.Fatalf("virtual service has %d http routes, want the match route and the weighted one", len(routes))
	}
	return routes[0].(map[string]any)
}

func cookieRegexOf(t *testing.T, vs *unstructured.Unstructured) string {
	t.Helper()
	match := matchRoute(t, vs)["match"].([]any)
	headers := match[1].(map[string]any)["headers"].(map[string]any)
	return headers["cookie"].(map[string]any)["regex"].(string)
}

// TestMatchRulesOnControlPlane writes the rules to the real API server (which checks
// them against Istio's schema), moves the weights under them, and takes them away.
func TestMatchRulesOnControlPlane(t *testing.T) {
	cfg := restConfig(t)
	ns := namespace(t, cfg)
	dyn := kubetest.Dynamic(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := istio.New(cfg, istio.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	routes := func() []any {
		u, err := dyn.Resource(vsGVR).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		list, _, _ := unstructured.NestedSlice(u.Object, "spec", "http")
		return list
	}
	// The match route comes first, before the weighted one.
	match := traffictest.MatchRulesStay(t, ctx, r, abRoute("shop"), routes, 0)
	if name := match["name"]; name != "sluice-match" {
		t.Errorf("match route named %v", name)
	}
}

func TestEnsureRefusesWhatIstioCannotRoute(t *testing.T) {
	ctx := t.Context()
	sticky := traffic.Route{Service: traffic.ServiceRef{Service: "shop"}, Port: 8080, Sticky: true}
	tests := []struct {
		name string
		opts istio.Options
		rt   traffic.Route
	}{
		{"sticky", istio.Options{}, sticky},
		{"tcp", istio.Options{Protocol: istio.ProtocolTCP}, abRoute("shop")},
		{"adopted", istio.Options{VirtualService: "storefront"}, abRoute("shop")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := istio.NewForClient(nil, tc.opts) // refused before any request
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Ensure(ctx, tc.rt); !errors.Is(err, istio.ErrRouting) {
				t.Fatalf("Ensure: %v, want ErrRouting", err)
			}
		})
	}
}
