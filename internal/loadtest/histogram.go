package loadtest

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: 2^subBits buckets per power of two, so a
// reported quantile is within about 3% of the true value.
const subBits = 5

const (
	subCount   = 1 << subBits
	numBuckets = (64 - subBits) * subCount
)

// histogram counts latencies in microseconds in log-linear buckets (HDR-style): fixed
// memory whatever the number of requests, with a bounded relative error.
type histogram struct {
	counts [numBuckets]uint64
	total  uint64
	sum    time.Duration
	max    time.Duration
}

// bucketOf returns the bucket index of a value in microseconds.
func bucketOf(us uint64) int {
	if us < subCount {
		return int(us)
	}
	shift := bits.Len64(us) - subBits - 1
	return (shift+1)*subCount + int(us>>shift) - subCount
}

// bucketUpper returns the largest value in microseconds that falls into bucket i.
func bucketUpper(i int) uint64 {
	band, sub := i/subCount, uint64(i%subCount)
	if band == 0 {
		return sub
	}
	shift := band - 1
	return ((subCount+sub)<<shift + 1<<shift) - 1
}

// add counts one latency.
func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d/time.Microsecond))]++
	h.total++
	h.sum += d
	h.max = max(h.max, d)
}

// quantile returns the latency at or below which a share q (0..1) of the counted
// requests fell, rounded up to its bucket's bound and never above the maximum seen.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.999999)
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketUpper(i))*time.Microsecond, h.max)
		}
	}
	return h.max
}

// mean returns the average latency.
func (h *histogram) mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return h.sum / time.Duration(h.total)
}
