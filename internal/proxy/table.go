package proxy

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// slotIndex maps a slot to its position in per-slot arrays: green 0, blue 1.
func slotIndex(s platform.Slot) int {
	if s == platform.Blue {
		return 1
	}
	return 0
}

// slots lists the two slots in slotIndex order.
var slots = [2]platform.Slot{platform.Green, platform.Blue}

// instance is one upstream address of a slot with its connection pool and health.
// Instances outlive routing tables: SetEndpoints keeps the instance (and its state)
// of every address that stays.
type instance struct {
	addr string
	slot platform.Slot
	// hc is the streaming HTTP/1.1 keep-alive pool used for proxied requests.
	hc *fasthttp.HostClient
	// mirror is a buffering pool with a read timeout, used for mirrored requests.
	mirror *fasthttp.HostClient

	fails        atomic.Int32 // consecutive 5xx responses
	ejected      atomic.Bool
	ejectedUntil atomic.Int64 // unix nanoseconds after which a probe may restore it
	ejections    atomic.Uint64
	inflight     atomic.Int64
}

// healthy reports whether the instance may receive new requests.
func (in *instance) healthy() bool { return !in.ejected.Load() }

// eject takes the instance out until d has passed and a probe succeeds.
func (in *instance) eject(d time.Duration) bool {
	in.ejectedUntil.Store(time.Now().Add(d).UnixNano())
	if in.ejected.CompareAndSwap(false, true) {
		in.ejections.Add(1)
		return true
	}
	return false
}

// restore puts a probed instance back into rotation.
func (in *instance) restore() {
	in.fails.Store(0)
	in.ejected.Store(false)
}

// pool is the set of instances of one slot in one routing table.
type pool struct {
	instances []*instance
	next      atomic.Uint32
}

// pick returns a healthy instance other than skip by round robin, or nil.
func (p *pool) pick(skip *instance) *instance {
	n := len(p.instances)
	if n == 0 {
		return nil
	}
	start := int(p.next.Add(1))
	for i := 0; i < n; i++ {
		in := p.instances[(start+i)%n]
		if in != skip && in.healthy() {
			return in
		}
	}
	return nil
}

// healthyCount returns the number of instances in rotation.
func (p *pool) healthyCount() int {
	c := 0
	for _, in := range p.instances {
		if in.healthy() {
			c++
		}
	}
	return c
}

// Rule sends requests that match a header or a cookie to a slot, whatever the
// weights say (A/B routing, previews of the staged slot). Exactly one of Header and
// Cookie is set.
type Rule struct {
	// Header is the request header to match.
	Header string `json:"header,omitempty"`
	// Cookie is the request cookie to match.
	Cookie string `json:"cookie,omitempty"`
	// Value is the exact value to match; empty matches any present value.
	Value string `json:"value,omitempty"`
	// Slot receives the matching requests while it has a healthy instance.
	Slot platform.Slot `json:"slot"`
}

// Mirror copies a share of the requests routed to the other slot to Slot; the
// copies' responses are discarded.
type Mirror struct {
	// Slot receives the copies.
	Slot platform.Slot `json:"slot"`
	// Percent is the share (0-100) of eligible requests that are copied.
	Percent int `json:"percent"`
}

// table is one immutable routing state; the Proxy swaps whole tables atomically.
type table struct {
	weights traffic.Weights
	pools   [2]*pool
	rules   []Rule
	mirror  Mirror
	sticky  string // the sticky-session cookie's name; empty: no sticky sessions
}

// weighted picks a slot by weight with a lock-free per-thread random number.
func (t *table) weighted() platform.Slot {
	if t.weights.Green >= 100 {
		return platform.Green
	}
	if t.weights.Blue >= 100 {
		return platform.Blue
	}
	if rand.IntN(100) < t.weights.Green {
		return platform.Green
	}
	return platform.Blue
}

// pick returns an instance of slot, falling back to the other slot when slot has no
// healthy instance. fellBack reports the fallback; a nil instance means neither slot
// has one.
func (t *table) pick(slot platform.Slot, skip *instance) (in *instance, got platform.Slot, fellBack bool) {
	if in = t.pools[slotIndex(slot)].pick(skip); in != nil {
		return in, slot, false
	}
	other := slot.Other()
	if in = t.pools[slotIndex(other)].pick(skip); in != nil {
		return in, other, true
	}
	return nil, slot, false
}

// hasHealthy reports whether slot has an instance in rotation.
func (t *table) hasHealthy(s platform.Slot) bool {
	return t.pools[slotIndex(s)].healthyCount() > 0
}
