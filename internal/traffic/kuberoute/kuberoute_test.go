package kuberoute_test

import (
	"testing"

	"github.com/sluicehq/sluice/internal/traffic/kuberoute"
)

// The istio and gatewayapi tests run the Writer against a real API server; this
// checks the parts of an Entry that need none.
func TestEntry(t *testing.T) {
	tests := []struct {
		name  string
		entry kuberoute.Entry
		where string
		dests int
	}{
		{"istio route", kuberoute.Entry{Path: []any{"spec", "http", 0}, Field: "route",
			Value: map[string]any{"route": []any{map[string]any{}, map[string]any{}}}}, "spec.http[0]", 2},
		{"http route rule", kuberoute.Entry{Path: []any{"spec", "rules", 12}, Field: "backendRefs",
			Value: map[string]any{"backendRefs": []any{map[string]any{}}}}, "spec.rules[12]", 1},
		{"no destinations", kuberoute.Entry{Path: []any{"spec", "tcp", 1}, Field: "route", Value: map[string]any{}}, "spec.tcp[1]", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.entry.Where(); got != tt.where {
				t.Errorf("Where() = %q, want %q", got, tt.where)
			}
			if got := len(tt.entry.Destinations()); got != tt.dests {
				t.Errorf("Destinations() has %d, want %d", got, tt.dests)
			}
		})
	}
}
