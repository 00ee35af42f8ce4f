package kubernetes_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
)

// TestControlPlane checks what every other test here relies on: scripts/kube.sh's API
// server answers client-go, its simulated nodes are Ready, and it serves the real Istio
// and Gateway API resources.
func TestControlPlane(t *testing.T) {
	cs, err := k8s.NewForConfig(restConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := 0
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready == 0 {
		t.Errorf("no Ready node among %d", len(nodes.Items))
	}
	tests := []struct {
		groupVersion string
		resources    []string
	}{
		{"networking.istio.io/v1", []string{"virtualservices", "destinationrules", "gateways"}},
		{"gateway.networking.k8s.io/v1", []string{"httproutes", "gateways"}},
	}
	for _, tc := range tests {
		t.Run(tc.groupVersion, func(t *testing.T) {
			list, err := cs.Discovery().ServerResourcesForGroupVersion(tc.groupVersion)
			if err != nil {
				t.Fatalf("the API server does not serve %s: %v", tc.groupVersion, err)
			}
			have := map[string]bool{}
			for _, r := range list.APIResources {
				have[r.Name] = true
			}
			for _, r := range tc.resources {
				if !have[r] {
					t.Errorf("%s does not serve %s", tc.groupVersion, r)
				}
			}
		})
	}
}
