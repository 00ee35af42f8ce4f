package kubernetes_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sluicehq/sluice/internal/platform/kubernetes"
)

// restConfig returns the configuration of the test control plane started by
// scripts/kube.sh; without one the test skips, or fails under CI=true.
func restConfig(t *testing.T) *rest.Config {
	t.Helper()
	path := os.Getenv("SLUICE_TEST_KUBECONFIG")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SLUICE_TEST_KUBECONFIG is not set under CI=true: start a control plane with eval \"$(scripts/kube.sh start)\"")
		}
		t.Skip("SLUICE_TEST_KUBECONFIG is not set; run eval \"$(scripts/kube.sh start)\" to test against a real API server")
	}
	cfg, err := kubernetes.RESTConfig(path, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg
}

// namespace creates a namespace for one test and deletes it afterwards.
func namespace(t *testing.T, cs k8s.Interface) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "sluice-platform-" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	return name
}
