package istio

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestValidateVirtualService(t *testing.T) {
	const host = "shop.prod.svc.cluster.local"
	dest := func(subset string, weight int64) any {
		return map[string]any{"destination": map[string]any{"host": host, "subset": subset}, "weight": weight}
	}
	vs := func(hosts []any, dests ...any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"metadata": map[string]any{"name": "shop"},
			"spec":     map[string]any{"hosts": hosts, "http": []any{map[string]any{"name": "sluice", "route": dests}}},
		}}
	}
	ok := []any{host}
	tests := []struct {
		name string
		vs   *unstructured.Unstructured
		want string // substring of the error; empty for none
	}{
		{"valid split", vs(ok, dest("green", 90), dest("blue", 10)), ""},
		{"single destination without weight", vs(ok, dest("green", 0)), ""},
		{"sum over 100", vs(ok, dest("green", 60), dest("blue", 60)), "sum to 120"},
		{"sum under 100", vs(ok, dest("green", 0), dest("blue", 0)), "sum to 0"},
		{"negative weight", vs(ok, dest("green", 110), dest("blue", -10)), "outside 0-100"},
		{"unknown subset", vs(ok, dest("green", 50), dest("canary", 50)), `subset "canary" is not defined`},
		{"invalid host", vs([]any{"Shop_Host"}, dest("green", 100)), `host "Shop_Host"`},
		{"wildcard host", vs([]any{"*.example.com"}, dest("green", 100)), ""},
		{"no hosts", vs([]any{}, dest("green", 100)), "spec.hosts is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := validateVirtualService(tc.vs, host, []string{"green", "blue"})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("no error, want one containing %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}
