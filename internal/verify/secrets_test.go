package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// fakeSecrets is a Kubernetes API with Secrets keyed "namespace/name".
type fakeSecrets map[string]map[string]string

func (f fakeSecrets) Get(_ context.Context, namespace, name, key string) ([]byte, error) {
	s, ok := f[namespace+"/"+name]
	if !ok {
		return nil, errors.New("not found")
	}
	v, ok := s[key]
	if !ok {
		return nil, errors.New("no such key")
	}
	return []byte(v), nil
}

// TestResolveKubernetesSecrets resolves references to Kubernetes Secrets: in the
// environment's namespace by default, in the named one otherwise; a missing
// Secret or key is an error that names the reference and never a value.
func TestResolveKubernetesSecrets(t *testing.T) {
	const value = "s3cr3t-value"
	getter := fakeSecrets{"shop/nr": {"api-key": value + "\n"}, "ops/nr": {"api-key": "other-value"}}
	ref := func(ns, name, key string) spec.SecretRef {
		return spec.SecretRef{Secret: &spec.KubernetesSecretRef{Namespace: ns, Name: name, Key: key}}
	}
	cases := []struct {
		name    string
		deps    verify.Deps
		ref     spec.SecretRef
		want    string
		wantErr string
	}{
		{"default namespace", verify.Deps{KubeSecrets: getter, KubeNamespace: "shop"}, ref("", "nr", "api-key"), value, ""},
		{"named namespace", verify.Deps{KubeSecrets: getter, KubeNamespace: "shop"}, ref("ops", "nr", "api-key"), "other-value", ""},
		{"missing key", verify.Deps{KubeSecrets: getter, KubeNamespace: "shop"}, ref("", "nr", "apikey"),
			"", "credential apiKey: secret shop/nr key apikey: no such key"},
		{"missing secret", verify.Deps{KubeSecrets: getter, KubeNamespace: "shop"}, ref("", "newrelic", "api-key"),
			"", "credential apiKey: secret shop/newrelic key api-key: not found"},
		{"no kubernetes", verify.Deps{}, ref("", "nr", "api-key"),
			"", "credential apiKey: secret nr key api-key: Kubernetes Secrets need an environment on the kubernetes platform"},
		{"env and secret", verify.Deps{KubeSecrets: getter}, spec.SecretRef{Env: "HOME", Secret: ref("", "nr", "k").Secret},
			"", "credential apiKey: set exactly one of env, file and secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var registered []string
			tc.deps.Register = func(v ...string) { registered = append(registered, v...) }
			s, err := tc.deps.ResolveSecrets(context.Background(), map[string]spec.SecretRef{"apiKey": tc.ref})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got error %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "value") {
					t.Errorf("error shows a value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Get("apiKey"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if len(registered) != 1 || registered[0] != tc.want {
				t.Errorf("registered %q, want the value", registered)
			}
		})
	}
}
