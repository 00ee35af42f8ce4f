package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
)

// fallbackQuery is what a fallback measures: the builtin router's error rate per
// slot, which it counts for every request it proxies.
const fallbackQuery = "error_rate"

// fallbacks makes, for each metric onProviderError: continue skipped, the check that
// stands in for it for the rest of the step: the environment's builtin router's
// error rate of the canary against the live slot, judged sequentially. There is
// none without a builtin provider, on a first release (no live slot to compare
// with), in a scored step (a new metric would change the score's groups), or for a
// fallback itself.
func (s *Step) fallbacks(ctx context.Context, j Job, io StepIO, ms []*metric, begin time.Time) ([]*metric, error) {
	var out []*metric
	for _, m := range ms {
		if !m.skipped || m.fellBack || m.fallback {
			continue
		}
		m.fellBack = true
		name := builtinProvider(j.Environment)
		switch {
		case name == "":
			io.Console("warn", "%s: no builtin router provider in environment %s to fall back on", m.name, j.EnvironmentName)
			continue
		case !j.Baseline.Valid():
			io.Console("warn", "%s: no fallback on a first release: the builtin router's error rate needs a live slot to compare with", m.name)
			continue
		case j.Verify.Score != nil:
			io.Console("warn", "%s: no fallback in a scored step", m.name)
			continue
		}
		fb, err := s.fallback(ctx, j, m, name, begin)
		if err != nil {
			return out, err
		}
		io.Console("info", "%s: the builtin router's error rate on %s against %s (provider %s, sequential judge) stands in for it for the rest of the step",
			m.name, j.Canary, j.Baseline, name)
		out = append(out, fb)
	}
	return out, nil
}

// fallback makes the stand-in of skipped, scheduled from now to the step's end.
func (s *Step) fallback(ctx context.Context, j Job, skipped *metric, provider string, begin time.Time) (*metric, error) {
	p, err := s.src.Provider(ctx, j.EnvironmentName, j.Environment, provider)
	if err != nil {
		return nil, fmt.Errorf("verify: fallback for %s: provider %s: %w", skipped.name, provider, err)
	}
	mc := spec.MetricCheck{Name: skipped.name + "-builtin", Title: "error rate (builtin fallback for " + skipped.title + ")",
		Provider: provider, Query: fallbackQuery, Judge: JudgeSequential}
	m, err := newMetric(mc, j.Verify, p, &s.o)
	if err != nil {
		return nil, fmt.Errorf("verify: fallback for %s: %w", skipped.name, err)
	}
	m.fallback = true
	interval, span := s.schedule(j)
	m.schedule(interval, span, s.o.seqEvery, m.every)
	if elapsed := s.o.now().Sub(begin); elapsed > 0 {
		m.next = min(int(elapsed/m.every), m.n-1) // from now on, not from the step's start
	}
	return m, nil
}

// builtinProvider names the environment's first provider of type builtin.
func builtinProvider(env *spec.Environment) string {
	if env == nil {
		return ""
	}
	for _, p := range env.Spec.Providers {
		if p.Type == "builtin" {
			return p.Name
		}
	}
	return ""
}
