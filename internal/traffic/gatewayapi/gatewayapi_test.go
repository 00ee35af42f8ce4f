package gatewayapi_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/gatewayapi"
	"github.com/sluicehq/sluice/internal/traffic/traffictest"
)

var routeGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

func TestConformance(t *testing.T) {
	cfg := restConfig(t)
	tests := []struct {
		name string
		opts gatewayapi.Options
	}{
		{"no-hostnames", gatewayapi.Options{Gateway: "public"}},
		{"hostnames-other-namespace-gateway", gatewayapi.Options{Gateway: "infra/public", Hostnames: []string{"shop.example.com"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			traffictest.Run(t, func(t *testing.T) traffic.Router {
				opts := tc.opts
				opts.Namespace = namespace(t, cfg)
				r, err := gatewayapi.New(cfg, opts)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}, traffictest.Config{NeedsEnsure: true})
		})
	}
}

// TestForeignEditReadsAsError checks that a split someone else changed to relative
// weights that are not percentages is reported, not guessed.
func TestForeignEditReadsAsError(t *testing.T) {
	cfg := restConfig(t)
	ns := namespace(t, cfg)
	r, err := gatewayapi.New(cfg, gatewayapi.Options{Namespace: ns, Gateway: "public"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc := traffic.ServiceRef{Service: "shop"}
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}); err != nil {
		t.Fatal(err)
	}
	dyn := kubetest.Dynamic(t, cfg)
	u, err := dyn.Resource(routeGVR).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rules := u.Object["spec"].(map[string]any)["rules"].([]any)
	for _, ref := range rules[0].(map[string]any)["backendRefs"].([]any) {
		ref.(map[string]any)["weight"] = int64(3)
	}
	if _, err := dyn.Resource(routeGVR).Namespace(ns).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if w, err := r.Weights(ctx, svc); err == nil {
		t.Fatalf("Weights of a 3:3 split = %s, want an error", w)
	}
	if err := r.SetWeights(ctx, svc, traffic.Split(platform.Blue, 10), "repair"); err != nil {
		t.Fatalf("SetWeights over a foreign split: %v", err)
	}
}

func TestGolden(t *testing.T) {
	svc := traffic.ServiceRef{Service: "shop"}
	tests := []struct {
		name  string
		opts  gatewayapi.Options
		route traffic.Route
	}{
		{"route", gatewayapi.Options{Namespace: "prod", Gateway: "public"}, traffic.Route{Service: svc, Port: 8080}},
		{"route-hostnames", gatewayapi.Options{Namespace: "prod", Gateway: "infra/public"},
			traffic.Route{Service: svc, Port: 8080, Hosts: []string{"shop.example.com"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := gatewayapi.Objects(tc.opts, tc.route, traffic.Split(platform.Blue, 10))
			if err != nil {
				t.Fatal(err)
			}
			b, err := yaml.Marshal(objs[0].Object)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".yaml"), b)
		})
	}
}
