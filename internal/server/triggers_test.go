package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/notify"
)

var triggerFiles = prodRecorder + `---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: prod
  variables:
    - {name: version, type: string, required: true}
  service: {name: shop, port: 8080, artifact: "shop:${version}"}
  phases:
    - name: release
      steps:
        - deploy: {instances: 1}
        - traffic: 100%
        - promote: {}
  triggers:
    - name: ci
      type: webhook
      environment: prod
      secret: {env: SHOP_HOOK_SECRET}
      variables: {version: build.version}
`

// TestSignedWebhookReleases starts a real server whose trigger secret comes from its
// environment variables: a signed delivery runs the release to the end with the
// payload's version; the same delivery again and an unsigned one start nothing.
func TestSignedWebhookReleases(t *testing.T) {
	const key = "whsec-5b1e0c"
	c := startChild(t, t.TempDir(), "", "SHOP_HOOK_SECRET="+key)
	ctx := context.Background()
	if _, err := c.client.Apply(ctx, "shop.yaml", []byte(triggerFiles), false); err != nil {
		t.Fatal(err)
	}
	addr, err := os.ReadFile(filepath.Join(c.dir, "addr"))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"build": {"version": "v7"}}`)
	post := func(secret, delivery string) (int, map[string]any) {
		t.Helper()
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req, err := http.NewRequest("POST", "http://"+string(addr)+"/api/v1/hooks/shop/ci", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(notify.HeaderTimestamp, ts)
		req.Header.Set(notify.HeaderSignature, notify.Sign(secret, ts, body))
		req.Header.Set(notify.HeaderDelivery, delivery)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, out := post(key, "d-1")
	if code != http.StatusCreated {
		t.Fatalf("signed delivery: %d %v\n%s", code, out, c.stderr)
	}
	id, _ := out["id"].(string)
	if got := waitTerminal(t, c, id); got.Status != "succeeded" {
		t.Fatalf("triggered release: %s (%s)", got.Status, got.Reason)
	}
	ex, err := c.client.GetExecution(ctx, id)
	if err != nil || ex.StartedBy != "trigger:shop/ci" || ex.Variables["version"] != "v7" {
		t.Fatalf("execution %+v, %v: want started by trigger:shop/ci with version v7", ex, err)
	}
	if code, out = post(key, "d-1"); code != http.StatusConflict {
		t.Fatalf("replayed delivery: %d %v", code, out)
	}
	if code, out = post("not-the-key", "d-2"); code != http.StatusUnauthorized {
		t.Fatalf("unsigned delivery: %d %v", code, out)
	}
	list, err := c.client.ListExecutions(ctx, client.ExecutionFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("%d executions (%v), want only the signed delivery's", len(list), err)
	}
}
