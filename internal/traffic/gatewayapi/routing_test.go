package gatewayapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/internal/platform"
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

// withRules is a router whose every Ensure carries A/B match rules, so the shared
// conformance suite shows that the rules leave the weighted rule's behaviour alone.
type withRules struct{ traffic.Router }

func (w withRules) Ensure(ctx context.Context, rt traffic.Route) error {
	ab := abRoute(rt.Service.Service)
	rt.Match, rt.MatchSlot = ab.Match, ab.MatchSlot
	return w.Router.Ensure(ctx, rt)
}

func TestConformanceWithMatchRules(t *testing.T) {
	cfg := restConfig(t)
	traffictest.Run(t, func(t *testing.T) traffic.Router {
		r, err := gatewayapi.New(cfg, gatewayapi.Options{Namespace: namespace(t, cfg), Gateway: "public"})
		if err != nil {
			t.Fatal(err)
		}
		return withRules{r}
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
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := gatewayapi.New(cfg, gatewayapi.Options{Namespace: ns, Gateway: "public"})
	if err != nil {
		t.Fatal(err)
	}
	rt := abRoute("shop")
	if err := r.Ensure(ctx, rt); err != nil {
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
	before := rules()
	if len(before) != 2 {
		t.Fatalf("route has %d rules, want the weighted one and the match rule", len(before))
	}
	for _, w := range []traffic.Weights{traffic.Split(platform.Blue, 10), traffic.All(platform.Blue), traffic.All(platform.Green)} {
		if err := r.SetWeights(ctx, rt.Service, w, w.String()); err != nil {
			t.Fatal(err)
		}
		if got, err := r.Weights(ctx, rt.Service); err != nil || got != w {
			t.Fatalf("weights read back %s, %v; want %s", got, err, w)
		}
		if after := rules(); !equalJSON(t, before[1], after[1]) {
			t.Fatalf("setting weights %s changed the match rule:\n%v\n%v", w, before[1], after[1])
		}
	}
	if err := r.SetWeights(ctx, rt.Service, traffic.Split(platform.Blue, 10), "again"); err != nil {
		t.Fatal(err)
	}
	if err := r.Ensure(ctx, traffic.Route{Service: rt.Service, Port: 8080}); err != nil {
		t.Fatal(err)
	}
	if n := len(rules()); n != 1 {
		t.Fatalf("after an Ensure without rules the route has %d rules, want 1", n)
	}
	if got, err := r.Weights(ctx, rt.Service); err != nil || got != traffic.Split(platform.Blue, 10) {
		t.Fatalf("Ensure without rules changed the weights to %s, %v", got, err)
	}
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

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
