package server

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
)

var undoFiles = prodRecorder + `---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: prod
  variables:
    - {name: version, type: string, required: true}
    - {name: delay, type: duration, default: 0s}
  service: {name: shop, port: 8080, artifact: "shop:${version}"}
  phases:
    - name: release
      steps:
        - deploy: {instances: 1}
        - traffic: 100%
        - promote: {}
        - scaledown: {delay: "${delay}"}
`

// TestUndo releases v1, then v2 with an hour's scale-down delay: undo while v1's slot
// is warm rolls v2 back, putting all traffic on v1's slot. Then v3 without delay: undo
// once its old slot is gone runs v1's release again.
func TestUndo(t *testing.T) {
	c := startChild(t, t.TempDir(), "")
	ctx := context.Background()
	if _, err := c.client.Apply(ctx, "shop.yaml", []byte(undoFiles), false); err != nil {
		t.Fatal(err)
	}
	release := func(version, delay string) string {
		t.Helper()
		ex, err := c.client.Run(ctx, "shop", 0, map[string]string{"version": version, "delay": delay})
		if err != nil {
			t.Fatal(err)
		}
		return ex.ID
	}
	live := func() api.Service {
		t.Helper()
		list, err := c.client.Services(ctx, "prod")
		if err != nil || len(list) != 1 {
			t.Fatalf("services: %v %v", list, err)
		}
		return list[0]
	}
	v1 := release("v1", "0s")
	if got := waitTerminal(t, c, v1); got.Status != "succeeded" {
		t.Fatalf("v1: %s (%s)", got.Status, got.Reason)
	}
	v1Slot := live().LiveSlot

	v2 := release("v2", "1h")
	waitPromoted(ctx, t, c.client, v2) // v2 is live; its old slot waits an hour
	start := time.Now()
	res, err := c.client.Undo(ctx, "prod", "shop", "checkout errors")
	if err != nil || res.Mode != api.UndoSwitch || res.Execution != v2 {
		t.Fatalf("undo while warm: %+v %v", res, err)
	}
	got := waitTerminal(t, c, v2)
	t.Logf("undo while warm: v2 rolled back, all traffic on %s, %s after the request", v1Slot, time.Since(start).Round(time.Millisecond))
	if got.Status != "rolled_back" || got.Reason == "" {
		t.Fatalf("v2 after undo: %s (%s)", got.Status, got.Reason)
	}
	if s := live(); s.LiveSlot != v1Slot || s.Artifact != "shop:v1" || s.Instances != 1 {
		t.Fatalf("after undo the service reads %s %s x%d, want %s shop:v1 x1 (v1's)", s.LiveSlot, s.Artifact, s.Instances, v1Slot)
	}

	v3 := release("v3", "0s")
	if got := waitTerminal(t, c, v3); got.Status != "succeeded" {
		t.Fatalf("v3: %s (%s)", got.Status, got.Reason)
	}
	res, err = c.client.Undo(ctx, "prod", "shop", "")
	if err != nil || res.Mode != api.UndoRedeploy {
		t.Fatalf("undo after the old slot is gone: %+v %v", res, err)
	}
	if got := waitTerminal(t, c, res.Execution); got.Status != "succeeded" {
		t.Fatalf("redeploy of v1: %s (%s)", got.Status, got.Reason)
	}
	ex, err := c.client.GetExecution(ctx, res.Execution)
	if err != nil || ex.Variables["version"] != "v1" {
		t.Fatalf("the undo ran %+v (%v), want v1's release", ex.Variables, err)
	}
	if s := live(); s.Artifact != "shop:v1" {
		t.Fatalf("live artifact after the redeploy %s, want shop:v1", s.Artifact)
	}
	if _, err := c.client.Undo(ctx, "prod", "nothing", ""); err == nil {
		t.Fatal("undo of a service without releases succeeded")
	}
}
