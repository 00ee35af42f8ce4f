package verify

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestLowTrafficTable simulates the sequential judge (alpha 1%, evaluated every
// second, the canary getting 10% of traffic) at 2, 8, 20 and 200 canary
// requests/s for three regressions, and prints the table of docs/verification.md
// ("Low traffic"): go test ./internal/verify -run LowTrafficTable -v. Each bad
// canary must be caught within the ten minutes simulated in 95% of runs, more
// traffic must never catch it later, and a good canary's pass needs the derived
// minimum of canary requests.
func TestLowTrafficTable(t *testing.T) {
	const runs, seconds = 400, 600
	cases := []struct {
		name       string
		base, rate float64
	}{
		{"1% → 5%", 0.01, 0.05},
		{"1% → 10%", 0.01, 0.10},
		{"0% → 30%", 0, 0.30},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| errors | canary req/s | caught (10 min) | median | p95 | canary requests at the median | a good canary passes after |\n|---|---|---|---|---|---|---|\n")
	for ci, c := range cases {
		prevMedian := math.Inf(1)
		for _, rps := range []int{2, 8, 20, 200} {
			cal := calibrate(runs, uint64(1000*ci+rps), arm{rps, c.rate}, arm{9 * rps, c.base}, seconds, DefaultSequential)
			med, p95 := cal.quantile(0.5), cal.quantile(0.95)
			need := NeededTrials(DefaultSequential.Alpha, c.base)
			pass := math.Max(1, math.Ceil(need/float64(rps)))
			fmt.Fprintf(&b, "| %s | %d | %.1f%% | %s | %s | %.0f | %.0f s (%.0f requests) |\n",
				c.name, rps, 100*cal.rate(), secs(med), secs(p95), med*float64(rps), pass, need)
			if cal.quantile(0.95) > seconds {
				t.Errorf("%s at %d req/s: only %.1f%% caught within %d s", c.name, rps, 100*cal.rate(), seconds)
			}
			if med > prevMedian {
				t.Errorf("%s: caught later at %d req/s (%s) than with less traffic (%s)", c.name, rps, secs(med), secs(prevMedian))
			}
			prevMedian = med
		}
	}
	t.Log(b.String())
}

func secs(s float64) string {
	if math.IsInf(s, 1) {
		return "not caught"
	}
	return fmt.Sprintf("%.0f s", s)
}
