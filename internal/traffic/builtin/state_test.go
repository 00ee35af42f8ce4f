package builtin_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/traffic/builtin"
)

// TestLoadState: the checksummed file a router writes loads back; a file of the
// format before checksums still loads; damaged, truncated or invalid files are
// refused naming the file.
func TestLoadState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "router.json")
	r := newRouter(t, builtin.Options{StateFile: path, Source: staticSource{{Service: "shop", Slot: platform.Green}: {"127.0.0.1:1"}}})
	svc := traffic.ServiceRef{Service: "shop"}
	if err := r.Ensure(t.Context(), traffic.Route{Service: svc, Hosts: []string{"Shop.Test"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeights(t.Context(), svc, traffic.Weights{Green: 70, Blue: 30}, ""); err != nil {
		t.Fatal(err)
	}
	st, err := builtin.LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	got := st.Services["shop"]
	if got.Weights != (traffic.Weights{Green: 70, Blue: 30}) || len(got.Hosts) != 1 || got.Hosts[0] != "shop.test" ||
		len(got.Endpoints[platform.Green]) != 1 || st.Generation < 2 {
		t.Fatalf("loaded %+v", st)
	}
	good, _ := os.ReadFile(path)
	for name, tc := range map[string]struct {
		body string
		want string // "" loads
	}{
		"before checksums": {`{"services": {"shop": {"green": 100, "blue": 0}}}`, ""},
		"truncated":        {string(good[:len(good)-20]), "unexpected end of JSON input"},
		"damaged":          {strings.Replace(string(good), `"green": 70`, `"green": 71`, 1), "checksum mismatch"},
		"bad weights":      {`{"services": {"shop": {"green": 100, "blue": 10}}}`, "service shop"},
		"bad slot":         {`{"services": {"shop": {"green": 100, "endpoints": {"red": ["a:1"]}}}}`, `unknown slot "red"`},
		"empty":            {"", "unexpected end of JSON input"},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name+".json")
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := builtin.LoadState(p)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("LoadState: %v", err)
				}
				return
			}
			if !errors.Is(err, builtin.ErrCorruptState) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("LoadState: %v; want ErrCorruptState naming %s and %q", err, p, tc.want)
			}
		})
	}
}

// TestNeverWithoutEndpoints: a platform reporting no ready instance in either
// slot does not empty the proxy (users keep being answered); emptying one slot
// while the other has instances applies.
func TestNeverWithoutEndpoints(t *testing.T) {
	green, blue := startBackend(t, "v1"), startBackend(t, "v2")
	r := newRouter(t, builtin.Options{Resync: -1, Source: staticSource{{Service: "shop", Slot: platform.Green}: {green}}})
	svc := traffic.ServiceRef{Service: "shop"}
	if err := r.Ensure(t.Context(), traffic.Route{Service: svc}); err != nil {
		t.Fatal(err)
	}
	r.EndpointsChanged(platform.SlotRef{Service: "shop", Slot: platform.Green}, nil)
	if in, err := r.Instances("shop"); err != nil || len(in) != 1 || in[0].Addr != green {
		t.Fatalf("instances after the platform reported none: %v, %v; want %s kept", in, err, green)
	}
	if v := countVersions(t, "http://"+r.Addr("shop")+"/", 5); v["v1"] != 5 {
		t.Fatalf("answers while no instance was reported: %v", v)
	}
	r.EndpointsChanged(platform.SlotRef{Service: "shop", Slot: platform.Blue}, []string{blue})
	r.EndpointsChanged(platform.SlotRef{Service: "shop", Slot: platform.Green}, nil)
	if in, err := r.Instances("shop"); err != nil || len(in) != 1 || in[0].Addr != blue {
		t.Fatalf("instances after green emptied with blue ready: %v, %v; want only %s", in, err, blue)
	}
}
