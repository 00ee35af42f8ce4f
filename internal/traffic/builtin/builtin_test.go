package builtin_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
	"github.com/sluicehq/sluice/internal/traffic/traffictest"
)

func newRouter(t *testing.T, opts builtin.Options) *builtin.Router {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = localtest.FreeAddr(t)
	}
	r, err := builtin.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func TestConformance(t *testing.T) {
	addrs := map[traffic.Router]string{}
	traffictest.Run(t, func(t *testing.T) traffic.Router {
		addr := localtest.FreeAddr(t)
		r := newRouter(t, builtin.Options{Listen: addr, Admin: "127.0.0.1:0", StateFile: t.TempDir() + "/router.json"})
		addrs[r] = addr
		return r
	}, traffictest.Config{
		NeedsEnsure: true,
		AfterRelease: func(t *testing.T, r traffic.Router, svc traffic.ServiceRef) {
			c, err := net.DialTimeout("tcp", addrs[r], time.Second)
			if err == nil {
				c.Close()
				t.Fatalf("%s still accepts connections after Release", addrs[r])
			}
		},
	})
}

func TestEnsureAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	tests := []struct {
		name string
		opts builtin.Options
	}{
		{"listen", builtin.Options{Listen: addr}},
		{"admin", builtin.Options{Listen: localtest.FreeAddr(t), Admin: addr}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRouter(t, tc.opts)
			err := r.Ensure(t.Context(), traffic.Route{Service: traffic.ServiceRef{Service: "shop"}})
			if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), addr) {
				t.Fatalf("Ensure on a taken address: %v, want address in use naming %s", err, addr)
			}
			if _, err := r.Weights(t.Context(), traffic.ServiceRef{Service: "shop"}); !errors.Is(err, builtin.ErrNotEnsured) {
				t.Fatalf("Weights after a failed Ensure: %v, want ErrNotEnsured", err)
			}
			if tc.name == "admin" {
				// The proxy listener opened before the admin one failed must be closed.
				c, err := net.DialTimeout("tcp", tc.opts.Listen, time.Second)
				if err == nil {
					c.Close()
					t.Fatalf("proxy listener %s left open after the admin listener failed", tc.opts.Listen)
				}
			}
		})
	}
}

func TestOneServicePerAddress(t *testing.T) {
	r := newRouter(t, builtin.Options{})
	if err := r.Ensure(t.Context(), traffic.Route{Service: traffic.ServiceRef{Service: "shop"}}); err != nil {
		t.Fatal(err)
	}
	err := r.Ensure(t.Context(), traffic.Route{Service: traffic.ServiceRef{Service: "cart"}})
	if !errors.Is(err, builtin.ErrAddressTaken) || !strings.Contains(err.Error(), "shop") {
		t.Fatalf("Ensure of a second service: %v, want ErrAddressTaken naming shop", err)
	}
}

func TestNewNeedsListen(t *testing.T) {
	if _, err := builtin.New(builtin.Options{}); err == nil {
		t.Fatal("New without a listen address: no error")
	}
}

// staticSource serves fixed endpoints.
type staticSource map[platform.SlotRef][]string

func (s staticSource) Endpoints(ref platform.SlotRef) []string { return s[ref] }

func TestMetricsAndEndpointsFromSource(t *testing.T) {
	green, blue := startBackend(t, "v1"), startBackend(t, "v2")
	src := staticSource{
		{Service: "shop", Slot: platform.Green}: {green},
		{Service: "shop", Slot: platform.Blue}:  {blue},
	}
	r := newRouter(t, builtin.Options{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Source: src})
	svc := traffic.ServiceRef{Service: "shop"}
	if _, err := r.Metrics("shop"); !errors.Is(err, builtin.ErrNotEnsured) {
		t.Fatalf("Metrics before Ensure: %v, want ErrNotEnsured", err)
	}
	if err := r.Ensure(t.Context(), traffic.Route{Service: svc}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeights(t.Context(), svc, traffic.Split(platform.Blue, 50), "k"); err != nil {
		t.Fatal(err)
	}
	versions := countVersions(t, "http://"+r.Addr("shop")+"/", 200)
	if versions["v1"] < 50 || versions["v2"] < 50 {
		t.Fatalf("versions over 200 requests at 50/50: %v", versions)
	}
	m, err := r.Metrics("shop")
	if err != nil {
		t.Fatal(err)
	}
	if m.Green.Requests()+m.Blue.Requests() != 200 || m.Weights != traffic.Split(platform.Blue, 50) {
		t.Fatalf("metrics: green %d blue %d weights %s, want 200 requests at 50/50", m.Green.Requests(), m.Blue.Requests(), m.Weights)
	}
	body := get(t, "http://"+r.AdminAddr("shop")+"/weights")
	if !strings.Contains(body, `"blue": 50`) {
		t.Fatalf("admin /weights = %s", body)
	}
	if body := get(t, "http://"+r.AdminAddr("shop")+"/metrics"); !strings.Contains(body, `slot="blue"`) {
		t.Fatalf("admin /metrics has no blue series:\n%s", body)
	}
}

// TestRestore closes a router and makes a new one on the same state file: the
// service listens again on its address with the weights it had; a released service
// is not restored.
func TestRestore(t *testing.T) {
	green, blue := startBackend(t, "v1"), startBackend(t, "v2")
	src := staticSource{
		{Service: "shop", Slot: platform.Green}: {green},
		{Service: "shop", Slot: platform.Blue}:  {blue},
	}
	opts := builtin.Options{Listen: localtest.FreeAddr(t), Source: src, StateFile: t.TempDir() + "/router.json"}
	first, err := builtin.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	svc := traffic.ServiceRef{Service: "shop"}
	if err := first.Ensure(t.Context(), traffic.Route{Service: svc}); err != nil {
		t.Fatal(err)
	}
	if err := first.SetWeights(t.Context(), svc, traffic.All(platform.Blue), "k"); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := newRouter(t, opts)
	if err := second.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	if w, err := second.Weights(t.Context(), svc); err != nil || w != traffic.All(platform.Blue) {
		t.Fatalf("restored weights %s, %v; want all blue", w, err)
	}
	if v := countVersions(t, "http://"+opts.Listen+"/", 10); v["v2"] != 10 {
		t.Fatalf("restored router answered %v, want only v2", v)
	}
	if err := second.Release(t.Context(), svc); err != nil {
		t.Fatal(err)
	}
	third := newRouter(t, opts)
	if err := third.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := third.Weights(t.Context(), svc); !errors.Is(err, builtin.ErrNotEnsured) {
		t.Fatalf("a released service came back: %v", err)
	}
}
