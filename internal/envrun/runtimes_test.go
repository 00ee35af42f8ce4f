package envrun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
)

func localEnvSpec(listen, admin string) *spec.Environment {
	return &spec.Environment{Spec: spec.EnvironmentSpec{
		Platform: spec.PlatformSpec{Type: "local", Local: &spec.LocalPlatformSpec{}},
		Router:   spec.RouterSpec{Type: "builtin", Builtin: &spec.BuiltinRouterSpec{Listen: listen, Admin: admin}},
	}}
}

func TestRuntimesLocalBuiltin(t *testing.T) {
	w := New(Builtin(), Options{DataDir: t.TempDir()})
	defer w.Close()
	env := localEnvSpec(localtest.FreeAddr(t), localtest.FreeAddr(t))
	rt, err := w.Resolve(t.Context(), "dev", env)
	if err != nil {
		t.Fatal(err)
	}
	rt2, err := w.Resolve(t.Context(), "dev", env)
	if err != nil {
		t.Fatal(err)
	}
	if rt.Platform != rt2.Platform || rt.Router != rt2.Router {
		t.Fatal("a second Resolve of the same environment made new instances")
	}
	if _, err := w.RouterMetrics("dev", "shop"); !errors.Is(err, builtin.ErrNotEnsured) {
		t.Fatalf("RouterMetrics before Ensure: %v, want ErrNotEnsured", err)
	}
	svc := traffic.ServiceRef{Service: "shop"}
	if err := rt.Router.Ensure(t.Context(), traffic.Route{Service: svc}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Router.SetWeights(t.Context(), svc, traffic.Split(platform.Blue, 10), "k"); err != nil {
		t.Fatal(err)
	}
	m, err := w.RouterMetricsOf("dev").Metrics("shop")
	if err != nil || m.Weights != traffic.Split(platform.Blue, 10) {
		t.Fatalf("metrics: %+v, %v", m.Weights, err)
	}
	if m, err := w.Metrics("shop"); err != nil || m.Weights != traffic.Split(platform.Blue, 10) {
		t.Fatalf("Metrics across environments: %+v, %v", m.Weights, err)
	}
	if _, err := w.Metrics("cart"); !errors.Is(err, builtin.ErrNotEnsured) {
		t.Fatalf("Metrics of a service routed nowhere: %v", err)
	}
	eps, err := w.Endpoints(t.Context(), "dev", platform.SlotRef{Service: "shop", Slot: platform.Green})
	if err != nil || len(eps) != 0 {
		t.Fatalf("Endpoints of an empty slot: %v, %v", eps, err)
	}
	changed := localEnvSpec(localtest.FreeAddr(t), "")
	if _, err := w.Resolve(t.Context(), "dev", changed); err == nil || !strings.Contains(err.Error(), "restart the server") {
		t.Fatalf("Resolve with a changed listen address: %v", err)
	}
}

func TestRuntimesErrors(t *testing.T) {
	w := New(Builtin(), Options{DataDir: t.TempDir()})
	defer w.Close()
	recorderPlatform := spec.PlatformSpec{Type: "recorder", Recorder: &spec.RecorderSpec{File: "r.jsonl"}}
	tests := []struct {
		name string
		env  spec.EnvironmentSpec
		want string
	}{
		{"kubernetes-without-block", spec.EnvironmentSpec{Platform: spec.PlatformSpec{Type: "kubernetes"},
			Router: spec.RouterSpec{Type: "recorder", Recorder: &spec.RecorderSpec{File: "r.jsonl"}}}, "no kubernetes block"},
		{"istio-outside-a-cluster", spec.EnvironmentSpec{Platform: recorderPlatform, Router: spec.RouterSpec{Type: "istio"}}, "in-cluster config"},
		{"gatewayapi-without-gateway", spec.EnvironmentSpec{Platform: recorderPlatform, Router: spec.RouterSpec{Type: "gatewayapi"}}, "gateway is required"},
		{"unknown", spec.EnvironmentSpec{Platform: spec.PlatformSpec{Type: "vm"}}, "unknown"},
		{"builtin-on-recorder", spec.EnvironmentSpec{Platform: recorderPlatform,
			Router: spec.RouterSpec{Type: "builtin", Builtin: &spec.BuiltinRouterSpec{Listen: "127.0.0.1:0"}}}, "needs platform type local"},
		{"builtin-no-listen", spec.EnvironmentSpec{Platform: spec.PlatformSpec{Type: "local"},
			Router: spec.RouterSpec{Type: "builtin"}}, "listen is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.Resolve(t.Context(), tc.name, &spec.Environment{Spec: tc.env})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Resolve: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := w.RouterMetrics("nope", "shop"); err == nil {
		t.Fatal("RouterMetrics of an unknown environment: no error")
	}
	if _, err := w.Endpoints(context.Background(), "nope", platform.SlotRef{Service: "shop", Slot: platform.Green}); err == nil {
		t.Fatal("Endpoints of an unknown environment: no error")
	}
}

// TestRuntimesRestart closes the runtimes as a stopping server does and makes a new one on
// the same data directory: the builtin router listens again with the weights it had.
func TestRuntimesRestart(t *testing.T) {
	dir := t.TempDir()
	env := localEnvSpec(localtest.FreeAddr(t), "")
	svc := traffic.ServiceRef{Service: "shop"}
	w := New(Builtin(), Options{DataDir: dir})
	rt, err := w.Resolve(t.Context(), "dev", env)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Router.Ensure(t.Context(), traffic.Route{Service: svc}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Router.SetWeights(t.Context(), svc, traffic.Split(platform.Blue, 30), "k"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if c, err := net.Dial("tcp", env.Spec.Router.Builtin.Listen); err == nil {
		c.Close()
		t.Fatal("the router still listens after the runtimes closed")
	}
	w2 := New(Builtin(), Options{DataDir: dir})
	defer w2.Close()
	rt2, err := w2.Resolve(t.Context(), "dev", env)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rt2.Router.Weights(t.Context(), svc)
	if err != nil || got != traffic.Split(platform.Blue, 30) {
		t.Fatalf("weights after a restart: %s, %v; want blue 30", got, err)
	}
	c, err := net.Dial("tcp", env.Spec.Router.Builtin.Listen)
	if err != nil {
		t.Fatalf("the router does not listen again after a restart: %v", err)
	}
	c.Close()
}

// TestRuntimesWarm restores, at start-up, the builtin router of an environment stored
// in the store, without any execution resolving it.
func TestRuntimesWarm(t *testing.T) {
	dir := t.TempDir()
	listen := localtest.FreeAddr(t)
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  platform: {type: local}
  router: {type: builtin, builtin: {listen: %q}}
`, listen)
	if _, _, err := st.PutDefinition(t.Context(), store.Definition{Kind: store.KindEnvironment, Name: "dev", Source: src}); err != nil {
		t.Fatal(err)
	}
	env, err := spec.ParseEnvironment("dev.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	w := New(Builtin(), Options{DataDir: dir})
	rt, err := w.Resolve(t.Context(), "dev", env)
	if err != nil {
		t.Fatal(err)
	}
	svc := traffic.ServiceRef{Service: "shop"}
	if err := rt.Router.Ensure(t.Context(), traffic.Route{Service: svc}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w2 := New(Builtin(), Options{DataDir: dir})
	defer w2.Close()
	n, err := w2.Warm(t.Context(), st)
	if err != nil || n != 1 {
		t.Fatalf("Warm = %d, %v; want 1 environment", n, err)
	}
	c, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatalf("the router does not listen after Warm: %v", err)
	}
	c.Close()
}
