package kuberoute_test

import (
	"testing"

	"github.com/sluicehq/sluice/internal/traffic/kuberoute"
)

// The istio and gatewayapi tests run the Writer against a real API server; this
// checks the parts of an Entry that need none.
func TestEntry(t *testing.T) {
	route := kuberoute.Entry{Path: []any{"spec", "http", 0}, Field: "route",
		Value: map[string]any{"route": []any{map[string]any{}, map[string]any{}}}}
	if w, n := route.Where(), len(route.Destinations()); w != "spec.http[0]" || n != 2 {
		t.Errorf("an Istio route: Where() = %q with %d destinations, want spec.http[0] with 2", w, n)
	}
	rule := kuberoute.Entry{Path: []any{"spec", "rules", 12}, Field: "backendRefs", Value: map[string]any{}}
	if w, n := rule.Where(), len(rule.Destinations()); w != "spec.rules[12]" || n != 0 {
		t.Errorf("an HTTPRoute rule without backendRefs: Where() = %q with %d destinations, want spec.rules[12] with 0", w, n)
	}
}
