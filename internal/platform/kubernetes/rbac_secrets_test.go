package kubernetes_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
)

// TestRBACSecrets checks that the ServiceAccount of deploy/rbac.yaml may get a
// Secret by name, which credentials written as secret: {name, key} need, and may
// not list the namespace's Secrets.
func TestRBACSecrets(t *testing.T) {
	admin := restConfig(t)
	cfg, ns := restrictedConfig(t, admin)
	adminCS, err := k8s.NewForConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "newrelic"}, StringData: map[string]string{"api-key": "nrak-rbac-test"}}
	if _, err := adminCS.CoreV1().Secrets(ns).Create(t.Context(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().Secrets(ns).Get(t.Context(), "newrelic", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get a Secret as sluice: %v", err)
	}
	if string(got.Data["api-key"]) != "nrak-rbac-test" {
		t.Fatalf("the Secret's key reads %q", got.Data["api-key"])
	}
	if _, err := cs.CoreV1().Secrets(ns).List(t.Context(), metav1.ListOptions{}); err == nil {
		t.Fatal("sluice may list Secrets; deploy/rbac.yaml should grant get only")
	}
}
