package verify

import (
	"fmt"
	"strings"
)

// scored is a verify step whose verdict is the Kayenta-style score of its
// metrics rather than the worst metric verdict.
type scored struct {
	p ScoreParams
}

// scoreNow is the score of the metrics so far, counting every unfinished metric
// as passing: the best score the step can still reach.
func (s *scored) scoreNow(ms []*metric) (float64, Verdict, string) {
	sm := make([]ScoredMetric, 0, len(ms))
	for _, m := range ms {
		if m.skipped {
			continue // its provider stayed unavailable; onProviderError: continue leaves it out
		}
		v := Successful
		if m.done {
			v = m.verdict
		}
		sm = append(sm, ScoredMetric{Name: m.name, Group: m.group, Verdict: v, Critical: m.critical})
	}
	return Score(sm, s.p)
}

// stop reports whether the analysis can end now: a metric ended in Error, a
// critical metric did not pass, the score can no longer reach marginal, or every
// metric is done.
func (s *scored) stop(ms []*metric) bool {
	if w := worstFinished(ms); w != nil && w.verdict == Error {
		return true
	}
	if _, v, _ := s.scoreNow(ms); v == Failed {
		return true
	}
	return allDone(ms)
}

// conclude returns the step's verdict from its score: nil at or above pass; an
// Error metric is the step's error, since an error is not a measurement.
func (s *scored) conclude(io StepIO, ms []*metric) error {
	if w := worstFinished(ms); w != nil && w.verdict == Error {
		err := w.verdictError()
		io.Console("error", "%s", err)
		return err
	}
	score, v, why := s.scoreNow(ms)
	var missed, words []string
	open := 0
	for _, m := range ms {
		switch {
		case m.skipped:
			missed = append(missed, fmt.Sprintf("%s skipped (its provider stayed unavailable)", m.name))
		case !m.done:
			open++
		case m.verdict != Successful:
			missed = append(missed, fmt.Sprintf("%s %s (%s)", m.name, m.verdict, m.why))
			words = append(words, m.words())
		}
	}
	if open > 0 {
		why = fmt.Sprintf("%s, at best: %d check(s) unfinished counted as passing", why, open)
	}
	if len(missed) > 0 {
		why += "; not passing: " + strings.Join(missed, "; ")
	}
	if v == Successful {
		io.Console("info", "verification successful: %s", why)
		return nil
	}
	reason := ""
	switch {
	case v == Inconclusive:
		reason = "the score is marginal"
	case strings.HasPrefix(why, "critical metric"):
		reason, _, _ = strings.Cut(why, ",")
	}
	said := ScoreText(score, v, s.p, reason)
	if len(words) > 0 {
		said += "; not passing: " + strings.Join(words, "; ")
	}
	err := &VerdictError{Verdict: v, Detail: why, Score: score, Words: said}
	io.Console("error", "%s", err)
	return err
}
