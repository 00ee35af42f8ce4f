package prometheus_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/server/servertest"

	"github.com/sluicehq/sluice/internal/platform/local/localtest"

	"github.com/sluicehq/sluice/internal/store"
)

// Istio-style query pair of the sequential judge on the router's counters: the
// running counts of a slot's failed and of all its requests.
const (
	seqEvents = `sum(sluice_proxy_requests_total{service="{{service}}",slot="{{slot}}",class=~"5xx|error"})`
	seqTotal  = `sum(sluice_proxy_requests_total{service="{{service}}",slot="{{slot}}"})`
)

// sequentialDocs are engineDocs with the canary judged by the sequential judge
// on Prometheus's counts instead of a threshold on a ratio.
func sequentialDocs(exe, listen, admin, promURL string) string {
	docs := engineDocs(exe, listen, admin, promURL)
	i := strings.Index(docs, "        - name: verify\n")
	j := strings.Index(docs, "    - name: promote\n")
	verify := fmt.Sprintf(`        - name: verify
          verify:
            interval: 1s
            duration: 12s
            metrics:
              - name: errors-vs-live
                provider: prom
                judge: sequential
                counts: cumulative
                query: '%s'
                total: '%s'
`, seqEvents, seqTotal)
	return docs[:i] + verify + docs[j:]
}

// TestSequentialJudgeOnPrometheusCounts runs the engine while the Prometheus of
// scripts/prometheus.sh scrapes the router every second: the sequential judge
// reads the per-slot request counters through PromQL, promotes a good canary
// after counting its requests, and rolls back a canary failing 30% of its
// requests well before its verify step's 12 s are over.
func TestSequentialJudgeOnPrometheusCounts(t *testing.T) {
	promURL := serverURL(t)
	exporter := os.Getenv("SLUICE_TEST_PROMETHEUS_EXPORTER")
	if exporter == "" {
		t.Fatal("SLUICE_TEST_PROMETHEUS_EXPORTER is not set; scripts/prometheus.sh start prints it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	exe := testExe // where the local platform's instances (another user, as root) can run it
	listen := localtest.FreeAddr(t)
	c := servertest.Start(t, ctx, "prom-test")
	if _, err := c.Apply(ctx, "prom-test.yaml", []byte(sequentialDocs(exe, listen, exporter, promURL)), false); err != nil {
		t.Fatal(err)
	}
	if v1 := servertest.Execute(t, ctx, c, "first-release", map[string]string{"version": "v1"}); v1.Status != store.StatusSucceeded {
		t.Fatalf("first release %s: %s", v1.Status, v1.Reason)
	}
	stop := userLoad(ctx, "http://"+listen+"/")
	defer stop()
	good := servertest.Execute(t, ctx, c, "release", map[string]string{"version": "v2"})
	gc := consoleText(t, ctx, c, good.ID)
	if good.Status != store.StatusSucceeded {
		t.Fatalf("good canary %s: %s\n%s", good.Status, good.Reason, gc)
	}
	// It was judged on counted requests, not waved through without data.
	if !strings.Contains(gc, "first reading on") || !strings.Contains(gc, "needed — passed (window ") {
		t.Fatalf("good canary's console shows no first reading or no counted window:\n%s", gc)
	}
	bad := servertest.Execute(t, ctx, c, "release", map[string]string{"version": "v3", "error_rate": "0.3"})
	console := consoleText(t, ctx, c, bad.ID)
	if bad.Status != store.StatusRolledBack || !strings.Contains(bad.Reason, "errors-vs-live") || !strings.Contains(bad.Reason, "canary worse than baseline") {
		t.Fatalf("bad canary %s: %s\n%s", bad.Status, bad.Reason, console)
	}
	t.Logf("bad canary rolled back: %s", bad.Reason)
}
