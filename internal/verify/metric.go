package verify

import (
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/internal/engine"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
)

// Judge names.
const (
	JudgeThreshold   = "threshold"
	JudgeMannWhitney = "mannwhitney"
	JudgeSequential  = "sequential"
	// JudgeLogCompare is the log check judge that compares the canary's error
	// templates with the baseline's (CompareLogs).
	JudgeLogCompare = "compare"
)

// defaultConsecutiveErrorLimit is how many errors in a row a metric tolerates
// when the workflow does not say.
const defaultConsecutiveErrorLimit = 4

// metric is one metric or log check of a running verify step and its tally of
// verdicts so far.
type metric struct {
	name, judge, query string
	title              string // the display name: the metric's title, else its name
	unit               Unit
	total              string // the count of every request, with query the failed ones
	cumulative         bool   // query and total are running counts
	providerName       string
	provider           Provider
	logs, baseline     bool
	noData             NoDataRule
	threshold          *Threshold
	seq                *Sequential
	compare            CompareParams
	group              string // the score group (scored steps)
	critical           bool
	failureLimit       int
	inconclusiveLimit  int
	errorLimit         int
	every              time.Duration // between scheduled measurements
	window             time.Duration // each measurement's window; 0 means every
	n                  int           // scheduled measurements
	minRequests        int           // fewest canary requests for a passing threshold over counts

	next                       int // index of the next scheduled measurement
	failed, inconclusive, errs int // counted verdicts; errs is consecutive
	retryAt                    time.Time
	last                       *Measurement
	readings                   map[string]Tally // the last running counts by slot (cumulative)
	done                       bool
	verdict                    Verdict
	why                        string
	onProviderError            string // the step's action for a provider that stays unavailable
	providerDown               bool   // finished in Error because its provider stayed unavailable
	skipped                    bool   // providerDown, and the step continues without it
	starved                    bool   // finished Inconclusive for want of evidence
	fellBack                   bool   // skipped, and a builtin fallback stands in for it
	fallback                   bool   // stands in for a skipped metric; has no fallback itself
	judged, short              int    // counted measurements; uncounted ones with too few requests
}

// newMetric prepares a metric check of step vs; its judge's parameters are the
// metric's own, else the step's, else the server's.
func newMetric(m spec.MetricCheck, vs *spec.VerifyStep, p Provider, o *options) (*metric, error) {
	mt := &metric{
		name: m.Name, judge: m.Judge, query: m.Query, providerName: m.Provider, provider: p, baseline: m.Baseline,
		noData: NoDataRule(m.NoData), compare: compareParams(m, vs, o.compare), failureLimit: m.FailureLimit,
		inconclusiveLimit: m.InconclusiveLimit, errorLimit: m.ConsecutiveErrorLimit,
		group: scoreGroup(m.Name, m.Group), critical: m.Critical,
		total: m.Total, cumulative: m.Counts == CountsCumulative, readings: map[string]Tally{},
		minRequests: defaultMinRequests,
	}
	if m.MinRequests > 0 {
		mt.minRequests = m.MinRequests
	}
	if m.MinSamples > 0 {
		mt.compare.MinSample = m.MinSamples
	}
	if mt.judge == "" {
		mt.judge = JudgeThreshold
	}
	mt.title, mt.unit = orString(m.Title, m.Name), Unit(m.Unit)
	if mt.unit == UnitNone {
		mt.unit = DefaultUnit(mt.judge, m.Query)
	}
	if mt.errorLimit <= 0 {
		mt.errorLimit = defaultConsecutiveErrorLimit
	}
	switch mt.judge {
	case JudgeThreshold:
		t, err := NewThreshold(m.SuccessCondition, m.FailureCondition)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		mt.threshold = t
	case JudgeMannWhitney:
		mt.baseline = true
	case JudgeSequential:
		mt.baseline = true
		mt.seq = NewSequential(sequentialParams(m, vs, o.sequential))
	default:
		return nil, fmt.Errorf("metric %s: unknown judge %q (threshold, mannwhitney, sequential)", m.Name, m.Judge)
	}
	return mt, nil
}

// newLogMetric prepares a log check: with the count judge the number of matching
// lines must not exceed maxMatches; with compare, the canary must have no error
// template that the baseline lacks or has much less often. A log check counts
// as critical in a scored step.
func newLogMetric(l spec.LogCheck, p Provider) (*metric, error) {
	m := &metric{
		name: l.Name, judge: JudgeThreshold, query: l.Query, providerName: l.Provider, provider: p, logs: true,
		title: l.Name + " (log lines)", unit: UnitCount,
		noData: NoDataInconclusive, errorLimit: defaultConsecutiveErrorLimit,
		group: scoreGroup(l.Name, ""), critical: true,
	}
	switch l.Judge {
	case "", "count":
		t, err := NewThreshold("result <= "+strconv.Itoa(l.MaxMatches), "")
		if err != nil {
			return nil, fmt.Errorf("log check %s: %w", l.Name, err)
		}
		m.threshold = t
	case JudgeLogCompare:
		m.judge, m.baseline = JudgeLogCompare, true
	default:
		return nil, fmt.Errorf("log check %s: unknown judge %q (count, compare)", l.Name, l.Judge)
	}
	return m, nil
}

