package follow

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
)

// TestTrafficLineAfterPromotion: the final frame of a promoted release names the
// slot that serves now; a first release is not "live none yet" once promoted.
func TestTrafficLineAfterPromotion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		live     platform.Slot
		promoted bool
		want     string
	}{
		{"first release, promoted", "", true, "live blue"},
		{"first release, staged", "", false, "live none yet · staging blue"},
		{"later release, promoted", platform.Green, true, "live blue"},
		{"later release, rolled back", platform.Green, false, "live green · staging blue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := engine.State{LiveSlot: tc.live, NewSlot: platform.Blue, Promoted: tc.promoted, Weights: &traffic.Weights{Blue: 100}}
			raw, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			v := NewView(api.Execution{ID: "x", Status: store.StatusSucceeded, State: raw})
			line := v.traffic()
			if !strings.HasSuffix(line, tc.want) {
				t.Errorf("traffic line %q, want it to end %q", line, tc.want)
			}
			if tc.promoted && strings.Contains(line, "staging") {
				t.Errorf("traffic line %q still stages the promoted slot", line)
			}
		})
	}
}
