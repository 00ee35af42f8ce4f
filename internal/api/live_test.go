package api

import (
	"testing"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// TestLiveOf: the live slot is the one the router sends more traffic to, whatever the
// record says; the record decides only a tie; artifact and instances are the
// platform's for that slot.
func TestLiveOf(t *testing.T) {
	slots := map[platform.Slot]platform.SlotStatus{
		platform.Green: {Artifact: "shop:v1", Desired: 2, Ready: 2},
		platform.Blue:  {Artifact: "shop:v2", Desired: 3, Ready: 1},
	}
	for _, tc := range []struct {
		name     string
		w        traffic.Weights
		recorded platform.Slot
		slot     string
		artifact string
		ready    int
	}{
		{"all blue, record says blue", traffic.Weights{Blue: 100}, platform.Blue, "blue", "shop:v2", 1},
		{"all blue, record still says green", traffic.Weights{Blue: 100}, platform.Green, "blue", "shop:v2", 1},
		{"canary at 10%", traffic.Weights{Green: 90, Blue: 10}, platform.Green, "green", "shop:v1", 2},
		{"back on green after a rollback, record says blue", traffic.Weights{Green: 100}, platform.Blue, "green", "shop:v1", 2},
		{"a tie goes to the record", traffic.Weights{Green: 50, Blue: 50}, platform.Blue, "blue", "shop:v2", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := liveOf(LiveReadBack{Weights: tc.w, Slots: slots}, tc.recorded)
			if v.Slot != tc.slot || v.Artifact != tc.artifact || v.Ready != tc.ready || v.Source != "router" {
				t.Fatalf("live %s %s ready %d (%s), want %s %s ready %d from the router", v.Slot, v.Artifact, v.Ready, v.Source, tc.slot, tc.artifact, tc.ready)
			}
			if len(v.Slots) != 2 || v.Slots[0].Weight != tc.w.Green || v.Slots[1].Weight != tc.w.Blue {
				t.Fatalf("slots %+v do not carry the weights %v", v.Slots, tc.w)
			}
		})
	}
}
