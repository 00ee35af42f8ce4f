package endtoend_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/server/servertest"
	"github.com/sluicehq/sluice/internal/store"
)

// verifyRelease canaries the new version at 20% and verifies it with the
// sequential judge for the step's duration.
var verifyRelease = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: verified}
spec:
` + service("    - {name: duration, type: duration, default: 20s}\n") + `
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - traffic: 20%
        - name: verify
          verify:
            duration: ${duration}
            metrics:
              - name: errors-vs-live
                provider: router
                query: error_rate
                judge: sequential
    - name: promote
      steps:
        - traffic: 100%
        - promote: {}
        - scaledown: {slot: old}
`

// TestEightRequestsPerSecond is the low-traffic case for real: 40 user
// requests/s, 20% (8/s) to a canary failing 30% of its requests. The verify
// step's sequential judge stops it and the release is rolled back; with only
// one second of verification (about 8 canary requests) it is not passed either:
// it fails for want of evidence.
func TestEightRequestsPerSecond(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, listen := startWithV1Live(t, ctx, verifyRelease)
	stop := userLoad(ctx, "http://"+listen+"/", 40)
	defer stop()

	bad := servertest.Execute(t, ctx, c, "verified", map[string]string{"version": "v2", "error_rate": "0.3"})
	console := consoleText(t, ctx, c, bad.ID)
	if bad.Status != store.StatusRolledBack || !strings.Contains(bad.Reason, "canary worse than baseline") {
		t.Fatalf("bad canary at 8 requests/s: %s: %s\n%s", bad.Status, bad.Reason, console)
	}
	st := state(t, ctx, c, bad.ID)
	v := st.Phases[0].Steps[2]
	t.Logf("verify step stopped the canary after %s: %s", v.FinishedAt.Sub(*v.StartedAt).Round(time.Millisecond), bad.Reason)

	short := servertest.Execute(t, ctx, c, "verified", map[string]string{"version": "v3", "error_rate": "0.3", "duration": "1s"})
	sc := consoleText(t, ctx, c, short.ID)
	if short.Status != store.StatusRolledBack || !strings.Contains(short.Reason, "canary worse than baseline") &&
		!strings.Contains(short.Reason, "not enough evidence") {
		t.Fatalf("one second of a bad canary at 8 requests/s: %s: %s\n%s", short.Status, short.Reason, sc)
	}
	t.Logf("one-second verify: %s", short.Reason)
}
