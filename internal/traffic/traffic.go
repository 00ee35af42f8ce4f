package traffic

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/internal/platform"
)

// ServiceRef names the service whose traffic a router splits.
type ServiceRef struct {
	Service string
}

// Route is what a router needs to set up before weights can be written.
type Route struct {
	Service ServiceRef
	Port    int
	Hosts   []string
	Gateway string
	Type    string // service type for platforms that have one (ClusterIP, LoadBalancer)
	Key     string // idempotency key
	// Match lists request conditions, any one of which sends a request to MatchSlot
	// whatever the weights say (A/B routing, previews of the staged slot). Empty
	// removes the rules an earlier Ensure set.
	Match []Match
	// MatchSlot receives the requests that match; required when Match is set.
	MatchSlot platform.Slot
	// Sticky keeps a client on the slot it first got (the builtin router only).
	Sticky bool
	// Live is the slot serving now, empty before the first release. A router that
	// has to set up a split where none is in force (a new object, or one someone
	// else rewrote) sends everything to it, or to green when it is empty.
	Live platform.Slot
}

// Match is one A/B routing condition: a request header, or a cookie, with an exact
// value. Exactly one of Header and Cookie is set.
type Match struct {
	Header string `json:"header,omitempty"`
	Cookie string `json:"cookie,omitempty"`
	Value  string `json:"value"`
}

// String names the rule for messages, e.g. "header X-Canary: true".
func (m Match) String() string {
	if m.Header != "" {
		return fmt.Sprintf("header %s: %s", m.Header, m.Value)
	}
	return fmt.Sprintf("cookie %s=%s", m.Cookie, m.Value)
}

// ValidateMatch reports match rules a router cannot apply: a rule without exactly one
// of header and cookie, or without a value, or rules without a valid slot to go to.
func (r Route) ValidateMatch() error {
	if len(r.Match) == 0 {
		return nil
	}
	if !r.MatchSlot.Valid() {
		return fmt.Errorf("match rules need a slot to send requests to, got %q", r.MatchSlot)
	}
	for i, m := range r.Match {
		if (m.Header == "") == (m.Cookie == "") || m.Value == "" {
			return fmt.Errorf("match rule %d (%s): need exactly one of header and cookie, and a value", i, m)
		}
	}
	return nil
}

// Weights is the share of traffic, in percent, each slot receives. A valid value sums
// to 100.
type Weights struct {
	Blue  int `json:"blue"`
	Green int `json:"green"`
}

// Of returns the weight of one slot.
func (w Weights) Of(s platform.Slot) int {
	if s == platform.Blue {
		return w.Blue
	}
	return w.Green
}

// All returns weights sending everything to one slot.
func All(s platform.Slot) Weights { return Split(s, 100) }

// Split returns weights giving pct percent to slot s and the rest to the other slot.
func Split(s platform.Slot, pct int) Weights {
	if s == platform.Blue {
		return Weights{Blue: pct, Green: 100 - pct}
	}
	return Weights{Blue: 100 - pct, Green: pct}
}

// Validate reports weights outside 0..100 or not summing to 100.
func (w Weights) Validate() error {
	if w.Blue < 0 || w.Blue > 100 || w.Green < 0 || w.Green > 100 || w.Blue+w.Green != 100 {
		return fmt.Errorf("weights green=%d blue=%d: each must be within 0-100 and they must sum to 100", w.Green, w.Blue)
	}
	return nil
}

func (w Weights) String() string { return fmt.Sprintf("green=%d blue=%d", w.Green, w.Blue) }

// Router decides which share of traffic each slot receives. Every call is idempotent.
type Router interface {
	// Ensure creates or updates the objects that carry the service's traffic.
	Ensure(ctx context.Context, r Route) error
	// SetWeights writes the split. key makes a repeated write a no-op.
	SetWeights(ctx context.Context, svc ServiceRef, w Weights, key string) error
	// Weights reads back what the data plane really has.
	Weights(ctx context.Context, svc ServiceRef) (Weights, error)
	// Release removes what Ensure created.
	Release(ctx context.Context, svc ServiceRef) error
}
