package gatewayapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/gatewayapi"
	"github.com/sluicehq/sluice/internal/traffic/traffictest"
)

// abRoute sends requests with X-Canary: true or X-Beta: on to blue.
func abRoute(svc string) traffic.Route {
	return traffic.Route{
		Service: traffic.ServiceRef{Service: svc}, Port: 8080,
		Match: []traffic.Match{
			{Header: "X-Canary", Value: "true"},
			{Header: "X-Beta", Value: "on"},
		},
		MatchSlot: platform.Blue,
	}
}

func TestConformanceWithMatchRules(t *testing.T) {
	cfg := restConfig(t)
	traffictest.Run(t, func(t *testing.T) traffic.Router {
		r, err := gatewayapi.New(cfg, gatewayapi.Options{Namespace: namespace(t, cfg), Gateway: "public"})
		if err != nil {
			t.Fatal(err)
		}
		return traffictest.WithMatch(r, abRoute("shop"))
	}, traffictest.Config{NeedsEnsure: true})
}

func TestGoldenMatch(t *testing.T) {
	objs, err := gatewayapi.Objects(gatewayapi.Options{Namespace: "prod", Gateway: "public"}, abRoute("shop"), traffic.Split(platform.Blue, 10))
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(objs[0].Object)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/route-match.yaml", b)
}

// TestMatchRulesOnControlPlane writes the rules to the real API server (which checks
// them against the Gateway API schema and its CEL rules), moves the weights under them,
// and takes them away.
func TestMatchRulesOnControlPlane(t *testing.T) {
	cfg := restConfig(t)
	ns := namespace(t, cfg)
	dyn := kubetest.Dynamic(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := gatewayapi.New(cfg, gatewayapi.Options{Namespace: ns, Gateway: "public"})
	if err != nil {
		t.Fatal(err)
	}
	rules := func() []any {
		u, err := dyn.Resource(routeGVR).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		list, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
		return list
	}
	// The weighted rule comes first, the match rule after it.
	traffictest.MatchRulesStay(t, ctx, r, abRoute("shop"), rules, 1)
}

func TestEnsureRefusesCookiesAndStickySessions(t *testing.T) {
	cookie := abRoute("shop")
	cookie.Match = append(cookie.Match, traffic.Match{Cookie: "canary", Value: "1"})
	sticky := traffic.Route{Service: traffic.ServiceRef{Service: "shop"}, Port: 8080, Sticky: true}
	for name, rt := range map[string]traffic.Route{"cookie": cookie, "sticky": sticky} {
		t.Run(name, func(t *testing.T) {
			r, err := gatewayapi.NewForClient(nil, gatewayapi.Options{Gateway: "public"}) // refused before any request
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Ensure(t.Context(), rt); !errors.Is(err, gatewayapi.ErrRouting) {
				t.Fatalf("Ensure: %v, want ErrRouting", err)
			}
		})
	}
}
