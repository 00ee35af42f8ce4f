package verify

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestThreshold(t *testing.T) {
	p99 := Result{Value: math.NaN(), Values: map[string]float64{"p50": 20, "p99": 300}}
	tests := []struct {
		name             string
		success, failure string
		r                Result
		baseline         *Result
		want             Verdict
		wantErr          string
	}{
		{"success true", "result < 0.01", "", Number(0.005), nil, Successful, ""},
		{"success false fails", "result < 0.01", "", Number(0.02), nil, Failed, ""},
		{"failure true", "", "result >= 0.05", Number(0.06), nil, Failed, ""},
		{"failure false passes", "", "result >= 0.05", Number(0.01), nil, Successful, ""},
		{"between both is inconclusive", "result < 0.01", "result > 0.05", Number(0.03), nil, Inconclusive, ""},
		{"named value", "result.p99 < 250", "", p99, nil, Failed, ""},
		{"named value passes", "result.p50 < 250", "", p99, nil, Successful, ""},
		{"against baseline", "result <= baseline * 1.2", "", Number(1.1), &Result{Value: 1}, Successful, ""},
		{"missing name is an error", "result.p95 < 250", "", p99, nil, Error, "successCondition"},
		{"NaN never passes", "result < 0.01", "", Number(math.NaN()), nil, Failed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, err := NewThreshold(tt.success, tt.failure)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := th.Judge(tt.r, tt.baseline)
			if got != tt.want {
				t.Fatalf("verdict %s, want %s (err %v)", got, tt.want, err)
			}
			if (tt.wantErr != "") != (err != nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestThresholdRejectsBadConditions(t *testing.T) {
	for _, c := range []string{"", "result <", "reslt < 1", "result ="} {
		t.Run(c, func(t *testing.T) {
			if _, err := NewThreshold(c, ""); err == nil {
				t.Fatalf("condition %q compiled", c)
			}
		})
	}
}

func normalSample(r *rand.Rand, n int, mean, sd float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = mean + sd*r.NormFloat64()
	}
	return x
}

func TestMannWhitney(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := normalSample(r, 60, 100, 10)
	tests := []struct {
		name   string
		canary []float64
		p      CompareParams
		want   Verdict
	}{
		{"same distribution", normalSample(r, 60, 100, 10), DefaultCompare, Successful},
		{"50% slower", normalSample(r, 60, 150, 10), DefaultCompare, Failed},
		{"5% slower is within the effect size", normalSample(r, 60, 105, 10), DefaultCompare, Successful},
		{"faster is fine when increase is bad", normalSample(r, 60, 60, 10), DefaultCompare, Successful},
		{"faster fails when either is bad", normalSample(r, 60, 60, 10), CompareParams{Direction: Either}, Failed},
		{"too few points", []float64{1, 2}, DefaultCompare, Inconclusive},
		{"NaN points are dropped", []float64{math.NaN(), math.NaN(), 1, 2, 3}, DefaultCompare, Inconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := MannWhitney(tt.canary, base, tt.p)
			if c.Verdict != tt.want {
				t.Fatalf("%s, want %s: %s", c.Verdict, tt.want, c.Reason)
			}
		})
	}
}

// TestMannWhitneyKnownValue checks U and p against a hand-computed case.
func TestMannWhitneyKnownValue(t *testing.T) {
	c := MannWhitney([]float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5}, DefaultCompare)
	if c.U != 25 {
		t.Fatalf("U = %g, want 25", c.U)
	}
	// z = (25 - 12.5 - 0.5) / sqrt(25*11/12) = 2.5067; one-sided p = 0.0061.
	if math.Abs(c.P-0.0061) > 0.0002 || c.Verdict != Failed {
		t.Fatalf("p = %.5f, verdict %s", c.P, c.Verdict)
	}
}

// TestMannWhitneyFalseAlarms runs many A/A comparisons with a fixed seed: the share
// of good canaries failed stays under 1 - confidence.
func TestMannWhitneyFalseAlarms(t *testing.T) {
	const runs = 2000
	tests := []struct {
		name   string
		effect float64
		limit  float64
	}{
		// The bare test fails about alpha of good canaries by construction; allow
		// three standard errors of the estimate over alpha.
		{"no effect allowance", 0, 0.05 + 3*math.Sqrt(0.05*0.95/runs)},
		{"default 10% allowance", 0.1, 0.01},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			p := CompareParams{Confidence: 0.95, EffectSize: tt.effect, Direction: Increase}
			failed := 0
			for range runs {
				if MannWhitney(normalSample(r, 30, 100, 10), normalSample(r, 30, 100, 10), p).Verdict == Failed {
					failed++
				}
			}
			t.Logf("A/A false alarms %.2f%% at alpha 5%%", 100*float64(failed)/runs)
			if float64(failed)/runs > tt.limit {
				t.Fatalf("%d of %d good canaries failed", failed, runs)
			}
		})
	}
}

func TestScore(t *testing.T) {
	tests := []struct {
		name string
		ms   []ScoredMetric
		w    map[string]float64
		want Verdict
		sc   float64
	}{
		{"all pass", []ScoredMetric{{Name: "a", Group: "g"}, {Name: "b", Group: "g"}}, nil, Successful, 100},
		{"weighted", []ScoredMetric{{Name: "a", Group: "err"}, {Name: "b", Group: "lat", Verdict: Failed}}, map[string]float64{"err": 3, "lat": 1}, Inconclusive, 75},
		{"critical fails all", []ScoredMetric{{Name: "a"}, {Name: "b", Critical: true, Verdict: Inconclusive}}, nil, Failed, 0},
		{"half fails", []ScoredMetric{{Name: "a"}, {Name: "b", Verdict: Failed}}, nil, Failed, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, v, why := Score(tt.ms, ScoreParams{Weights: tt.w})
			if v != tt.want || math.Abs(sc-tt.sc) > 1e-9 {
				t.Fatalf("score %g %s (%s), want %g %s", sc, v, why, tt.sc, tt.want)
			}
		})
	}
}
