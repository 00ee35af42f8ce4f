package providers_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/providers"
)

type counters struct{}

func (counters) Metrics(string) (proxy.MetricsSnapshot, error) { return proxy.MetricsSnapshot{}, nil }

func TestNew(t *testing.T) {
	withRouter := verify.Deps{Metrics: counters{}}
	tests := []struct {
		name string
		ps   spec.ProviderSpec
		deps verify.Deps
		want string // "" means built
		is   error
	}{
		{"builtin", spec.ProviderSpec{Name: "r", Type: "builtin"}, withRouter, "", nil},
		{"builtin without the built-in router", spec.ProviderSpec{Name: "r", Type: "builtin"}, verify.Deps{}, "built-in router", nil},
		{"prometheus", spec.ProviderSpec{Name: "p", Type: "prometheus", URL: "http://127.0.0.1:9090"}, verify.Deps{}, "", nil},
		{"prometheus without url", spec.ProviderSpec{Name: "p", Type: "prometheus"}, verify.Deps{}, "needs a url", nil},
		{"http", spec.ProviderSpec{Name: "h", Type: "http", URL: "http://127.0.0.1:1/x", Settings: map[string]string{"path": "v"}}, verify.Deps{}, "", nil},
		{"loki", spec.ProviderSpec{Name: "l", Type: "loki", URL: "http://127.0.0.1:3100"}, verify.Deps{}, "", nil},
		{"newrelic needs an account", spec.ProviderSpec{Name: "nr", Type: "newrelic"}, verify.Deps{}, "apiKey", nil},
		{"sumologic needs keys", spec.ProviderSpec{Name: "sumo", Type: "sumologic"}, verify.Deps{}, "accessId", nil},
		{"unknown type is no fallback", spec.ProviderSpec{Name: "x", Type: "graphite"}, verify.Deps{}, `unknown type "graphite"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := providers.Types.New(context.Background(), tt.ps, tt.deps)
			if tt.want == "" {
				if err != nil || p == nil {
					t.Fatalf("got %v, %v", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.ps.Name) {
				t.Fatalf("got %v, want an error naming %s and saying %q", err, tt.ps.Name, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("%v is not %v", err, tt.is)
			}
		})
	}
}

func TestSource(t *testing.T) {
	env := &spec.Environment{Spec: spec.EnvironmentSpec{Providers: []spec.ProviderSpec{
		{Name: "router", Type: "builtin"},
		{Name: "prom", Type: "prometheus", URL: "http://127.0.0.1:9090"},
	}}}
	s := providers.NewSource(providers.Types, verify.Deps{Metrics: counters{}})
	ctx := context.Background()
	a, err := s.Provider(ctx, "prod", env, "router")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Provider(ctx, "prod", env, "router")
	if a != b {
		t.Fatalf("the same provider was built twice; its readings would be lost")
	}
	p1, _ := s.Provider(ctx, "prod", env, "prom")
	env.Spec.Providers[1].URL = "http://127.0.0.1:9091"
	p2, _ := s.Provider(ctx, "prod", env, "prom")
	if p1 == p2 {
		t.Fatalf("a changed spec did not rebuild the provider")
	}
	if _, err := s.Provider(ctx, "prod", env, "nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown name: %v", err)
	}
}

type namedCounters string

func (n namedCounters) Metrics(string) (proxy.MetricsSnapshot, error) {
	return proxy.MetricsSnapshot{}, errors.New("router of " + string(n))
}

func TestSourcePerEnvironmentMetrics(t *testing.T) {
	env := &spec.Environment{Spec: spec.EnvironmentSpec{Providers: []spec.ProviderSpec{{Name: "router", Type: "builtin"}}}}
	s := providers.NewSource(providers.Types, verify.Deps{}, providers.PerEnvironmentMetrics(func(envName string) verify.MetricsSource {
		if envName == "none" {
			return nil
		}
		return namedCounters(envName)
	}))
	ctx := context.Background()
	for _, name := range []string{"prod", "staging"} {
		p, err := s.Provider(ctx, name, env, "router")
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Query(ctx, verify.Query{Text: "requests", Service: "shop", Slot: "blue"})
		if err == nil || !strings.Contains(err.Error(), "router of "+name) {
			t.Fatalf("%s read %v", name, err)
		}
	}
	if _, err := s.Provider(ctx, "none", env, "router"); err == nil || !strings.Contains(err.Error(), "built-in router") {
		t.Fatalf("environment without a builtin router: %v", err)
	}
}
