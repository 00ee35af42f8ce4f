package verify

import (
	"fmt"
	"math"
)

// SequentialParams configure the sequential test of a canary's event rate (errors,
// slow requests) against the baseline's.
type SequentialParams struct {
	// Alpha bounds the chance that a canary no worse than the baseline is ever
	// stopped over the whole analysis, however often it is evaluated; default 0.01.
	Alpha float64
	// Ratios are the alternatives (canary rate / baseline rate) the test mixes
	// with equal weight; default 2, 3, 5, 8.
	Ratios []float64
	// MinTrials is the fewest canary trials for a pass; fewer at the end is
	// Inconclusive. Default 1.
	MinTrials float64
}

// DefaultSequential are the sequential test's defaults.
var DefaultSequential = SequentialParams{Alpha: 0.01, Ratios: []float64{2, 3, 5, 8}, MinTrials: 1}

// Sequential is an always-valid test that a canary's event rate is higher than the
// baseline's. Each window's events are split between canary and baseline; given
// their total, the canary's share is binomial with the canary's share of trials
// when the rates are equal. The statistic is a mixture, over rate ratios, of the
// likelihood ratios of that split; it is a nonnegative supermartingale while the
// canary is no worse, so by Ville's inequality it crosses 1/alpha with
// probability at most alpha, however many windows are observed. It is
// deterministic: the same windows give the same statistic.
type Sequential struct {
	p        SequentialParams
	logLR    []float64
	canary   Tally
	baseline Tally
	windows  int
}

// NewSequential starts a sequential test.
func NewSequential(p SequentialParams) *Sequential {
	if p.Alpha <= 0 || p.Alpha >= 1 {
		p.Alpha = DefaultSequential.Alpha
	}
	if len(p.Ratios) == 0 {
		p.Ratios = DefaultSequential.Ratios
	}
	if p.MinTrials <= 0 {
		p.MinTrials = DefaultSequential.MinTrials
	}
	return &Sequential{p: p, logLR: make([]float64, len(p.Ratios))}
}

// Observe adds one window's tallies of canary and baseline.
func (s *Sequential) Observe(canary, baseline Tally) {
	s.windows++
	s.canary.Events += canary.Events
	s.canary.Trials += canary.Trials
	s.baseline.Events += baseline.Events
	s.baseline.Trials += baseline.Trials
	nc, nb := canary.Trials, baseline.Trials
	ec, eb := canary.Events, baseline.Events
	if nc <= 0 || nb <= 0 || ec+eb <= 0 {
		return
	}
	q0 := nc / (nc + nb)
	for i, rho := range s.p.Ratios {
		q1 := rho * nc / (rho*nc + nb)
		s.logLR[i] += ec*math.Log(q1/q0) + eb*math.Log((1-q1)/(1-q0))
	}
}

// Statistic returns the mixture likelihood ratio; the canary is worse when it
// reaches 1/alpha.
func (s *Sequential) Statistic() float64 {
	m := math.Inf(-1)
	for _, l := range s.logLR {
		m = max(m, l)
	}
	var sum float64
	for _, l := range s.logLR {
		sum += math.Exp(l - m)
	}
	return math.Exp(m) * sum / float64(len(s.logLR))
}

// Rejected reports whether the canary is shown worse than the baseline.
func (s *Sequential) Rejected() bool { return s.Statistic() >= 1/s.p.Alpha }

// Verdict returns Failed once rejected; otherwise Successful, or Inconclusive
// while the canary has had fewer than MinTrials trials.
func (s *Sequential) Verdict() Verdict {
	switch {
	case s.Rejected():
		return Failed
	case s.canary.Trials < s.p.MinTrials:
		return Inconclusive
	}
	return Successful
}

// Totals returns the canary's and the baseline's tallies so far.
func (s *Sequential) Totals() (canary, baseline Tally) { return s.canary, s.baseline }

// Describe summarises the test's state for the console.
func (s *Sequential) Describe() string {
	return fmt.Sprintf("canary %g/%g (%s), baseline %g/%g (%s), evidence %.3g of %.3g needed",
		s.canary.Events, s.canary.Trials, rate(s.canary), s.baseline.Events, s.baseline.Trials, rate(s.baseline),
		s.Statistic(), 1/s.p.Alpha)
}

func rate(t Tally) string {
	if t.Trials == 0 {
		return "no trials"
	}
	return fmt.Sprintf("%.3g%%", 100*t.Events/t.Trials)
}

// clone returns an independent copy of the test's state.
func (s *Sequential) clone() *Sequential {
	c := *s
	c.logLR = append([]float64(nil), s.logLR...)
	return &c
}
