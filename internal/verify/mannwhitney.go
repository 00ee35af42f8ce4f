package verify

import (
	"fmt"
	"math"
	"slices"
)

// Direction says which change of a metric is bad.
type Direction string

// Directions: increase (the default: errors, latency), decrease (throughput,
// success rate) or either.
const (
	Increase Direction = "increase"
	Decrease Direction = "decrease"
	Either   Direction = "either"
)

// CompareParams configure the canary-versus-baseline comparison.
type CompareParams struct {
	// Confidence is the confidence level of the test, e.g. 0.95.
	Confidence float64
	// EffectSize is the relative change of the median tolerated even when it is
	// significant, e.g. 0.1 for 10%.
	EffectSize float64
	// Direction is the change that is bad.
	Direction Direction
	// MinSample is the fewest points each side needs; fewer is Inconclusive.
	MinSample int
}

// DefaultCompare are the comparison defaults: 95% confidence, 10% effect, an
// increase is bad, at least 5 points a side.
var DefaultCompare = CompareParams{Confidence: 0.95, EffectSize: 0.1, Direction: Increase, MinSample: 5}

// Comparison is the outcome of a Mann-Whitney U test of canary against baseline.
type Comparison struct {
	U       float64 // the canary's U statistic
	Z       float64 // its normal approximation, tie-corrected
	P       float64 // p-value for the configured direction
	Effect  float64 // relative change of the canary's median from the baseline's
	Verdict Verdict
	Reason  string
}

// MannWhitney compares two samples with the Mann-Whitney U test (normal
// approximation with tie and continuity correction). The canary fails when it
// differs from the baseline in the bad direction with the given confidence and its
// median moved by more than the allowed effect size.
func MannWhitney(canary, baseline []float64, p CompareParams) Comparison {
	p = p.withDefaults()
	canary, baseline = finite(canary), finite(baseline)
	if len(canary) < p.MinSample || len(baseline) < p.MinSample {
		return Comparison{Verdict: Inconclusive, P: math.NaN(), Reason: fmt.Sprintf(
			"too few points to compare: canary %d, baseline %d, need %d each", len(canary), len(baseline), p.MinSample)}
	}
	c := Comparison{U: uStatistic(canary, baseline)}
	c.Z = zScore(c.U, canary, baseline)
	c.P = pValue(c.Z, p.Direction)
	mc, mb := median(canary), median(baseline)
	c.Effect = relativeChange(mc, mb)
	alpha := 1 - p.Confidence
	significant := c.P < alpha
	bad := badEffect(c.Effect, p)
	c.Verdict = Successful
	if significant && bad {
		c.Verdict = Failed
	}
	c.Reason = fmt.Sprintf("canary median %.4g vs baseline %.4g (%+.1f%%, allowed %.0f%% %s), p=%.4g (alpha %.3g)",
		mc, mb, 100*c.Effect, 100*p.EffectSize, p.Direction, c.P, alpha)
	return c
}

func (p CompareParams) withDefaults() CompareParams {
	if p.Confidence <= 0 || p.Confidence >= 1 {
		p.Confidence = DefaultCompare.Confidence
	}
	if p.EffectSize < 0 {
		p.EffectSize = 0
	}
	if p.Direction == "" {
		p.Direction = Increase
	}
	if p.MinSample <= 0 {
		p.MinSample = DefaultCompare.MinSample
	}
	return p
}

func badEffect(effect float64, p CompareParams) bool {
	switch p.Direction {
	case Decrease:
		return effect < -p.EffectSize
	case Either:
		return math.Abs(effect) > p.EffectSize
	default:
		return effect > p.EffectSize
	}
}

// uStatistic returns U of the first sample: the number of pairs in which it is
// larger, ties counting one half, from average ranks of the pooled sample.
func uStatistic(a, b []float64) float64 {
	ranks := pooledRanks(a, b)
	var ra float64
	for i := range a {
		ra += ranks[i]
	}
	n := float64(len(a))
	return ra - n*(n+1)/2
}

// pooledRanks ranks a followed by b, ties getting their average rank.
func pooledRanks(a, b []float64) []float64 {
	all := append(slices.Clone(a), b...)
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int { return cmpFloat(all[i], all[j]) })
	ranks := make([]float64, len(all))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && all[idx[j+1]] == all[idx[i]] {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = r
		}
		i = j + 1
	}
	return ranks
}

// zScore normalises U with the tie-corrected variance and a continuity correction
// toward the mean.
func zScore(u float64, a, b []float64) float64 {
	n1, n2 := float64(len(a)), float64(len(b))
	n := n1 + n2
	var ties float64
	all := append(slices.Clone(a), b...)
	slices.Sort(all)
	for i := 0; i < len(all); {
		j := i
		for j+1 < len(all) && all[j+1] == all[i] {
			j++
		}
		t := float64(j - i + 1)
		ties += t*t*t - t
		i = j + 1
	}
	variance := n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1)))
	if variance <= 0 {
		return 0
	}
	diff := u - n1*n2/2
	switch {
	case diff > 0.5:
		diff -= 0.5
	case diff < -0.5:
		diff += 0.5
	default:
		diff = 0
	}
	return diff / math.Sqrt(variance)
}

// pValue returns the p-value of z for the bad direction.
func pValue(z float64, d Direction) float64 {
	switch d {
	case Decrease:
		return normalCDF(z)
	case Either:
		return 2 * normalCDF(-math.Abs(z))
	default:
		return normalCDF(-z)
	}
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// relativeChange returns (c-b)/|b|; when b is zero it is 0 for equal values and
// ±Inf otherwise.
func relativeChange(c, b float64) float64 {
	if b == 0 {
		switch {
		case c > 0:
			return math.Inf(1)
		case c < 0:
			return math.Inf(-1)
		}
		return 0
	}
	return (c - b) / math.Abs(b)
}

func finite(x []float64) []float64 {
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, v)
		}
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
