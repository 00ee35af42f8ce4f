package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/platform"
)

// sequentialConsoleEvery is how often a passing sequential evaluation is shown on
// the console (every one is recorded); failures are always shown.
const sequentialConsoleEvery = 10

// analysis is one running verify step attempt.
type analysis struct {
	s     *Step
	j     Job
	io    StepIO
	begin time.Time
}

// bound is the most measurements the analysis can take: every scheduled one plus
// every tolerated error before it; it keeps the loop finite whatever happens.
func (a *analysis) bound(ms []*metric) int {
	n := 10
	for _, m := range ms {
		n += m.n * (m.errorLimit + 2)
	}
	return n
}

// measure takes, judges, records and shows one measurement of m.
func (a *analysis) measure(ctx context.Context, m *metric) error {
	now := a.s.o.now()
	window := m.window
	ms := Measurement{Metric: m.name, Judge: m.judge, Index: m.next, At: now, Window: WindowString(window), Counted: true}
	var c, b *Result
	var err error
	ms.Canary, c, err = a.query(ctx, m, a.j.Canary, now, window)
	if err == nil && m.baseline {
		var bo Observation
		bo, b, err = a.query(ctx, m, a.j.Baseline, now, window)
		ms.Baseline = &bo
	}
	if err != nil {
		ms.Verdict, ms.Error = Error, redact(m.provider, err.Error())
		markProviderError(&ms, err)
	} else {
		a.judge(m, &ms, c, b)
	}
	ms.Summary = m.summarize(ms, c, b)
	line := consoleLine(ms)
	// The record carries the data for charts; the console line is for people.
	if err := a.io.Record(ctx, events.TypeMeasurement, "", ms); err != nil {
		return err
	}
	if quiet := m.judge == JudgeSequential && ms.Verdict != Failed && ms.Verdict != Error && ms.Index%sequentialConsoleEvery != 0; !quiet {
		a.io.Console(levelOf(ms.Verdict), "%s", line)
	}
	for _, w := range append(ms.Canary.Warnings, baselineWarnings(ms)...) {
		a.io.Console("warn", "%s: provider warning: %s", m.name, w)
	}
	m.apply(ms, a.s.retryDelay(m))
	if m.skipped {
		return a.skip(ctx, m)
	}
	return nil
}

// markProviderError notes in a measurement that its error is the provider's.
func markProviderError(ms *Measurement, err error) {
	var pe *ProviderError
	if !errors.As(err, &pe) {
		return
	}
	ms.ProviderError = true
	if !pe.RetryAfter.IsZero() {
		at := pe.RetryAfter.UTC()
		ms.RetryAfter = &at
	}
}

// skip notes on the console and in the record that a metric whose provider
// stayed unavailable is skipped, as its step's onProviderError: continue says.
func (a *analysis) skip(ctx context.Context, m *metric) error {
	msg := fmt.Sprintf("%s skipped: its provider %s stayed unavailable (%s); onProviderError: continue treats it as not failing",
		m.name, m.providerName, m.why)
	a.io.Console("warn", "%s", msg)
	return a.io.Record(ctx, events.TypeSkipped, msg, Skipped{Metric: m.name, Provider: m.providerName, Reason: m.why})
}

// Skipped is the record (kind "skipped") of a metric that a verify step with
// onProviderError: continue skipped because its provider stayed unavailable.
type Skipped struct {
	Metric   string `json:"metric"`
	Provider string `json:"provider"`
	Reason   string `json:"reason"`
}

// query runs m's query, or its query pair, for one slot; no data is an
// observation, not an error.
func (a *analysis) query(ctx context.Context, m *metric, slot platform.Slot, end time.Time, window time.Duration) (Observation, *Result, error) {
	if m.total != "" {
		return a.counts(ctx, m, slot, end, window)
	}
	return a.ask(ctx, m, m.query, slot, end, window)
}

// ask renders one query for one slot and runs it; no data is an observation,
// not an error.
func (a *analysis) ask(ctx context.Context, m *metric, query string, slot platform.Slot, end time.Time, window time.Duration) (Observation, *Result, error) {
	text, err := Render(query, templateVars(a.j, slot, window))
	if err != nil {
		return Observation{Slot: string(slot)}, nil, err
	}
	shown := redact(m.provider, text)
	qctx, cancel := context.WithTimeout(ctx, a.s.o.timeout)
	defer cancel()
	q := Query{Text: text, Service: a.j.Service, Slot: slot, End: end, Window: window, Sample: m.judge == JudgeMannWhitney, Logs: m.logs}
	r, err := m.provider.Query(qctx, q)
	switch {
	case errors.Is(err, ErrNoData):
		return Observation{Slot: string(slot), Query: shown, NoData: true}, nil, nil
	case err != nil:
		return Observation{Slot: string(slot), Query: shown}, nil, fmt.Errorf("%s on %s: %w", m.name, slot, err)
	case r.Empty():
		return Observation{Slot: string(slot), Query: shown, NoData: true, Warnings: r.Warnings}, nil, nil
	}
	return observe(string(slot), shown, r), &r, nil
}

