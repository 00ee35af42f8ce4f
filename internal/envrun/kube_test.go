package envrun

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/traffic"
)

// TestRuntimesKubernetes resolves environments of the kubernetes platform with the istio
// and gatewayapi routers against scripts/kube.sh's control plane.
func TestRuntimesKubernetes(t *testing.T) {
	kubeconfig := kubetest.Kubeconfig(t)
	w := New(Builtin(), Options{DataDir: t.TempDir()})
	defer w.Close()
	kube := &spec.KubernetesPlatformSpec{Kubeconfig: kubeconfig, Namespace: "default"}
	tests := []struct {
		name    string
		router  spec.RouterSpec
		wantErr string
	}{
		{"istio", spec.RouterSpec{Type: "istio", Istio: &spec.IstioRouterSpec{Hosts: []string{"wired.example.com"}}}, ""},
		{"gatewayapi", spec.RouterSpec{Type: "gatewayapi", GatewayAPI: &spec.GatewayAPIRouterSpec{Gateway: "public"}}, ""},
		{"gatewayapi-without-block", spec.RouterSpec{Type: "gatewayapi"}, "gateway is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := &spec.Environment{Spec: spec.EnvironmentSpec{
				Platform: spec.PlatformSpec{Type: "kubernetes", Kubernetes: kube}, Router: tc.router,
			}}
			rt, err := w.Resolve(t.Context(), "kube-"+tc.name, env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Resolve: %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			svc := traffic.ServiceRef{Service: "wired-" + tc.name}
			if err := rt.Router.Ensure(t.Context(), traffic.Route{Service: svc, Port: 8080}); err != nil {
				t.Fatal(err)
			}
			defer rt.Router.Release(t.Context(), svc)
			w10 := traffic.Split(platform.Blue, 10)
			if err := rt.Router.SetWeights(t.Context(), svc, w10, "k"); err != nil {
				t.Fatal(err)
			}
			if got, err := rt.Router.Weights(t.Context(), svc); err != nil || got != w10 {
				t.Fatalf("Weights = %s, %v", got, err)
			}
			if st, err := rt.Platform.Status(t.Context(), platform.SlotRef{Service: svc.Service, Slot: platform.Blue}); err != nil || st.Desired != 0 {
				t.Fatalf("Status of a slot never deployed: %+v, %v", st, err)
			}
		})
	}
	env := &spec.Environment{Spec: spec.EnvironmentSpec{
		Platform: spec.PlatformSpec{Type: "kubernetes"}, Router: spec.RouterSpec{Type: "istio"},
	}}
	if _, err := w.Resolve(t.Context(), "no-block", env); err == nil || !strings.Contains(err.Error(), "no kubernetes block") {
		t.Fatalf("Resolve without a kubernetes block: %v", err)
	}
}
