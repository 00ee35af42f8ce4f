package istio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/istio"
	"github.com/sluicehq/sluice/internal/traffic/traffictest"
)

var vsGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}

func TestConformance(t *testing.T) {
	cfg := restConfig(t)
	tests := []struct {
		name string
		opts istio.Options
	}{
		{"http", istio.Options{}},
		{"http-with-hosts", istio.Options{Hosts: []string{"shop.example.com"}}},
		{"tcp", istio.Options{Protocol: istio.ProtocolTCP}},
		{"tls", istio.Options{Protocol: istio.ProtocolTLS, Hosts: []string{"shop.example.com"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			traffictest.Run(t, func(t *testing.T) traffic.Router {
				opts := tc.opts
				opts.Namespace = namespace(t, cfg)
				r, err := istio.New(cfg, opts)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}, traffictest.Config{NeedsEnsure: true})
		})
	}
}

// TestAdopt checks that an adopted VirtualService keeps everything but the weights of
// its named route, and that one without the annotation is refused.
func TestAdopt(t *testing.T) {
	cfg := restConfig(t)
	ns := namespace(t, cfg)
	dyn := kubetest.Dynamic(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user := readObject(t, "testdata/adopt-user.yaml")
	user.SetNamespace(ns)
	if _, err := dyn.Resource(vsGVR).Namespace(ns).Create(ctx, user, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the user's virtual service: %v", err)
	}
	r, err := istio.New(cfg, istio.Options{Namespace: ns, VirtualService: "storefront", Route: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	svc := traffic.ServiceRef{Service: "shop"}
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}); err == nil || !strings.Contains(err.Error(), "adopt") {
		t.Fatalf("Ensure of a virtual service without the adopt annotation: %v, want a refusal", err)
	}
	u, err := dyn.Resource(vsGVR).Namespace(ns).Get(ctx, "storefront", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u.SetAnnotations(map[string]string{istio.AnnotationAdopt: "true"})
	if _, err := dyn.Resource(vsGVR).Namespace(ns).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Ensure(ctx, traffic.Route{Service: svc, Port: 8080}); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	for _, w := range []traffic.Weights{traffic.All(platform.Green), traffic.Split(platform.Blue, 10), traffic.All(platform.Blue)} {
		if err := r.SetWeights(ctx, svc, w, "w-"+w.String()); err != nil {
			t.Fatalf("SetWeights %s: %v", w, err)
		}
		if got, err := r.Weights(ctx, svc); err != nil || got != w {
			t.Fatalf("Weights = %s, %v; want %s", got, err, w)
		}
	}
	if err := r.Release(ctx, svc); err != nil {
		t.Fatalf("Release: %v", err)
	}
	got, err := dyn.Resource(vsGVR).Namespace(ns).Get(ctx, "storefront", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the adopted virtual service is gone after Release: %v", err)
	}
	golden.Check(t, "testdata/adopt-after.yaml", bytes.ReplaceAll(specYAML(t, got), []byte(ns), []byte("NAMESPACE")))
}

func TestGolden(t *testing.T) {
	route := traffic.Route{Service: traffic.ServiceRef{Service: "shop"}, Port: 8080, Hosts: []string{"shop.example.com"}}
	tests := []struct {
		name  string
		opts  istio.Options
		route traffic.Route
	}{
		{"http", istio.Options{Namespace: "prod"}, traffic.Route{Service: route.Service, Port: 8080}},
		{"http-subset", istio.Options{Namespace: "prod", Split: istio.SplitSubset}, traffic.Route{Service: route.Service, Port: 8080}},
		{"http-gateway", istio.Options{Namespace: "prod", Gateway: "public"}, route},
		{"tcp", istio.Options{Namespace: "prod", Protocol: istio.ProtocolTCP}, route},
		{"tls", istio.Options{Namespace: "prod", Protocol: istio.ProtocolTLS}, route},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := istio.Objects(tc.opts, tc.route, traffic.Split(platform.Blue, 10))
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			for i, o := range objs {
				b, err := yaml.Marshal(o.Object)
				if err != nil {
					t.Fatal(err)
				}
				if i > 0 {
					out = append(out, "---\n"...)
				}
				out = append(out, b...)
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".yaml"), out)
		})
	}
}

func readObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

func specYAML(t *testing.T, u *unstructured.Unstructured) []byte {
	t.Helper()
	b, err := yaml.Marshal(map[string]any{"annotations": u.GetAnnotations(), "spec": u.Object["spec"]})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReleaseRemovesItsGateway checks that a Gateway named by the route (the workflow's
// service step) is written with the hosts and removed again on Release, while one
// sluice did not write stays.
func TestReleaseRemovesItsGateway(t *testing.T) {
	cfg := restConfig(t)
	ns := namespace(t, cfg)
	dyn := kubetest.Dynamic(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gwGVR := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
	theirs := readObject(t, "testdata/user-gateway.yaml")
	theirs.SetNamespace(ns)
	if _, err := dyn.Resource(gwGVR).Namespace(ns).Create(ctx, theirs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := istio.New(cfg, istio.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		svc, gateway string
		keep         bool
	}{
		{"shop", "shop-public", false},
		{"cart", "theirs", true},
	}
	for _, tc := range tests {
		svc := traffic.ServiceRef{Service: tc.svc}
		route := traffic.Route{Service: svc, Port: 8080, Hosts: []string{tc.svc + ".example.com"}, Gateway: tc.gateway}
		if err := r.Ensure(ctx, route); err != nil {
			t.Fatalf("Ensure %s: %v", tc.svc, err)
		}
		gw, err := dyn.Resource(gwGVR).Namespace(ns).Get(ctx, tc.gateway, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("gateway %s after Ensure: %v", tc.gateway, err)
		}
		hosts, _ := json.Marshal(gw.Object["spec"])
		if mentions := strings.Contains(string(hosts), tc.svc+".example.com"); mentions == tc.keep {
			t.Errorf("gateway %s after Ensure of %s: %s", tc.gateway, tc.svc, hosts)
		}
		if err := r.Release(ctx, svc); err != nil {
			t.Fatal(err)
		}
		_, err = dyn.Resource(gwGVR).Namespace(ns).Get(ctx, tc.gateway, metav1.GetOptions{})
		if exists := err == nil; exists != tc.keep {
			t.Errorf("gateway %s exists after Release: %v, want %v", tc.gateway, exists, tc.keep)
		}
	}
}
