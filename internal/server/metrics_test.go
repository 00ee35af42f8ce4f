package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/store"
)

// metricsDefinitions are a canary release on the recorder platform whose verify
// step asks the test's provider at url.
func metricsDefinitions(url string) string {
	return recorderEnvironment("prod", "effects.jsonl", probeProvider(url)) + "---\n" + shopCanary(
		verifyProbe+`        - approval: {approvers: [tester], message: "go on"}
`, "")
}

// TestMetricsAfterReleases runs three executions on a real server — one promoted,
// one rolled back by its verification, one waiting for its approval — and reads
// every kind of number back from /metrics.
func TestMetricsAfterReleases(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var value atomic.Value
	value.Store("0.99")
	var failNext atomic.Bool
	probe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failNext.CompareAndSwap(true, false) {
			http.Error(w, "provider down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"value": %s}`, value.Load())
	}))
	defer probe.Close()
	base, stop := startServer(t, ctx)
	defer stop()
	c, err := client.New(base, client.WithUser("tester"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, "shop.yaml", []byte(metricsDefinitions(probe.URL)), false); err != nil {
		t.Fatal(err)
	}

	runUntil(ctx, t, c, store.StatusSucceeded, true) // promoted
	value.Store("0.5")
	failNext.Store(true)
	runUntil(ctx, t, c, store.StatusRolledBack, false) // one provider error, then a failed verdict
	value.Store("0.99")
	runUntil(ctx, t, c, store.StatusWaiting, false) // left waiting for its approval

	got := scrape(ctx, t, base)
	want := map[string]float64{
		`sluice_executions{environment="prod",status="succeeded",workflow="shop"}`:               1,
		`sluice_executions{environment="prod",status="rolled_back",workflow="shop"}`:             1,
		`sluice_executions{environment="prod",status="waiting",workflow="shop"}`:                 1,
		`sluice_approvals_waiting{environment="prod",workflow="shop"}`:                           1,
		`sluice_releases_total{environment="prod",outcome="succeeded",service="shop"}`:           1,
		`sluice_releases_total{environment="prod",outcome="rolled_back",service="shop"}`:         1,
		`sluice_verdicts_total{metric="success",verdict="Successful",workflow="shop"}`:           4,
		`sluice_verdicts_total{metric="success",verdict="Error",workflow="shop"}`:                1,
		`sluice_verdicts_total{metric="success",verdict="Failed",workflow="shop"}`:               1,
		`sluice_provider_errors_total{metric="success",workflow="shop"}`:                         1,
		`sluice_rollbacks_total{environment="prod",workflow="shop"}`:                             1,
		`sluice_rollback_traffic_restored_seconds_count{environment="prod",workflow="shop"}`:     1,
		`sluice_step_duration_seconds_count{status="succeeded",type="verify",workflow="shop"}`:   2,
		`sluice_step_duration_seconds_count{status="failed",type="verify",workflow="shop"}`:      1,
		`sluice_step_duration_seconds_count{status="succeeded",type="approval",workflow="shop"}`: 1,
		`sluice_dora_change_failure_rate{environment="prod",service="shop"}`:                     0.5,
		`sluice_dora_release_frequency_per_day{environment="prod",service="shop"}`:               1.0 / 30,
	}
	for name, w := range want {
		if v, ok := got[name]; !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, w)
		}
	}
	restore := got[`sluice_rollback_traffic_restored_seconds_sum{environment="prod",workflow="shop"}`]
	if restore <= 0 || got[`sluice_dora_time_to_restore_seconds{environment="prod",service="shop"}`] != restore {
		t.Errorf("time to restore %v, rollback restore sum %v: want the one rollback's positive time in both",
			got[`sluice_dora_time_to_restore_seconds{environment="prod",service="shop"}`], restore)
	}
	if lead := got[`sluice_dora_lead_time_seconds{environment="prod",service="shop"}`]; lead <= 0 {
		t.Errorf("lead time %v, want a positive time", lead)
	}
	if t.Failed() {
		t.Logf("scraped:\n%s", dump(got))
	}
}

// startServer runs Run on a free loopback port with a fresh data directory and
// returns its base URL and a function that stops it.
func startServer(t *testing.T, ctx context.Context) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	cfg := Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Ready: func(addr string) { ready <- addr }}
	go func() { done <- Run(ctx, cfg) }()
	select {
	case addr := <-ready:
		return "http://" + addr, func() { cancel(); <-done }
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	case <-ctx.Done():
		t.Fatal("server did not start in time")
	}
	return "", nil
}

// runUntil starts the workflow and waits until its execution has status want,
// approving it whenever it waits and approve is set.
func runUntil(ctx context.Context, t *testing.T, c *client.Client, want store.Status, approve bool) {
	t.Helper()
	ex, err := c.Run(ctx, "shop", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for {
		got, err := c.GetExecution(ctx, ex.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case got.Status == want:
			return
		case got.Status == store.StatusWaiting && approve:
			if err := c.Approve(ctx, ex.ID, "metrics test"); err != nil {
				t.Fatal(err)
			}
		case got.Status.Terminal():
			t.Fatalf("execution %s ended %s (%s), want %s", ex.ID, got.Status, got.Reason, want)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("execution %s still %s, want %s", ex.ID, got.Status, want)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// scrape reads /metrics without credentials and returns every sample by its name
// and labels as Prometheus prints them.
func scrape(ctx context.Context, t *testing.T, base string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("/metrics: %s: %s", res.Status, b)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// dump lists the sluice samples of a scrape, for failure messages.
func dump(samples map[string]float64) string {
	var lines []string
	for k, v := range samples {
		if strings.HasPrefix(k, "sluice_") {
			lines = append(lines, fmt.Sprintf("  %s %v", k, v))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
