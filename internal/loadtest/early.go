package loadtest

import (
	"fmt"
	"math"
)

// earlyAlpha bounds the chance that a load test whose true error rate is within
// its limit is ever stopped early, however often it is checked.
const earlyAlpha = 0.01

// earlyRatios are the error rates, as multiples of the limit, that the early
// stop's test mixes; each is capped halfway between the limit and 100%.
var earlyRatios = []float64{2, 3, 5, 8}

// limitTest is an always-valid sequential test that a load test's error rate is
// above its limit p0. Its statistic is the mean, over alternatives p1 > p0, of the
// likelihood ratio of the errors so far under p1 against p0. For any true rate at
// or below p0 each factor has mean at most 1, so the statistic is a nonnegative
// supermartingale and, by Ville's inequality, reaches 1/alpha with probability at
// most alpha however often it is looked at. A limit of 0 is broken by one error.
type limitTest struct {
	limit float64
}

// evidence is the statistic after errs errors among n requests.
func (t limitTest) evidence(errs, n float64) float64 {
	if t.limit <= 0 {
		if errs > 0 {
			return math.Inf(1)
		}
		return 0
	}
	if t.limit >= 1 {
		return 0 // every request may fail
	}
	var sum float64
	for _, rho := range earlyRatios {
		p1 := min(rho*t.limit, (1+t.limit)/2)
		sum += math.Exp(errs*math.Log(p1/t.limit) + (n-errs)*math.Log((1-p1)/(1-t.limit)))
	}
	return sum / float64(len(earlyRatios))
}

// broken reports whether errs errors among n requests show, beyond the test's
// alpha, an error rate above the limit.
func (t limitTest) broken(errs, n float64) bool {
	return errs > 0 && t.evidence(errs, n) >= 1/earlyAlpha
}

// earlyReason says why a load test was stopped before its duration ended.
func earlyReason(r Report, limit float64) string {
	errs := r.Requests - r.Successes
	e := limitTest{limit: limit}.evidence(float64(errs), float64(r.Requests))
	why := fmt.Sprintf("stopped early after %s: error rate %s (%s of %s requests: %s) is above maxErrorRate %s",
		seconds(r.Elapsed), pct(r.ErrorRate), commas(errs), commas(r.Requests), r.errorKinds(), pct(limit))
	if math.IsInf(e, 1) {
		return why + " (no error is allowed)"
	}
	return why + fmt.Sprintf(" beyond chance (evidence %.3g of %g needed: a load within the limit looks this bad less than %g%% of the time)",
		e, 1/earlyAlpha, 100*earlyAlpha)
}
