package traffictest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// WithMatch returns a router whose every Ensure carries the match rules and match
// slot of ab, so that the conformance suite, run over it, shows that the rules leave
// the weighted route's behaviour alone.
func WithMatch(r traffic.Router, ab traffic.Route) traffic.Router {
	return withMatch{Router: r, match: ab.Match, slot: ab.MatchSlot}
}

type withMatch struct {
	traffic.Router
	match []traffic.Match
	slot  platform.Slot
}

func (w withMatch) Ensure(ctx context.Context, rt traffic.Route) error {
	rt.Match, rt.MatchSlot = w.match, w.slot
	return w.Router.Ensure(ctx, rt)
}

// MatchRulesStay checks match rules on a router that writes them next to its weighted
// rule in one object (an Istio VirtualService's http routes, an HTTPRoute's rules):
// after Ensure of rt, which has rules, rules reads two entries; moving the weights
// leaves the entry at index match as it was; an Ensure without rules then leaves one
// entry and the weights in force. rules reads the object's list of entries from the
// API server. MatchRulesStay returns the match entry as first written.
func MatchRulesStay(t *testing.T, ctx context.Context, r traffic.Router, rt traffic.Route, rules func() []any, match int) map[string]any {
	t.Helper()
	if err := r.Ensure(ctx, rt); err != nil {
		t.Fatal(err)
	}
	before := rules()
	if len(before) != 2 {
		t.Fatalf("after Ensure with match rules there are %d routing rules, want the weighted one and the match rule", len(before))
	}
	for _, w := range []traffic.Weights{traffic.Split(platform.Blue, 10), traffic.All(platform.Blue), traffic.All(platform.Green)} {
		if err := r.SetWeights(ctx, rt.Service, w, w.String()); err != nil {
			t.Fatal(err)
		}
		if got, err := r.Weights(ctx, rt.Service); err != nil || got != w {
			t.Fatalf("weights read back %s, %v; want %s", got, err, w)
		}
		if after := rules(); len(after) != 2 || !equalJSON(t, before[match], after[match]) {
			t.Fatalf("setting weights %s changed the match rule:\n%v\n%v", w, before, after)
		}
	}
	if err := r.SetWeights(ctx, rt.Service, traffic.Split(platform.Blue, 10), "again"); err != nil {
		t.Fatal(err)
	}
	if err := r.Ensure(ctx, traffic.Route{Service: rt.Service, Port: rt.Port}); err != nil {
		t.Fatal(err)
	}
	if n := len(rules()); n != 1 {
		t.Fatalf("after an Ensure without match rules there are %d routing rules, want 1", n)
	}
	if got, err := r.Weights(ctx, rt.Service); err != nil || got != traffic.Split(platform.Blue, 10) {
		t.Fatalf("Ensure without rules changed the weights to %s, %v", got, err)
	}
	m, _ := before[match].(map[string]any)
	return m
}

// equalJSON says whether a and b encode to the same JSON.
func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
