package endtoend_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/server/servertest"
	"github.com/sluicehq/sluice/internal/store"
)

// analysisRelease canaries the new version at 20% with a two-minute soak (a wait
// step) while the phase's background analysis compares its error rate with the
// live slot's, then promotes it.
var analysisRelease = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: release}
spec:
` + service("    - {name: soak, type: duration, default: 2m}\n") + `
  phases:
    - name: canary
      analysis:
        metrics:
          - name: errors-vs-live
            provider: router
            query: error_rate
            judge: sequential
      steps:
        - deploy: {instances: 1}
        - traffic: 20%
        - name: soak
          wait: ${soak}
    - name: promote
      steps:
        - traffic: 100%
        - promote: {}
        - scaledown: {slot: old}
`

// TestBackgroundAnalysisRollsBackDuringAWait: while a two-minute wait step runs,
// the phase's background analysis (the sequential judge on the builtin router's
// counts, 50 user requests/s, 10/s to the canary) stops a canary failing 30% of
// its requests, and the execution is rolled back while the wait is still
// running. A good canary soaks through the analysis and is promoted.
func TestBackgroundAnalysisRollsBackDuringAWait(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, listen := startWithV1Live(t, ctx, analysisRelease)
	stop := userLoad(ctx, "http://"+listen+"/", 50)
	defer stop()

	bad := servertest.Execute(t, ctx, c, "release", map[string]string{"version": "v2", "error_rate": "0.3"})
	console := consoleText(t, ctx, c, bad.ID)
	if bad.Status != store.StatusRolledBack || !strings.Contains(bad.Reason, "background analysis of phase canary failed") ||
		!strings.Contains(bad.Reason, "canary worse than baseline") {
		t.Fatalf("bad canary %s: %s\n%s", bad.Status, bad.Reason, console)
	}
	st := state(t, ctx, c, bad.ID)
	soak := st.Phases[0].Steps[2]
	if soak.StartedAt == nil || soak.FinishedAt == nil || soak.Status != store.StatusFailed {
		t.Fatalf("soak step %+v, want failed with start and end\n%s", soak, console)
	}
	// The rollback began while the wait was running: the wait ended long before
	// its two minutes, by the analysis, and nothing after it ran.
	if ran := soak.FinishedAt.Sub(*soak.StartedAt); ran >= 2*time.Minute {
		t.Fatalf("the wait ran its whole %s: the analysis did not interrupt it\n%s", ran, console)
	}
	if st.Phases[1].Steps[0].Status != store.StatusPending || st.Promoted {
		t.Fatalf("steps after the wait ran: %+v\n%s", st.Phases[1], console)
	}
	if st.Rollback == nil || !st.Rollback.Traffic {
		t.Fatalf("rollback %+v: traffic not restored\n%s", st.Rollback, console)
	}
	if !strings.Contains(console, "analysis of phase canary: errors-vs-live ") || !strings.Contains(console, "% on blue (") {
		t.Fatalf("console shows no measurement of the analysis:\n%s", console)
	}
	t.Logf("wait step ended %s after it began: %s", soak.FinishedAt.Sub(*soak.StartedAt).Round(time.Millisecond), soak.Message)

	good := servertest.Execute(t, ctx, c, "release", map[string]string{"version": "v3", "soak": "8s"})
	if good.Status != store.StatusSucceeded {
		t.Fatalf("good canary %s: %s\n%s", good.Status, good.Reason, consoleText(t, ctx, c, good.ID))
	}
	gst := state(t, ctx, c, good.ID)
	if as := gst.Analyses["p1.analysis"]; as == nil || !as.Done {
		t.Fatalf("good canary's analysis state %+v, want done", gst.Analyses)
	}
}
