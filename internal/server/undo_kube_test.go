package server

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/platform/kubernetes/kubetest"
	"github.com/sluicehq/sluice/internal/store"
)

// undoKubeFiles release the team's Deployment with the image ${image} behind an Istio
// VirtualService, keeping the old slot warm for ${delay}. %[1]s namespace, %[2]s
// kubeconfig.
const undoKubeFiles = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: istio}
spec:
  platform: {type: kubernetes, kubernetes: {namespace: %[1]s, kubeconfig: %[2]s}}
  router: {type: istio, istio: {namespace: %[1]s, gateway: shop-gateway, hosts: [shop.example.com]}}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: istio
  variables:
    - {name: image, type: string, required: true}
    - {name: delay, type: duration, default: 0s}
  service: {name: shop, port: 9000, artifact: "${image}", workloadRef: {name: shop}}
  phases:
    - name: release
      steps:
        - service: {hosts: [shop.example.com], gateway: shop-gateway}
        - deploy: {instances: 1}
        - traffic: 100%%
        - promote: {}
        - scaledown: {delay: "${delay}"}
`

// TestUndoOnKubernetes releases v1, then v2 with an hour's scale-down delay, on the
// test control plane with the istio router: undo while v1's slot is warm puts all
// of the VirtualService's weight back on v1's slot without a new rollout, and v1's
// Deployment kept its replicas. The time from the request to the VirtualService read
// back is logged (measured, not asserted: the machine may be loaded).
func TestUndoOnKubernetes(t *testing.T) {
	cfg := kubetest.Config(t)
	cs := kubetest.Clientset(t, cfg)
	dyn := kubetest.Dynamic(t, cfg)
	ns := kubetest.Namespace(t, cs, "undo-")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	createTeamDeployment(ctx, t, cs, ns)
	c := startKubeServer(t)
	if _, err := c.Apply(ctx, "shop.yaml", []byte(fmt.Sprintf(undoKubeFiles, ns, kubetest.Kubeconfig(t))), false); err != nil {
		t.Fatal(err)
	}
	release := func(image, delay string) string {
		t.Helper()
		ex, err := c.Run(ctx, "shop", 0, map[string]string{"image": image, "delay": delay})
		if err != nil {
			t.Fatal(err)
		}
		return ex.ID
	}
	live := func() api.Service {
		t.Helper()
		list, err := c.Services(ctx, "istio")
		if err != nil || len(list) != 1 {
			t.Fatalf("services: %v %v", list, err)
		}
		return list[0]
	}
	if got := waitKubeTerminal(ctx, t, c, release("registry.example.com/shop:v1", "0s")); got.Status != store.StatusSucceeded {
		t.Fatalf("v1: %s (%s)", got.Status, got.Reason)
	}
	v1Slot := live().LiveSlot
	v2 := release("registry.example.com/shop:v2", "1h")
	waitPromoted(ctx, t, c, v2) // v2 is live; its old slot waits an hour
	start := time.Now()
	res, err := c.Undo(ctx, "istio", "shop", "checkout errors")
	if err != nil || res.Mode != api.UndoSwitch || res.Execution != v2 {
		t.Fatalf("undo while warm: %+v %v", res, err)
	}
	for {
		green, blue, err := readWeights(ctx, dyn, ns)
		if err == nil && ((v1Slot == "green" && green == 100) || (v1Slot == "blue" && blue == 100)) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("VirtualService after undo: green %d blue %d (%v), want 100 on %s", green, blue, err, v1Slot)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("undo while warm: the VirtualService read back 100%% on %s %s after the request",
		v1Slot, time.Since(start).Round(time.Millisecond))
	if got := waitKubeTerminal(ctx, t, c, v2); got.Status != store.StatusRolledBack {
		t.Fatalf("v2 after undo: %s (%s)", got.Status, got.Reason)
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop-"+v1Slot, metav1.GetOptions{})
	if err != nil || d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Template.Spec.Containers[0].Image != "registry.example.com/shop:v1" {
		t.Fatalf("v1's slot after undo: %+v %v, want 1 replica of shop:v1", d.Spec, err)
	}
	if s := live(); s.LiveSlot != v1Slot || s.Artifact != "registry.example.com/shop:v1" {
		t.Fatalf("after undo the service reads %s %s, want %s registry.example.com/shop:v1", s.LiveSlot, s.Artifact, v1Slot)
	}
}

// waitPromoted polls an execution until it has made its release live.
func waitPromoted(ctx context.Context, t *testing.T, c *client.Client, id string) {
	t.Helper()
	for {
		ex, err := c.GetExecution(ctx, id)
		if err != nil {
			t.Fatalf("execution %s: %v", id, err)
		}
		var st struct {
			Promoted bool `json:"promoted"`
		}
		if json.Unmarshal(ex.State, &st) == nil && st.Promoted {
			return
		}
		if ex.Status.Terminal() || ctx.Err() != nil {
			t.Fatalf("execution %s is %s (%s) and never made its release live", id, ex.Status, ex.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitKubeTerminal polls an execution until it ends.
func waitKubeTerminal(ctx context.Context, t *testing.T, c *client.Client, id string) api.Execution {
	t.Helper()
	for {
		ex, err := c.GetExecution(ctx, id)
		if err != nil {
			t.Fatalf("execution %s: %v", id, err)
		}
		if ex.Status.Terminal() {
			return ex
		}
		select {
		case <-ctx.Done():
			t.Fatalf("execution %s still %s", id, ex.Status)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