// judge sets the verdict of a measurement whose queries answered.
func (a *analysis) judge(m *metric, ms *Measurement, c, b *Result) {
	switch {
	case m.judge == JudgeSequential:
		judgeSequential(m, ms, c, b)
	case c == nil || (m.baseline && b == nil):
		ms.Verdict = m.noData.Verdict()
		ms.Reason = fmt.Sprintf("no data (noData: %s)", orString(string(m.noData), string(NoDataInconclusive)))
	case m.judge == JudgeLogCompare:
		judgeLogCompare(ms, c, b)
	case m.judge == JudgeMannWhitney:
		cmp := MannWhitney(sampleValues(c.Sample), sampleValues(b.Sample), m.compare)
		ms.Verdict, ms.Reason = cmp.Verdict, "mann-whitney: "+cmp.Reason
	default:
		v, why, err := m.threshold.Judge(*c, b)
		ms.Verdict, ms.Reason = v, why
		if err != nil {
			ms.Error = redact(m.provider, err.Error())
		}
		if c.Tally != nil {
			ms.Evidence = &Evidence{Requests: c.Tally.Trials, Needed: float64(m.minRequests)}
			if v == Successful && ms.Evidence.Short() {
				ms.Verdict, ms.Counted, ms.Reason = Inconclusive, false, ms.Evidence.String()+"; "+why
			}
		}
		if m.logs && len(c.Lines) > 0 {
			ms.Templates = topTemplates(c.Lines, 5)
			ms.Reason += "; " + describeTemplates(ms.Templates)
		}
	}
}

// judgeLogCompare sets the verdict of a log check judged against the baseline's
// lines with CompareLogs; the failing templates are recorded and shown.
func judgeLogCompare(ms *Measurement, c, b *Result) {
	v, findings := CompareLogs(c.Lines, b.Lines, LogParams{})
	ms.Verdict = v
	if len(findings) == 0 {
		ms.Reason = fmt.Sprintf("compare: no error template new or more frequent in %d canary line(s) than in %d baseline line(s)", len(c.Lines), len(b.Lines))
		ms.Templates = topTemplates(c.Lines, 5)
		return
	}
	parts := make([]string, 0, len(findings))
	for _, f := range findings[:min(len(findings), 5)] {
		ms.Templates = append(ms.Templates, f.LogTemplate)
		parts = append(parts, f.String())
	}
	ms.Reason = fmt.Sprintf("compare: %d error template(s) worse than the baseline: %s", len(findings), strings.Join(parts, "; "))
}

// topTemplates groups log lines and keeps the n most frequent templates.
func topTemplates(lines []string, n int) []LogTemplate {
	ts := GroupLogs(lines)
	return ts[:min(n, len(ts))]
}

func describeTemplates(ts []LogTemplate) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%d× %q", t.Count, t.Sample)
	}
	return "lines: " + strings.Join(parts, ", ")
}

// judgeSequential sets the verdict of one window of a sequential metric.
func judgeSequential(m *metric, ms *Measurement, c, b *Result) {
	switch {
	case ms.Canary.Pending != "" || ms.Baseline != nil && ms.Baseline.Pending != "":
		ms.Verdict, ms.Counted, ms.Reason = Inconclusive, false, pendingReason(ms)
	case c == nil || c.Tally == nil && c.Empty():
		ms.Verdict, ms.Counted, ms.Reason = Inconclusive, false, "no canary data in this window"
	case c.Tally == nil || b == nil || b.Tally == nil:
		ms.Verdict = Error
		ms.Error = "the sequential judge needs counts of events among trials from both slots (error_rate on the builtin provider, or a query with a total)"
	case c.Tally.Trials == 0:
		ms.Verdict, ms.Counted, ms.Reason = Inconclusive, false, "no canary traffic in this window"
	default:
		next := m.seq.clone()
		next.Observe(*c.Tally, *b.Tally)
		ms.Verdict, ms.Reason, ms.Evidence = next.Verdict(), "sequential: "+next.Describe(), next.Evidence()
	}
}

func sampleValues(ps []Point) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = p.Value
	}
	return out
}

func baselineWarnings(ms Measurement) []string {
	if ms.Baseline == nil {
		return nil
	}
	return ms.Baseline.Warnings
}

// consoleLine describes a measurement in one line of plain words, with its
// window and, for a log check, its most frequent lines.
func consoleLine(ms Measurement) string {
	s := Describe(ms) + " (window " + ms.Window + ")"
	if len(ms.Templates) > 0 && ms.Judge != JudgeLogCompare {
		s += "; " + describeTemplates(ms.Templates)
	}
	return s
}

func levelOf(v Verdict) string {
	switch v {
	case Successful:
		return "info"
	case Inconclusive:
		return "warn"
	}
	return "error"
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
