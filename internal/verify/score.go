package verify

import "fmt"

// ScoredMetric is one metric's verdict as the score sees it.
type ScoredMetric struct {
	Name     string
	Group    string  // metrics of a group share its weight; "" is a group of its own
	Verdict  Verdict // Successful counts as a pass, anything else as not
	Critical bool    // a critical metric that does not pass makes the score 0
}

// ScoreParams configure the Kayenta-style score.
type ScoreParams struct {
	// Weights are the groups' weights; a group without one weighs 1.
	Weights map[string]float64
	// Pass and Marginal are thresholds on the 0-100 score; when Pass is 0 both
	// take their defaults, 95 and 75.
	Pass, Marginal float64
}

// Score combines metric verdicts into a 0-100 score: per group the share of
// metrics that pass, weighted by group. The verdict is Successful at or above
// Pass, Inconclusive at or above Marginal, otherwise Failed; a critical metric
// that does not pass fails the whole score.
func Score(ms []ScoredMetric, p ScoreParams) (float64, Verdict, string) {
	if p.Pass == 0 {
		p.Pass, p.Marginal = 95, 75
	}
	type group struct{ pass, total int }
	groups := map[string]*group{}
	for _, m := range ms {
		if m.Critical && m.Verdict != Successful {
			return 0, Failed, fmt.Sprintf("critical metric %s is %s", m.Name, m.Verdict)
		}
		g := groups[m.Group]
		if g == nil {
			g = &group{}
			groups[m.Group] = g
		}
		g.total++
		if m.Verdict == Successful {
			g.pass++
		}
	}
	if len(groups) == 0 {
		return 0, Inconclusive, "no metrics to score"
	}
	var sum, weights float64
	for name, g := range groups {
		w, ok := p.Weights[name]
		if !ok {
			w = 1
		}
		sum += w * float64(g.pass) / float64(g.total)
		weights += w
	}
	score := 100 * sum / weights
	why := fmt.Sprintf("score %.1f (pass %.0f, marginal %.0f)", score, p.Pass, p.Marginal)
	switch {
	case score >= p.Pass:
		return score, Successful, why
	case score >= p.Marginal:
		return score, Inconclusive, why
	}
	return score, Failed, why
}
