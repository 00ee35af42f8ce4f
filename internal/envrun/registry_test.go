package envrun

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/spec"
)

// TestRegistryCoversTheFormat checks that the registry has a kind for exactly
// the platform, router and provider types the spec accepts: no type validates
// and then fails to build, and no kind is unreachable.
func TestRegistryCoversTheFormat(t *testing.T) {
	reg := Builtin()
	for _, tc := range []struct {
		what       string
		registered []string
		format     []string
	}{
		{"platform", slices.Sorted(maps.Keys(reg.Platforms)), spec.PlatformTypes},
		{"router", slices.Sorted(maps.Keys(reg.Routers)), spec.RouterTypes},
		{"provider", slices.Sorted(maps.Keys(reg.Providers)), spec.ProviderTypes},
	} {
		if want := slices.Sorted(slices.Values(tc.format)); !slices.Equal(tc.registered, want) {
			t.Errorf("%s kinds %v, want the spec's %v", tc.what, tc.registered, want)
		}
	}
	for name, k := range reg.Providers {
		if k.Validate == nil || k.New == nil {
			t.Errorf("provider kind %s lacks its check or its constructor", name)
		}
	}
}

// TestCheck checks an environment's settings with the kinds: a good one has no
// problem, a workflow has nothing to check, and a bad provider setting is a
// problem at the field the provider names.
func TestCheck(t *testing.T) {
	const env = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  platform: {type: recorder, recorder: {file: r.jsonl}}
  router: {type: recorder, recorder: {file: r.jsonl}}
  providers:
    - name: prom
      type: prometheus
      url: http://prometheus:9090
      settings:
        step: %s
`
	reg := Builtin()
	good, err := spec.ParseDocuments("good.yaml", []byte(strings.Replace(env, "%s", "15s", 1)))
	if err != nil {
		t.Fatal(err)
	}
	good = append(good, spec.Document{Kind: spec.KindWorkflow, Name: "shop"}) // nothing to check
	if ps := reg.CheckDocuments(good); ps != nil {
		t.Fatalf("good documents: %v", ps)
	}
	bad, err := spec.ParseDocuments("bad.yaml", []byte(strings.Replace(env, "%s", "-1s", 1)))
	if err != nil {
		t.Fatal(err)
	}
	ps := reg.CheckDocuments(bad)
	if len(ps) != 1 || ps[0].Path != "spec.providers[0].settings.step" || ps[0].Pos.Line != 12 ||
		!strings.Contains(ps[0].Message, `provider prom: prometheus: setting step "-1s" is not a positive duration`) {
		t.Fatalf("problems %v, want one at bad.yaml:12 on spec.providers[0].settings.step", ps)
	}
}