// schedule sets how often and how many times the metric is measured within
// span, and the window each measurement covers (window, or the interval when 0;
// a sequential metric's windows are its evaluations).
func (m *metric) schedule(interval, span, seqEvery, window time.Duration) {
	m.every = interval
	if m.judge == JudgeSequential && seqEvery < interval {
		m.every = seqEvery
	}
	m.n = max(1, int((span+m.every-1)/m.every))
	m.window = window
	if m.judge == JudgeSequential || window <= 0 {
		m.window = m.every
	}
}

// due returns when the metric is to be measured next: on schedule, but never
// sooner than one window after the last measurement, so that windows do not
// overlap when the analysis fell behind (a slow query, a restart).
func (m *metric) due(begin time.Time) time.Time {
	if m.errs > 0 {
		return m.retryAt
	}
	t := begin.Add(time.Duration(m.next+1) * m.every)
	if m.last != nil && m.last.At.Add(m.every).After(t) {
		return m.last.At.Add(m.every)
	}
	return t
}

// apply counts one measurement, live or replayed from the journal, and decides
// whether the metric is finished.
func (m *metric) apply(ms Measurement, retry time.Duration) {
	m.last = &ms
	if ms.Verdict == Error {
		m.errs++
		m.retryAt = m.retryTime(ms, retry)
		if m.errs > m.errorLimit {
			m.finish(Error, fmt.Sprintf("%d consecutive errors (limit %d), last: %s", m.errs, m.errorLimit, ms.Error))
			m.providerDown = ms.ProviderError
			m.skipped = m.providerDown && m.onProviderError == spec.ProviderErrorContinue
		}
		return
	}
	m.errs = 0
	m.next = ms.Index + 1
	m.keepReadings(ms)
	if m.seq != nil {
		m.applySequential(ms)
		return
	}
	if ms.Evidence.Short() && !ms.Counted {
		m.short++
	}
	if ms.Counted {
		m.judged++
		switch ms.Verdict {
		case Failed:
			m.failed++
		case Inconclusive:
			m.inconclusive++
		}
	}
	switch {
	case m.failed > m.failureLimit:
		m.finish(Failed, fmt.Sprintf("%d failed measurement(s) (limit %d)", m.failed, m.failureLimit))
	case m.inconclusive > m.inconclusiveLimit:
		m.finish(Inconclusive, fmt.Sprintf("%d inconclusive measurement(s) (limit %d)", m.inconclusive, m.inconclusiveLimit))
	case m.next >= m.n && m.judged == 0 && m.short > 0:
		m.finish(Inconclusive, fmt.Sprintf("every one of %d measurement(s) had too few requests, the last: %s", m.short, ms.Evidence))
		m.starved = true
	case m.next >= m.n:
		m.finish(Successful, fmt.Sprintf("%d measurement(s), %d failed, %d inconclusive", m.n, m.failed, m.inconclusive))
	}
}

// applySequential feeds a window's tallies to the sequential test.
func (m *metric) applySequential(ms Measurement) {
	if ms.Canary.Tally != nil && ms.Baseline != nil && ms.Baseline.Tally != nil {
		m.seq.Observe(*ms.Canary.Tally, *ms.Baseline.Tally)
	}
	switch {
	case m.seq.Rejected():
		m.finish(Failed, "canary worse than baseline: "+m.seq.Describe())
	case m.next >= m.n:
		m.finish(m.seq.Verdict(), m.seq.Describe())
		m.starved = m.verdict == Inconclusive
	}
}

// retryTime is when a measurement that gave an error is taken again: after
// retry, or when the provider said it will answer again, but never later than
// one interval after it.
func (m *metric) retryTime(ms Measurement, retry time.Duration) time.Time {
	at := ms.At.Add(retry)
	if ms.RetryAfter != nil && ms.RetryAfter.After(at) {
		at = *ms.RetryAfter
		if limit := ms.At.Add(max(m.every, retry)); at.After(limit) {
			at = limit
		}
	}
	return at
}

func (m *metric) finish(v Verdict, why string) {
	m.done, m.verdict, m.why = true, v, why
}

// ErrInconclusive says verification could not decide and a person must.
var ErrInconclusive = errors.New("verification inconclusive: a person must decide")

