package verify

import (
	"time"

	"github.com/sluicehq/sluice/internal/spec"
)

// compareParams are a metric's Mann-Whitney parameters: the metric's own, else
// the step's, else the server's.
func compareParams(m spec.MetricCheck, vs *spec.VerifyStep, def CompareParams) CompareParams {
	p := def
	for _, src := range []struct {
		dir        string
		confidence spec.Ratio
		effect     *spec.Ratio
	}{{vs.Direction, vs.Confidence, vs.EffectSize}, {m.Direction, m.Confidence, m.EffectSize}} {
		if src.dir != "" {
			p.Direction = Direction(src.dir)
		}
		if src.confidence > 0 {
			p.Confidence = float64(src.confidence)
		}
		if src.effect != nil {
			p.EffectSize = float64(*src.effect)
		}
	}
	return p
}

// sequentialParams are a metric's sequential test parameters: alpha from the
// metric, else the step, else the server.
func sequentialParams(m spec.MetricCheck, vs *spec.VerifyStep, def SequentialParams) SequentialParams {
	p := def
	p.Ratios = append([]float64(nil), def.Ratios...)
	switch {
	case m.Alpha > 0:
		p.Alpha = float64(m.Alpha)
	case vs.Alpha > 0:
		p.Alpha = float64(vs.Alpha)
	}
	if m.MinRequests > 0 {
		p.MinTrials = float64(m.MinRequests)
	}
	return p
}

// windowOf is the length of a metric's measurement window: the metric's own,
// else the step's, else the interval between measurements.
func windowOf(m spec.MetricCheck, vs *spec.VerifyStep, interval time.Duration) time.Duration {
	switch {
	case m.Window > 0:
		return m.Window.Std()
	case vs.Window > 0:
		return vs.Window.Std()
	}
	return interval
}

// scoreParams are the thresholds and group weights of a scored step.
func scoreParams(vs *spec.VerifyStep) ScoreParams {
	p := ScoreParams{Pass: 95, Marginal: 75, Weights: map[string]float64{}}
	if s := vs.Score; s != nil && s.Pass != nil {
		p.Pass = float64(*s.Pass)
	}
	if s := vs.Score; s != nil && s.Marginal != nil {
		p.Marginal = float64(*s.Marginal)
	}
	for _, m := range vs.Metrics {
		if m.Weight > 0 {
			p.Weights[scoreGroup(m.Name, m.Group)] = float64(m.Weight)
		}
	}
	return p
}

// scoreGroup is the group a metric counts in: its own, or one of its own.
func scoreGroup(name, group string) string {
	if group != "" {
		return group
	}
	return "metric:" + name
}
