package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/notify"
	"github.com/sluicehq/sluice/internal/spec"
)

// triggerWorkflow releases shop; its triggers may start runs in staging only, and
// "wide" maps the environment from the payload, which must not let it leave staging.
const triggerWorkflow = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: "${env}"
  variables:
    - {name: env, type: string, default: staging}
    - {name: version, type: string, required: true}
  service: {name: shop, port: 8080, artifact: "shop:${version}"}
  phases:
    - name: setup
      steps: [{deploy: {instances: 1}}]
  triggers:
    - name: ci
      type: webhook
      environment: staging
      secret: {env: SHOP_HOOK}
      variables: {version: build.version}
    - name: harbor
      type: harbor
      environment: staging
      secret: {env: HARBOR_AUTH}
      variables: {version: tag}
    - name: wide
      type: webhook
      environment: staging
      secret: {env: SHOP_HOOK}
      variables: {version: build.version, env: target}
`

var hookSecrets = map[string]string{"SHOP_HOOK": "hook-key-1f9a", "HARBOR_AUTH": "Basic aGFyYm9yOnB1c2g="}

func newTriggerHarness(t *testing.T) *authHarness {
	h := newAuthHarness(t, func(d *api.Deps) {
		d.TriggerSecret = func(_ context.Context, env string, ref spec.SecretRef) (string, error) {
			if env != "staging" {
				t.Errorf("secret resolved for environment %s, want the trigger's (staging)", env)
			}
			return hookSecrets[ref.Env], nil
		}
	})
	h.user("root", auth.RoleAdmin, "*")
	h.seedDefinitions()
	if code, b := h.as("root", "POST", "/api/v1/apply", triggerWorkflow); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, b)
	}
	return h
}

// signed returns the headers of a generic webhook signed with key.
func signed(key, delivery string, body []byte) []string {
	ts := strconv.FormatInt(clock.Unix(), 10)
	return []string{"Content-Type: application/json", "X-Sluice-Request:", api.HeaderRequest + ":",
		notify.HeaderTimestamp + ": " + ts, notify.HeaderSignature + ": " + notify.Sign(key, ts, body),
		notify.HeaderDelivery + ": " + delivery}
}

func TestWebhookStartsARun(t *testing.T) {
	h := newTriggerHarness(t)
	body := []byte(`{"build": {"version": "1.4.2"}}`)
	code, b := h.do("POST", "/api/v1/hooks/shop/ci", string(body), signed(hookSecrets["SHOP_HOOK"], "build-87", body)...)
	if code != http.StatusCreated {
		t.Fatalf("signed webhook: %d %s", code, b)
	}
	c := h.spy.last()
	if c.Method != "Start" || c.Start.Workflow != "shop" || c.Start.Version != 1 || c.Start.Variables["version"] != "1.4.2" ||
		c.Start.StartedBy != "trigger:shop/ci" {
		t.Fatalf("engine got %+v", c)
	}

	// the same delivery again: refused, and nothing started
	calls := len(h.spy.calls)
	code, b = h.do("POST", "/api/v1/hooks/shop/ci", string(body), signed(hookSecrets["SHOP_HOOK"], "build-87", body)...)
	if code != http.StatusConflict || !strings.Contains(string(b), "delivery build-87 was already received") {
		t.Fatalf("replayed delivery: %d %s", code, b)
	}
	// a wrong signature, an unknown trigger, a payload without the field
	if code, b = h.do("POST", "/api/v1/hooks/shop/ci", string(body), signed("guessed", "build-88", body)...); code != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d %s", code, b)
	}
	// an unknown trigger is answered exactly as a bad signature: no list of triggers
	_, wrongKey := h.do("POST", "/api/v1/hooks/shop/ci", string(body), signed("guessed", "build-91", body)...)
	for _, path := range []string{"/api/v1/hooks/shop/nope", "/api/v1/hooks/nope/ci"} {
		code, b := h.do("POST", path, string(body), signed(hookSecrets["SHOP_HOOK"], "x", body)...)
		strip := func(b []byte, p string) string {
			return strings.ReplaceAll(string(b), strings.TrimPrefix(p, "/api/v1/hooks/"), "")
		}
		if code != http.StatusUnauthorized || strip(b, path) != strip(wrongKey, "/api/v1/hooks/shop/ci") {
			t.Fatalf("unknown trigger %s: %d %s, want the answer to a wrong key: %s", path, code, b, wrongKey)
		}
	}
	other := []byte(`{"build": {}}`)
	if code, b = h.do("POST", "/api/v1/hooks/shop/ci", string(other), signed(hookSecrets["SHOP_HOOK"], "build-89", other)...); code != http.StatusBadRequest ||
		!strings.Contains(string(b), "variable version: the payload has no build.version") {
		t.Fatalf("payload without the field: %d %s", code, b)
	}
	// a payload that names another environment cannot move the run out of staging
	prod := []byte(`{"build": {"version": "6.6.6"}, "target": "prod"}`)
	if code, b = h.do("POST", "/api/v1/hooks/shop/wide", string(prod), signed(hookSecrets["SHOP_HOOK"], "build-90", prod)...); code != http.StatusForbidden ||
		!strings.Contains(string(b), "may start runs in staging only; these variables give prod") {
		t.Fatalf("payload naming prod: %d %s", code, b)
	}
	if n := len(h.spy.calls); n != calls {
		t.Fatalf("%d more engine calls after the first run, want none", n-calls)
	}

	// the audit log has the run and the replay as entries of the trigger, and counts
	// the unsigned request among the rejected ones
	if err := h.rej.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := h.sqlite.ListAudit(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var started, replayed, rejected bool
	for _, e := range entries {
		switch {
		case e.Action == "trigger" && e.Actor == "trigger:shop/ci" && e.Status == http.StatusCreated:
			started = strings.Contains(e.Summary, "delivery build-87 of trigger ci started execution")
		case e.Action == "trigger" && e.Actor == "trigger:shop/ci" && e.Status == http.StatusConflict:
			replayed = e.Outcome == audit.OutcomeFailed
		case e.Action == audit.ActionRejected && e.Status == http.StatusUnauthorized && strings.Contains(e.Target, "/hooks/shop/ci"):
			rejected = e.Count >= 1
		}
		if strings.Contains(e.Summary, hookSecrets["SHOP_HOOK"]) {
			t.Fatalf("audit entry %+v shows the secret", e)
		}
	}
	if !started || !replayed || !rejected {
		js, _ := json.MarshalIndent(entries, "", "  ")
		t.Fatalf("audit: started %v, replayed %v, rejected %v in\n%s", started, replayed, rejected, js)
	}
}

// TestHarborAuthorizationIsNotASluiceCredential checks that Harbor's own
// Authorization header reaches the trigger instead of failing sluice's bearer check,
// and that a push event of another kind starts nothing.
func TestHarborAuthorizationIsNotASluiceCredential(t *testing.T) {
	h := newTriggerHarness(t)
	push := `{"type": "PUSH_ARTIFACT", "occur_at": ` + strconv.FormatInt(clock.Unix(), 10) + `, "operator": "ci",
		"event_data": {"resources": [{"digest": "sha256:954b", "tag": "v2.0.0", "resource_url": "harbor.example.com/library/shop:v2.0.0"}]}}`
	code, b := h.do("POST", "/api/v1/hooks/shop/harbor", push, "Content-Type: application/json", "Authorization: "+hookSecrets["HARBOR_AUTH"])
	if code != http.StatusCreated || h.spy.last().Start.Variables["version"] != "v2.0.0" {
		t.Fatalf("Harbor push: %d %s, engine got %+v", code, b, h.spy.last())
	}
	del := strings.Replace(push, "PUSH_ARTIFACT", "DELETE_ARTIFACT", 1)
	code, b = h.do("POST", "/api/v1/hooks/shop/harbor", del, "Content-Type: application/json", "Authorization: "+hookSecrets["HARBOR_AUTH"])
	if code != http.StatusAccepted || !strings.Contains(string(b), `"ignored"`) {
		t.Fatalf("Harbor delete: %d %s", code, b)
	}
	code, _ = h.do("POST", "/api/v1/hooks/shop/harbor", push, "Content-Type: application/json", "Authorization: Bearer "+h.tokens["root"])
	if code != http.StatusUnauthorized {
		t.Fatalf("a sluice token is not the trigger's secret: %d", code)
	}
}