// VerdictError is the error a verify step returns when it did not succeed.
type VerdictError struct {
	Verdict Verdict
	Metric  string // empty when the step's score decided
	Detail  string
	Score   float64 // the step's score, when it decided
	// Words is the verdict in plain words ("error rate 2.6% on blue vs 0.1% on
	// green — limit 1% — failed (…)"); when set, it is the error's text.
	Words string
	// ProviderDown says the metric's provider stayed unavailable, and
	// OnProviderError is the step's action for that (empty means pause).
	ProviderDown    bool
	OnProviderError string
	// NotEnoughEvidence says an Inconclusive verdict came from too little canary
	// traffic: that is not a pass, and not a question for a person either, so
	// the step fails and the failure strategy applies (rollback by default).
	NotEnoughEvidence bool
}

// Error describes the metric, its value and the condition or judge that failed.
func (e *VerdictError) Error() string {
	if e.Words != "" {
		if e.Verdict == Inconclusive {
			return "verify: " + e.Words + "; a person must decide"
		}
		return "verify: " + e.Words
	}
	if e.Metric == "" {
		if e.Verdict == Inconclusive {
			return fmt.Sprintf("verify: the score is marginal, a person must decide: %s", e.Detail)
		}
		return fmt.Sprintf("verify: score: %s: %s", e.Verdict, e.Detail)
	}
	if e.NotEnoughEvidence {
		return fmt.Sprintf("verify: metric %s: not enough evidence to pass: %s", e.Metric, e.Detail)
	}
	if e.Verdict == Inconclusive {
		return fmt.Sprintf("verify: metric %s is inconclusive, a person must decide: %s", e.Metric, e.Detail)
	}
	if e.ProviderDown {
		return fmt.Sprintf("verify: %s could not be measured: its provider stayed unavailable, so this is no verdict about the canary (onProviderError: %s): %s",
			e.Metric, e.providerAction(), e.Detail)
	}
	if e.Verdict == Error {
		return fmt.Sprintf("verify: %s could not be measured: %s", e.Metric, e.Detail)
	}
	return fmt.Sprintf("verify: metric %s: %s: %s", e.Metric, e.Verdict, e.Detail)
}

// Is makes an inconclusive verdict match ErrInconclusive and the engine's
// ErrNeedsDecision, so the execution pauses for a person; so does a provider
// that stayed unavailable unless onProviderError says rollback, which matches
// the engine's ErrRollBack.
func (e *VerdictError) Is(target error) bool {
	switch {
	case e.Verdict == Inconclusive && e.NotEnoughEvidence:
		return false
	case e.Verdict == Inconclusive:
		return target == ErrInconclusive || target == engine.ErrNeedsDecision
	case e.ProviderDown && e.providerAction() == spec.ProviderErrorRollback:
		return target == engine.ErrRollBack
	case e.ProviderDown:
		return target == engine.ErrNeedsDecision
	}
	return false
}

// providerAction is the step's onProviderError, pause by default.
func (e *VerdictError) providerAction() string {
	return orString(e.OnProviderError, spec.ProviderErrorPause)
}

// verdictError explains a finished metric that did not succeed.
func (m *metric) verdictError() error {
	d := m.why
	if l := m.last; l != nil && l.Verdict != Error {
		d = fmt.Sprintf("%s; last value %s on %s", d, l.Canary, l.Canary.Slot)
		if l.Baseline != nil {
			d += fmt.Sprintf(" (baseline %s on %s)", l.Baseline, l.Baseline.Slot)
		}
		if l.Reason != "" {
			d += fmt.Sprintf(", %s", l.Reason)
		}
	}
	ve := &VerdictError{Verdict: m.verdict, Metric: m.name, Detail: d, ProviderDown: m.providerDown,
		OnProviderError: m.onProviderError, NotEnoughEvidence: m.starved}
	if m.verdict != Error { // a provider's outage keeps its own words (metric X: Error: …)
		ve.Words = m.words()
	}
	return ve
}

// words is the metric's verdict in plain words: its last measurement's values
// and rule, then the metric's own outcome and why.
func (m *metric) words() string {
	if m.verdict == Error || m.last == nil {
		return m.title + " — " + MetricPhrase(m.verdict, m.why)
	}
	l := *m.last
	text := Describe(l)
	head := strings.TrimSuffix(text, " — "+Phrase(l.Verdict, l.Reason, l.Error))
	why := m.why
	if m.threshold != nil && l.Reason != "" && m.verdict != Successful {
		why += "; condition " + l.Reason
	}
	return head + " — " + MetricPhrase(m.verdict, why)
}

// MetricPhrase is a metric's outcome with why: "failed (2 failed
// measurement(s), limit 1)", "inconclusive: not enough evidence…".
func MetricPhrase(v Verdict, why string) string {
	switch {
	case why == "":
		return Phrase(v, "", "")
	case v == Successful || v == Failed:
		return Phrase(v, "", "") + " (" + why + ")"
	}
	return Phrase(v, why, why)
}
