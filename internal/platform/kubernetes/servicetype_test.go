package kubernetes_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
)

// TestServiceTypeOfTheStep checks on the real API server that the deployment's
// service type (the workflow's service step) wins over the environment's, that the
// environment's applies when the step names none, and that a type changes in place.
func TestServiceTypeOfTheStep(t *testing.T) {
	cfg := restConfig(t)
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(t, cs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		env, step string
		want      corev1.ServiceType
	}{
		{"", "", corev1.ServiceTypeClusterIP},
		{"", "LoadBalancer", corev1.ServiceTypeLoadBalancer},
		{"LoadBalancer", "", corev1.ServiceTypeLoadBalancer},
		{"LoadBalancer", "ClusterIP", corev1.ServiceTypeClusterIP},
		{"ClusterIP", "NodePort", corev1.ServiceTypeNodePort},
	}
	for i, tc := range tests {
		p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns, ServiceType: corev1.ServiceType(tc.env)})
		if err != nil {
			t.Fatal(err)
		}
		d := platform.Deployment{
			Ref: platform.SlotRef{Service: "shop", Slot: platform.Blue}, Artifact: imageV1, Instances: 1,
			Port: 8080, ServiceType: tc.step, Key: string(rune('a' + i)),
		}
		if err := p.Deploy(ctx, d); err != nil {
			t.Fatalf("env %q step %q: %v", tc.env, tc.step, err)
		}
		svc, err := cs.CoreV1().Services(ns).Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.Type != tc.want {
			t.Errorf("env %q step %q: stable Service is %s, want %s", tc.env, tc.step, svc.Spec.Type, tc.want)
		}
		slot, err := cs.CoreV1().Services(ns).Get(ctx, "shop-blue", metav1.GetOptions{})
		if err != nil || slot.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("the slot's Service must stay ClusterIP: %v, %v", slot.Spec.Type, err)
		}
	}
	p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	bad := platform.Deployment{Ref: platform.SlotRef{Service: "shop", Slot: platform.Blue}, Artifact: imageV1, Instances: 1, Port: 8080, ServiceType: "ExternalName", Key: "bad"}
	if err := p.Deploy(ctx, bad); err == nil {
		t.Fatal("Deploy with service type ExternalName succeeded")
	}
}
