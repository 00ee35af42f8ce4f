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
	// MinTrials is the fewest canary trials for a pass; fewer is Inconclusive
	// ("not enough evidence"). Zero (the default) derives it from the test's
	// power: see NeededTrials.
	MinTrials float64
}

// DefaultSequential are the sequential test's defaults.
var DefaultSequential = SequentialParams{Alpha: 0.01, Ratios: []float64{2, 3, 5, 8}}

// Power target of the derived minimum evidence: a canary failing powerRatio
// times the baseline's rate, the baseline's rate counted as at least
// powerFloor, must be expected to have reached the evidence bound.
const (
	powerRatio = 5
	powerFloor = 0.02
)

// NeededTrials is the fewest canary trials after which the sequential test at
// alpha would, on average, have stopped a canary failing 5 times as often as a
// baseline whose event rate is baseRate (counted as at least 2%): the trials n
// at which the expected log-likelihood ratio n·p·(ρ ln ρ − ρ + 1) of that canary
// reaches ln(1/alpha). At alpha 1% and a baseline failing at most 2% it is 57,
// so a canary failing 10% or more would have been caught by then.
func NeededTrials(alpha, baseRate float64) float64 {
	p := max(baseRate, powerFloor)
	kl := p * (powerRatio*math.Log(powerRatio) - powerRatio + 1)
	return math.Ceil(math.Log(1/alpha) / kl)
}

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
	if p.MinTrials < 0 {
		p.MinTrials = 0
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
// while the canary has had fewer trials than Needed.
func (s *Sequential) Verdict() Verdict {
	switch {
	case s.Rejected():
		return Failed
	case !s.Enough():
		return Inconclusive
	}
	return Successful
}

// Needed is the fewest canary trials for a pass: MinTrials when set, else
// NeededTrials at the baseline's rate so far.
func (s *Sequential) Needed() float64 {
	if s.p.MinTrials > 0 {
		return s.p.MinTrials
	}
	base := 0.0
	if s.baseline.Trials > 0 {
		base = s.baseline.Events / s.baseline.Trials
	}
	return NeededTrials(s.p.Alpha, base)
}

// Enough reports whether the canary has had enough trials for a pass.
func (s *Sequential) Enough() bool { return s.canary.Trials >= s.Needed() }

// Evidence returns the canary's trials so far and the trials a pass needs.
func (s *Sequential) Evidence() *Evidence {
	return &Evidence{Requests: s.canary.Trials, Needed: s.Needed()}
}

// Totals returns the canary's and the baseline's tallies so far.
func (s *Sequential) Totals() (canary, baseline Tally) { return s.canary, s.baseline }

// Describe summarises the test's state for the console.
func (s *Sequential) Describe() string {
	d := fmt.Sprintf("canary %g/%g (%s), baseline %g/%g (%s), evidence %.3g of %.3g needed",
		s.canary.Events, s.canary.Trials, rate(s.canary), s.baseline.Events, s.baseline.Trials, rate(s.baseline),
		s.Statistic(), 1/s.p.Alpha)
	if !s.Rejected() && !s.Enough() {
		d += "; " + s.Evidence().String()
	}
	return d
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
