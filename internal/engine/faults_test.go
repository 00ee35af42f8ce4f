package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
)

// retriedTrafficYAML moves 10% to the new slot with a traffic step that is retried
// up to three more times before the default rollback.
const retriedTrafficYAML = slowCanary + `          onFailure: {action: retry, retries: 3, backoff: 5ms}
        - promote: {}
`

// TestTrafficStepRetriesAFailingRouter makes the router refuse writes or read-backs
// N times in a row during a canary's traffic step: each write is tried three times
// with the same key, then the step is retried per its failure strategy, each failed
// attempt is on the console, and the release either
// goes on once the router recovers or, when it fails every attempt, rolls back with
// all traffic on the live slot as read back. The live slot never gets weight 0
// before the promotion.
func TestTrafficStepRetriesAFailingRouter(t *testing.T) {
	tests := []struct {
		name            string
		writes, reads   int
		want            store.Status
		failedAttempts  int
		finalReadBack   traffic.Weights
		wantWeightsSeen []string
	}{
		// A blip: the effect's own tries (three, same key) absorb it; the step never fails.
		{"write fails twice", 2, 0, store.StatusSucceeded, 0, traffic.All(platform.Blue),
			[]string{"green=90 blue=10", "green=0 blue=100"}},
		// The write took effect but could not be confirmed; the next try repeats it
		// under the same key, which the router takes as already done.
		{"read-back fails twice", 0, 2, store.StatusSucceeded, 0, traffic.All(platform.Blue),
			[]string{"green=90 blue=10", "green=0 blue=100"}},
		// Longer than one attempt's tries: the step fails once and its retry succeeds.
		{"write fails four times", 4, 0, store.StatusSucceeded, 1, traffic.All(platform.Blue),
			[]string{"green=90 blue=10", "green=0 blue=100"}},
		{"write fails every attempt", 12, 0, store.StatusRolledBack, 4, traffic.All(platform.Green),
			[]string{"green=100 blue=0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.Apply(retriedTrafficYAML)
			liveGreen(t, h)
			h.Recorder.FailWeightWrites(tt.writes)
			h.Recorder.FailWeightReads(tt.reads)
			ex := h.Start("slow", nil)
			got := h.Finish(ex.ID)
			console := h.Console(ex.ID)
			if got.Status != tt.want {
				t.Fatalf("%s (%s), want %s\n%s", got.Status, got.Reason, tt.want, console)
			}
			for i := 1; i <= tt.failedAttempts; i++ {
				if want := fmt.Sprintf("traffic failed (attempt %d)", i); !strings.Contains(console, want) {
					t.Errorf("console does not say %q:\n%s", want, console)
				}
			}
			if want := fmt.Sprintf("(attempt %d)", tt.failedAttempts+1); strings.Contains(console, "traffic failed "+want) {
				t.Errorf("console reports more failed attempts than the router refused:\n%s", console)
			}
			if w := h.weights("slow"); strings.Join(w, ",") != strings.Join(tt.wantWeightsSeen, ",") {
				t.Errorf("router received %v, want %v", w, tt.wantWeightsSeen)
			}
			if dups := h.duplicateEffects(); len(dups) > 0 {
				t.Errorf("effects applied twice: %v", dups)
			}
			w, err := h.Recorder.Weights(context.Background(), traffic.ServiceRef{Service: "slow"})
			if err != nil || w != tt.finalReadBack {
				t.Errorf("router reads back %s (%v), want %s", w, err, tt.finalReadBack)
			}
		})
	}
}
