package verify

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// binomial draws Binomial(n, p) by skipping geometric gaps between successes, so
// its cost is proportional to the number of successes.
func binomial(r *rand.Rand, n int, p float64) float64 {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return float64(n)
	}
	k, i := 0, 0
	lq := math.Log1p(-p)
	for {
		i += int(math.Floor(math.Log(1-r.Float64())/lq)) + 1
		if i > n {
			return float64(k)
		}
		k++
	}
}

// arm is one slot's traffic in the simulation: requests per second and the chance
// that a request is an event (an error, or slower than the threshold).
type arm struct {
	rps  int
	rate float64
}

// simulate runs one analysis of at most seconds one-second windows and returns the
// second in which the test stopped the canary, or 0 when it never did.
func simulate(seed uint64, canary, baseline arm, seconds int, p SequentialParams) int {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := NewSequential(p)
	for t := 1; t <= seconds; t++ {
		c := Tally{Trials: float64(canary.rps), Events: binomial(r, canary.rps, canary.rate)}
		b := Tally{Trials: float64(baseline.rps), Events: binomial(r, baseline.rps, baseline.rate)}
		s.Observe(c, b)
		if s.Rejected() {
			return t
		}
	}
	return 0
}

// calibration is the outcome of many simulated analyses.
type calibration struct {
	runs, stopped int
	times         []int
}

func (c calibration) rate() float64 { return float64(c.stopped) / float64(c.runs) }

// quantile returns the q-quantile of stopping times, counting runs never stopped
// as infinitely slow.
func (c calibration) quantile(q float64) float64 {
	t := slices.Clone(c.times)
	slices.Sort(t)
	i := int(math.Ceil(q*float64(c.runs))) - 1
	if i >= len(t) {
		return math.Inf(1)
	}
	return float64(t[i])
}

func (c calibration) within(sec int) float64 {
	n := 0
	for _, t := range c.times {
		if t <= sec {
			n++
		}
	}
	return float64(n) / float64(c.runs)
}

func calibrate(runs int, seed uint64, canary, baseline arm, seconds int, p SequentialParams) calibration {
	c := calibration{runs: runs}
	for i := range runs {
		if t := simulate(seed+uint64(i), canary, baseline, seconds, p); t > 0 {
			c.stopped++
			c.times = append(c.times, t)
		}
	}
	return c
}

// slowShare is the share of requests slower than the baseline's p99 when latency
// is log-normal with sigma 0.5 and the canary's is scaled by factor.
func slowShare(factor float64) float64 {
	const z99, sigma = 2.3263478740408408, 0.5
	return 0.5 * math.Erfc((z99-math.Log(factor)/sigma)/math.Sqrt2)
}

func TestSequentialCalibration(t *testing.T) {
	base := arm{rps: 180, rate: 0.01}
	tests := []struct {
		name    string
		canary  arm
		runs    int
		seconds int
		bad     bool
	}{
		// A/A: both slots identical; the test may stop at most alpha of them over a
		// five-minute analysis evaluated every second.
		{"A/A 1% errors", arm{20, 0.01}, 1000, 300, false},
		{"canary better", arm{20, 0.005}, 300, 300, false},
		// The case: 1% -> 5% errors, canary at 20 req/s beside 180 req/s.
		{"errors 1% to 5%", arm{20, 0.05}, 1000, 120, true},
		{"errors 1% to 10%", arm{20, 0.10}, 500, 120, true},
		// p99 +50%: latencies log-normal (sigma 0.5); an event is a request slower
		// than the baseline's p99, so 1% of baseline requests; a canary 1.5 times
		// slower exceeds it with P(Z > 2.326 - ln(1.5)/0.5) = 6.5%.
		{"p99 +50% as slow requests", arm{20, slowShare(1.5)}, 1000, 120, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := calibrate(tt.runs, 42, tt.canary, base, tt.seconds, DefaultSequential)
			t.Logf("%d runs: stopped %.2f%%, within 10 s %.1f%%, median %.0f s, p95 %.0f s",
				c.runs, 100*c.rate(), 100*c.within(10), c.quantile(0.5), c.quantile(0.95))
			if !tt.bad && c.rate() > DefaultSequential.Alpha {
				t.Fatalf("false alarms %.2f%% exceed alpha %.2f%%", 100*c.rate(), 100*DefaultSequential.Alpha)
			}
			if tt.bad && c.quantile(0.95) > 30 {
				t.Fatalf("95%% of bad canaries caught only after %.0f s", c.quantile(0.95))
			}
		})
	}
}

// BenchmarkSequentialCalibration is the long version of the calibration: 20,000
// A/A analyses of ten minutes each, and 20,000 analyses of a canary whose error
// rate went from 1% to 5%. Run with go test -run '^$' -bench SequentialCalibration.
func BenchmarkSequentialCalibration(b *testing.B) {
	base := arm{rps: 180, rate: 0.01}
	for range b.N {
		aa := calibrate(20000, 1000, arm{20, 0.01}, base, 600, DefaultSequential)
		bad := calibrate(20000, 5000, arm{20, 0.05}, base, 300, DefaultSequential)
		b.ReportMetric(100*aa.rate(), "false-alarm-%")
		b.ReportMetric(100*bad.within(10), "caught-within-10s-%")
		b.ReportMetric(bad.quantile(0.5), "median-s")
		b.ReportMetric(bad.quantile(0.95), "p95-s")
	}
}
