package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sluicehq/sluice/internal/platform/kubernetes"
)

// Kubeconfig returns the path of the test control plane's kubeconfig, from
// SLUICE_TEST_KUBECONFIG; without one the test skips, or fails under CI=true.
func Kubeconfig(t testing.TB) string {
	t.Helper()
	path := os.Getenv("SLUICE_TEST_KUBECONFIG")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SLUICE_TEST_KUBECONFIG is not set under CI=true: start a control plane with eval \"$(scripts/kube.sh start)\"")
		}
		t.Skip("SLUICE_TEST_KUBECONFIG is not set; run eval \"$(scripts/kube.sh start)\" to test against a real API server")
	}
	return path
}

// Config returns the configuration of the test control plane (see Kubeconfig).
func Config(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := kubernetes.RESTConfig(Kubeconfig(t), "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg
}

// Namespace creates a namespace named prefix plus a random suffix for one test and
// deletes it when the test ends.
func Namespace(t testing.TB, cs k8s.Interface, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
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

// Clientset returns a clientset for cfg, failing the test on error.
func Clientset(t testing.TB, cfg *rest.Config) k8s.Interface {
	t.Helper()
	cs, err := k8s.NewForConfig(cfg)
	fatalIf(t, err)
	return cs
}

// Dynamic returns a dynamic client for cfg, failing the test on error.
func Dynamic(t testing.TB, cfg *rest.Config) dynamic.Interface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	fatalIf(t, err)
	return dyn
}

// fatalIf fails the test when err is not nil.
func fatalIf(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
