package loadtest

import (
	"math/rand/v2"
	"testing"
)

// TestLimitTestFalseStops: loads whose true error rate is exactly at the limit,
// checked after every request for 2,000 requests, are stopped in at most about
// 1% of runs (the test's alpha), whatever the limit.
func TestLimitTestFalseStops(t *testing.T) {
	for _, limit := range []float64{0.01, 0.05, 0.2} {
		r := rand.New(rand.NewPCG(1, uint64(limit*1000)))
		const runs = 1000
		stopped := 0
		for range runs {
			errs := 0.0
			for n := 1; n <= 2000; n++ {
				if r.Float64() < limit {
					errs++
				}
				if (limitTest{limit: limit}).broken(errs, float64(n)) {
					stopped++
					break
				}
			}
		}
		if share := float64(stopped) / runs; share > 0.015 {
			t.Errorf("limit %g: %.1f%% of loads at the limit stopped, want at most about %g%%", limit, 100*share, 100*earlyAlpha)
		}
	}
}

// TestLimitTestStopsABadLoad: 30% errors against a 5% limit are shown within
// about 20 requests; 6% against 5% is not shown from 100 requests (too close to
// tell), and a limit of 0 is broken by the first error.
func TestLimitTestStopsABadLoad(t *testing.T) {
	lt := limitTest{limit: 0.05}
	if !lt.broken(6, 20) {
		t.Errorf("6 errors in 20 requests (30%%) not shown above 5%%: evidence %g", lt.evidence(6, 20))
	}
	if lt.broken(6, 100) {
		t.Errorf("6 errors in 100 requests shown above 5%%: evidence %g", lt.evidence(6, 100))
	}
	if lt.broken(1, 1) {
		t.Error("one failed request of one stops a load with a 5% limit")
	}
	if !(limitTest{}).broken(1, 1000) {
		t.Error("with no error allowed, one error does not stop the load")
	}
}
