package prometheus_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/server/servertest"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"

	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/store"
)

// engineDocs are the environment and workflows of TestCanaryJudgedByPrometheus: the
// builtin router's admin listener is the address the script's Prometheus scrapes,
// and the canary's verify step asks that Prometheus for the router's series.
func engineDocs(exe, listen, admin, promURL string) string {
	sel := `service="{{service}}",slot="{{slot}}"`
	query := `sum(rate(sluice_proxy_requests_total{` + sel + `,class=~"5xx|error"}[{{window}}])) / sum(rate(sluice_proxy_requests_total{` + sel + `}[{{window}}]))`
	svc := fmt.Sprintf(`  environment: prom-test
  variables:
    - {name: version, type: string, default: v1}
    - {name: error_rate, type: string, default: "0"}
  service:
    name: shop
    port: 8080
    artifact: %s
    instances: 1
    env: {%s: "1", SAMPLE_APP_ERROR_RATE: "${error_rate}"}
    health: {path: /healthz, timeout: 1s}`, "app:${version}", appEnv)
	return fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: prom-test}
spec:
  platform:
    type: local
    local:
      stopGrace: 1s
      commands:
        - {name: app, executable: %[1]q, args: [--port, "${PORT}", --version, "${VERSION}"]}
  router: {type: builtin, builtin: {listen: %[2]s, admin: %[3]s}}
  providers:
    - {name: prom, type: prometheus, url: %[4]s}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: first-release}
spec:
%[7]s
  phases:
    - name: first
      steps:
        - service: {}
        - deploy: {instances: 1}
        - traffic: 100%%
        - promote: {}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: release}
spec:
%[7]s
  onFailure: rollback
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - traffic: 20%%
        - name: verify
          verify:
            interval: 2s
            count: 4
            window: 5s
            metrics:
              - name: error-rate
                provider: prom
                query: '%[6]s'
                successCondition: result < 0.05
                inconclusiveLimit: 3
    - name: promote
      steps:
        - traffic: 100%%
        - promote: {}
        - scaledown: {slot: old}
`, exe, listen, admin, promURL, appEnv, query, svc)
}

// TestCanaryJudgedByPrometheus runs the engine (server.Run with the local platform
// and the builtin router) while the Prometheus of scripts/prometheus.sh scrapes the
// router's /metrics every second: a good canary is promoted and a canary failing
// 30% of its requests is rolled back, each judged by PromQL over the router's series.
func TestCanaryJudgedByPrometheus(t *testing.T) {
	promURL := serverURL(t)
	exporter := os.Getenv("SLUICE_TEST_PROMETHEUS_EXPORTER")
	if exporter == "" {
		t.Fatal("SLUICE_TEST_PROMETHEUS_EXPORTER is not set; scripts/prometheus.sh start prints it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exe := testExe
	listen := localtest.FreeAddr(t)
	c := servertest.Start(t, ctx, "prom-test")
	if _, err := c.Apply(ctx, "prom-test.yaml", []byte(engineDocs(exe, listen, exporter, promURL)), false); err != nil {
		t.Fatal(err)
	}
	v1 := servertest.Execute(t, ctx, c, "first-release", map[string]string{"version": "v1"})
	if v1.Status != store.StatusSucceeded {
		t.Fatalf("first release %s: %s", v1.Status, v1.Reason)
	}
	stop := userLoad(ctx, "http://"+listen+"/")
	defer stop()
	good := servertest.Execute(t, ctx, c, "release", map[string]string{"version": "v2"})
	if good.Status != store.StatusSucceeded {
		t.Fatalf("good canary %s: %s\n%s", good.Status, good.Reason, consoleText(t, ctx, c, good.ID))
	}
	// The good canary was measured, not waved through on missing data.
	if gc := consoleText(t, ctx, c, good.ID); strings.Count(gc, "— passed (window 5s)") < 2 {
		t.Fatalf("good canary passed with fewer than 2 measured windows:\n%s", gc)
	}
	bad := servertest.Execute(t, ctx, c, "release", map[string]string{"version": "v3", "error_rate": "0.3"})
	console := consoleText(t, ctx, c, bad.ID)
	if bad.Status != store.StatusRolledBack || !strings.Contains(bad.Reason, "error-rate") || !strings.Contains(bad.Reason, "result < 0.05") {
		t.Fatalf("bad canary %s: %s\n%s", bad.Status, bad.Reason, console)
	}
	if !strings.Contains(console, "— failed (window 5s)") {
		t.Fatalf("no failed measurement of a 5 s window on the console:\n%s", console)
	}
	t.Logf("bad canary rolled back: %s", bad.Reason)
}

// consoleText is an execution's console, one event a line.
func consoleText(t *testing.T, ctx context.Context, c *client.Client, id string) string {
	page, err := c.Events(ctx, id, 0, 1000)
	if err != nil {
		return fmt.Sprintf("(console: %v)", err)
	}
	var b strings.Builder
	for _, e := range page.Items {
		fmt.Fprintf(&b, "%s %s %s %s\n", e.Type, e.Step, e.Level, e.Message)
	}
	return b.String()
}

// userLoad sends 50 requests a second to url until the returned function is called.
func userLoad(ctx context.Context, url string) func() {
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-tick.C:
				if resp, err := http.Get(url); err == nil {
					resp.Body.Close()
				}
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}
