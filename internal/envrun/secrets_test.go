package envrun

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/providers"
)

// TestKubernetesSecretCredentials builds an http provider through providers.Source
// whose API key is a key of a Kubernetes Secret on scripts/kube.sh's control plane,
// and checks that the key is sent and registered for masking, that a Secret in
// another namespace can be named, and that a missing Secret or key is an error
// naming the reference and never a value.
func TestKubernetesSecretCredentials(t *testing.T) {
	kubeconfig := kubetest.Kubeconfig(t)
	cs := kubeClient(t, kubeconfig)
	ns, other := secretNamespace(t, cs), secretNamespace(t, cs)
	apiKey, otherKey := "nrak-"+randomHex(t), "nrak-"+randomHex(t)
	createSecret(t, cs, ns, "newrelic", map[string]string{"api-key": apiKey})
	createSecret(t, cs, other, "newrelic", map[string]string{"api-key": otherKey})

	var seen atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("X-Api-Key"))
		fmt.Fprint(rw, `{"value": 1}`)
	}))
	t.Cleanup(api.Close)
	w := New(Builtin(), Options{DataDir: t.TempDir()})
	defer w.Close()
	var registered []string
	src := providers.NewSource(providers.Types, verify.Deps{Register: func(v ...string) { registered = append(registered, v...) }},
		providers.PerEnvironmentSecrets(w.kubeSecretsOf))
	tests := []struct {
		name    string
		ref     spec.KubernetesSecretRef
		want    string
		wantErr string
	}{
		{"environment namespace", spec.KubernetesSecretRef{Name: "newrelic", Key: "api-key"}, apiKey, ""},
		{"named namespace", spec.KubernetesSecretRef{Namespace: other, Name: "newrelic", Key: "api-key"}, otherKey, ""},
		{"missing key", spec.KubernetesSecretRef{Name: "newrelic", Key: "apikey"}, "",
			"credential header.X-Api-Key: secret " + ns + "/newrelic key apikey: the Secret has no key apikey (it has: api-key)"},
		{"missing secret", spec.KubernetesSecretRef{Name: "datadog", Key: "api-key"}, "",
			"credential header.X-Api-Key: secret " + ns + "/datadog key api-key: secrets \"datadog\" not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := &spec.Environment{Spec: spec.EnvironmentSpec{
				Platform: spec.PlatformSpec{Type: "kubernetes", Kubernetes: &spec.KubernetesPlatformSpec{Kubeconfig: kubeconfig, Namespace: ns}},
				Providers: []spec.ProviderSpec{{Name: "api", Type: "http", URL: api.URL, Settings: map[string]string{"path": "value"},
					Credentials: map[string]spec.SecretRef{"header.X-Api-Key": {Secret: &tc.ref}}}},
			}}
			p, err := src.Provider(t.Context(), "kube-secrets", env, "api")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Provider: %v, want an error containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), apiKey) || strings.Contains(err.Error(), otherKey) {
					t.Fatalf("error shows a secret value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Query(t.Context(), verify.Query{Text: "x", Slot: "blue", End: time.Now(), Window: time.Minute}); err != nil {
				t.Fatal(err)
			}
			if seen.Load() != tc.want {
				t.Errorf("provider sent X-Api-Key %q, want the Secret's value", seen)
			}
			if len(registered) == 0 || registered[len(registered)-1] != tc.want {
				t.Errorf("the value was not registered for masking")
			}
		})
	}
}

func kubeClient(t *testing.T, _ string) k8s.Interface {
	return kubetest.Clientset(t, kubetest.Config(t))
}

func randomHex(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// secretNamespace creates a namespace for one test and deletes it afterwards.
func secretNamespace(t *testing.T, cs k8s.Interface) string {
	return kubetest.Namespace(t, cs, "sluice-secrets-")
}

func createSecret(t *testing.T, cs k8s.Interface, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	if _, err := cs.CoreV1().Secrets(ns).Create(t.Context(), s, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create secret: %v", err)
	}
}

// TestKubernetesSecretNotifier resolves a notifier's Slack URL from a Kubernetes
// Secret the way the dispatcher does, and checks it is masked from then on and that
// an environment off the kubernetes platform cannot read Secrets.
func TestKubernetesSecretNotifier(t *testing.T) {
	kubeconfig := kubetest.Kubeconfig(t)
	cs := kubeClient(t, kubeconfig)
	ns := secretNamespace(t, cs)
	url := "https://hooks.slack.com/services/T1/B1/" + randomHex(t)
	createSecret(t, cs, ns, "slack", map[string]string{"url": url})
	w := New(Builtin(), Options{DataDir: t.TempDir()})
	defer w.Close()
	kube := &spec.Environment{Spec: spec.EnvironmentSpec{
		Platform: spec.PlatformSpec{Type: "kubernetes", Kubernetes: &spec.KubernetesPlatformSpec{Kubeconfig: kubeconfig, Namespace: ns}}}}
	local := &spec.Environment{Spec: spec.EnvironmentSpec{Platform: spec.PlatformSpec{Type: "local"}}}
	ref := func(key string) spec.SecretRef {
		return spec.SecretRef{Secret: &spec.KubernetesSecretRef{Name: "slack", Key: key}}
	}
	got, err := w.ResolveSecret(t.Context(), "prod", kube, ref("url"))
	if err != nil || got != url {
		t.Fatalf("ResolveSecret = %q, %v; want the Secret's value", got, err)
	}
	if masked := secrets.Default.String("posting to " + url); strings.Contains(masked, url) {
		t.Errorf("the resolved URL is not masked: %s", masked)
	}
	for _, tc := range []struct {
		name    string
		env     *spec.Environment
		key     string
		wantErr string
	}{
		{"missing key", kube, "uri", "secrets: secret " + ns + "/slack key uri: secret not set: the Secret has no key uri (it has: url)"},
		{"not kubernetes", local, "url", "secrets: secret slack key url: environment dev is not on the kubernetes platform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.ResolveSecret(t.Context(), "dev", tc.env, ref(tc.key))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ResolveSecret: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
