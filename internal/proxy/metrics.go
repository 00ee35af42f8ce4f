package proxy

import (
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// latencyBounds are the upper bounds of the latency histogram's buckets; a last,
// unbounded bucket follows them.
var latencyBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	750 * time.Microsecond, time.Millisecond, 1500 * time.Microsecond,
	2 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond,
	7500 * time.Microsecond, 10 * time.Millisecond, 15 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 75 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// numBuckets is the number of histogram buckets, the unbounded one included.
const numBuckets = len(latencyBounds) + 1

// LatencyBuckets returns the upper bounds of the latency histogram's buckets.
func LatencyBuckets() []time.Duration {
	b := latencyBounds
	return b[:]
}

// Status classes counted per slot.
const (
	class1xx = iota
	class2xx
	class3xx
	class4xx
	class5xx
	classError // the proxy could not get a response: no instance, connect or read error
	numClasses
)

// classNames are the Prometheus label values of the status classes.
var classNames = [numClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx", "error"}

// classOf maps a status code to its class.
func classOf(status int) int {
	c := status/100 - 1
	if c < class1xx || c > class5xx {
		return classError
	}
	return c
}

// slotMetrics are one slot's live counters, all updated with atomics only.
type slotMetrics struct {
	classes       [numClasses]atomic.Uint64
	buckets       [numBuckets]atomic.Uint64
	latencySum    atomic.Int64
	inflight      atomic.Int64
	bytesIn       atomic.Uint64
	bytesOut      atomic.Uint64
	fallbacks     atomic.Uint64
	mirrored      atomic.Uint64
	mirrorDropped atomic.Uint64
	connections   atomic.Uint64
	_             [64]byte // keep the two slots' counters on separate cache lines
}

// observe records one finished request (or response headers) of the slot.
func (m *slotMetrics) observe(status int, d time.Duration) {
	m.classes[classOf(status)].Add(1)
	m.observeLatency(d)
}

// observeLatency adds d to the histogram.
func (m *slotMetrics) observeLatency(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	m.buckets[i].Add(1)
	m.latencySum.Add(int64(d))
}

// snapshot copies the counters.
func (m *slotMetrics) snapshot() SlotMetrics {
	var s SlotMetrics
	for i := range m.classes {
		s.Classes[i] = m.classes[i].Load()
	}
	for i := range m.buckets {
		s.Buckets[i] = m.buckets[i].Load()
	}
	s.LatencySum = time.Duration(m.latencySum.Load())
	s.InFlight = m.inflight.Load()
	s.BytesIn = m.bytesIn.Load()
	s.BytesOut = m.bytesOut.Load()
	s.Fallbacks = m.fallbacks.Load()
	s.Mirrored = m.mirrored.Load()
	s.MirrorDropped = m.mirrorDropped.Load()
	s.Connections = m.connections.Load()
	return s
}

// SlotMetrics is a copy of one slot's counters. Every field but InFlight is
// monotonic, so the difference of two snapshots (Sub) describes the window between
// them.
type SlotMetrics struct {
	// Classes counts requests by outcome: 1xx, 2xx, 3xx, 4xx, 5xx, proxy error.
	Classes [numClasses]uint64
	// Buckets counts latencies (time to response headers) per LatencyBuckets bound,
	// with a last bucket for everything slower.
	Buckets [numBuckets]uint64
	// LatencySum is the sum of all observed latencies.
	LatencySum time.Duration
	// InFlight is the number of requests (or TCP connections) open now.
	InFlight int64
	// BytesIn counts request body bytes (TCP mode: bytes from clients).
	BytesIn uint64
	// BytesOut counts response body bytes (TCP mode: bytes to clients).
	BytesOut uint64
	// Fallbacks counts requests chosen for this slot that went to the other slot
	// because this one had no healthy instance.
	Fallbacks uint64
	// Mirrored counts copies sent to this slot.
	Mirrored uint64
	// MirrorDropped counts copies for this slot skipped because the queue was full.
	MirrorDropped uint64
	// Connections counts TCP-mode connections proxied to this slot.
	Connections uint64
}

// Requests returns the number of requests of every class, proxy errors included.
func (s SlotMetrics) Requests() uint64 {
	var n uint64
	for _, c := range s.Classes {
		n += c
	}
	return n
}

// Success returns the 2xx count.
func (s SlotMetrics) Success() uint64 { return s.Classes[class2xx] }

// ClientErrors returns the 4xx count.
func (s SlotMetrics) ClientErrors() uint64 { return s.Classes[class4xx] }

// ServerErrors returns the 5xx count.
func (s SlotMetrics) ServerErrors() uint64 { return s.Classes[class5xx] }

// ProxyErrors returns the count of requests the proxy answered itself because no
// instance gave a response.
func (s SlotMetrics) ProxyErrors() uint64 { return s.Classes[classError] }

// ErrorRate returns (5xx + proxy errors) / requests, or 0 without requests.
func (s SlotMetrics) ErrorRate() float64 {
	n := s.Requests()
	if n == 0 {
		return 0
	}
	return float64(s.ServerErrors()+s.ProxyErrors()) / float64(n)
}

// Sub returns the counters accumulated since prev; InFlight keeps s's value.
func (s SlotMetrics) Sub(prev SlotMetrics) SlotMetrics {
	d := s
	for i := range d.Classes {
		d.Classes[i] -= prev.Classes[i]
	}
	for i := range d.Buckets {
		d.Buckets[i] -= prev.Buckets[i]
	}
	d.LatencySum -= prev.LatencySum
	d.BytesIn -= prev.BytesIn
	d.BytesOut -= prev.BytesOut
	d.Fallbacks -= prev.Fallbacks
	d.Mirrored -= prev.Mirrored
	d.MirrorDropped -= prev.MirrorDropped
	d.Connections -= prev.Connections
	return d
}

// Quantile estimates the q-quantile (0 < q < 1) of latency by linear interpolation
// inside the histogram bucket that holds it; it returns 0 without observations.
// A quantile in the unbounded bucket is reported as the last bound.
func (s SlotMetrics) Quantile(q float64) time.Duration {
	var total uint64
	for _, c := range s.Buckets {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen float64
	for i, c := range s.Buckets {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			if i == len(latencyBounds) {
				return latencyBounds[len(latencyBounds)-1]
			}
			lo := time.Duration(0)
			if i > 0 {
				lo = latencyBounds[i-1]
			}
			frac := (rank - seen) / float64(c)
			return lo + time.Duration(frac*float64(latencyBounds[i]-lo))
		}
		seen += float64(c)
	}
	return latencyBounds[len(latencyBounds)-1]
}

// Mean returns the average latency, or 0 without observations.
func (s SlotMetrics) Mean() time.Duration {
	var total uint64
	for _, c := range s.Buckets {
		total += c
	}
	if total == 0 {
		return 0
	}
	return s.LatencySum / time.Duration(total)
}

// MetricsSnapshot is a copy of both slots' counters and the weights at one instant.
type MetricsSnapshot struct {
	// At is when the snapshot was taken.
	At time.Time
	// Weights are the weights in force at At.
	Weights traffic.Weights
	// Green and Blue are the slots' counters.
	Green, Blue SlotMetrics
}

// Slot returns the counters of one slot.
func (m MetricsSnapshot) Slot(s platform.Slot) SlotMetrics {
	if s == platform.Blue {
		return m.Blue
	}
	return m.Green
}

// Sub returns the window between prev and m: counters subtracted, At and Weights
// of m.
func (m MetricsSnapshot) Sub(prev MetricsSnapshot) MetricsSnapshot {
	return MetricsSnapshot{At: m.At, Weights: m.Weights, Green: m.Green.Sub(prev.Green), Blue: m.Blue.Sub(prev.Blue)}
}
