package kubernetes_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
)

// TestHPAOnASlot checks on the real control plane what docs/kubernetes.md says about
// an HorizontalPodAutoscaler that targets a slot's Deployment: the autoscaler moves the
// replicas sluice deployed into its bounds and takes over the field; Status reports
// the autoscaler's count (so the engine's "100% of the live slot" follows it); a slot
// sluice scales to 0 stays at 0 (an autoscaler does not scale from zero); and the next
// Deploy writes sluice's count again, which the autoscaler then corrects once more.
// kube.sh runs the autoscaler every second; on a control plane with the default 15 s
// period the test only waits longer.
func TestHPAOnASlot(t *testing.T) {
	cfg := restConfig(t)
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(t, cs)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := kubernetes.New(cfg, kubernetes.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	ref := platform.SlotRef{Service: "shop", Slot: platform.Green}
	deploy := func(n int, key string) {
		t.Helper()
		d := platform.Deployment{Ref: ref, Artifact: imageV1, Instances: n, Port: 8080, Key: key}
		if err := p.Deploy(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	deploy(2, "first")
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, hpa("shop-green", 4, 6), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDesired(ctx, t, p, ref, 4, "the autoscaler raises 2 to its minimum")
	if owners := replicasOwner(ctx, t, cs, ns, "shop-green"); slices.Contains(owners, kubernetes.FieldManager) || len(owners) == 0 {
		t.Errorf("spec.replicas owned by %v after the autoscaler changed it; want the autoscaler's manager only", owners)
	} else {
		t.Logf("spec.replicas owned by %v", owners)
	}

	if err := p.Scale(ctx, ref, 0, "down"); err != nil {
		t.Fatal(err)
	}
	waitDesired(ctx, t, p, ref, 0, "scaled down")
	time.Sleep(3 * time.Second) // three autoscaler periods at kube.sh's 1 s
	if st, err := p.Status(ctx, ref); err != nil || st.Desired != 0 {
		t.Fatalf("a slot scaled to 0 under an autoscaler: %+v, %v; want it to stay at 0", st, err)
	}

	deploy(2, "again")
	if st, err := p.Status(ctx, ref); err != nil || st.Desired != 2 && st.Desired != 4 {
		t.Fatalf("after Deploy of 2: %+v, %v", st, err)
	}
	waitDesired(ctx, t, p, ref, 4, "the autoscaler corrects sluice's 2 again")
}

// hpa is an autoscaler on a Deployment with bounds; its CPU target cannot be measured on
// simulated nodes, so only the bounds act.
func hpa(target string, lo, hi int32) *autoscalingv2.HorizontalPodAutoscaler {
	util := int32(50)
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: target},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target},
			MinReplicas:    &lo,
			MaxReplicas:    hi,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &util},
				},
			}},
		},
	}
}

// waitDesired polls Status until the slot's desired count is n.
func waitDesired(ctx context.Context, t *testing.T, p *kubernetes.Platform, ref platform.SlotRef, n int, what string) {
	t.Helper()
	start := time.Now()
	for {
		st, err := p.Status(ctx, ref)
		if err == nil && st.Desired == n {
			t.Logf("%s: %d desired after %v", what, n, time.Since(start).Round(100*time.Millisecond))
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: desired %d never reached (last %+v, %v)", what, n, st, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// replicasOwner returns the field managers that own the Deployment's spec.replicas.
func replicasOwner(ctx context.Context, t *testing.T, cs k8s.Interface, ns, name string) []string {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var owners []string
	for _, m := range d.ManagedFields {
		var fields struct {
			Spec map[string]any `json:"f:spec"`
		}
		if m.FieldsV1 == nil || json.Unmarshal(m.FieldsV1.GetRawBytes(), &fields) != nil {
			continue
		}
		if _, ok := fields.Spec["f:replicas"]; ok {
			owners = append(owners, m.Manager)
		}
	}
	return owners
}
