package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
)

// ProviderSource finds the provider that a metric names in an execution's
// environment; the server builds it with envrun.Runtimes.Providers (a providers.Source).
type ProviderSource interface {
	Provider(ctx context.Context, envName string, env *spec.Environment, name string) (Provider, error)
}

// Option changes a verify step runner's defaults.
type Option func(*options)

type options struct {
	now        func() time.Time
	interval   time.Duration
	seqEvery   time.Duration
	retry      time.Duration
	timeout    time.Duration
	compare    CompareParams
	sequential SequentialParams
}

// WithClock sets the clock the runner reads; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithInterval sets the interval used when a verify step has none (default 30 s).
func WithInterval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// WithSequentialEvery sets how often sequential metrics are evaluated (default 1 s).
func WithSequentialEvery(d time.Duration) Option { return func(o *options) { o.seqEvery = d } }

// WithErrorRetry sets how soon a measurement that gave an error is retried
// (default 2 s, never later than the interval).
func WithErrorRetry(d time.Duration) Option { return func(o *options) { o.retry = d } }

// WithQueryTimeout bounds each provider query (default 30 s).
func WithQueryTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithCompare sets the Mann-Whitney judge's parameters.
func WithCompare(p CompareParams) Option { return func(o *options) { o.compare = p } }

// WithSequential sets the sequential judge's parameters.
func WithSequential(p SequentialParams) Option { return func(o *options) { o.sequential = p } }

// Step is the verify step runner.
type Step struct {
	src ProviderSource
	o   options
}

var _ engine.StepRunner = (*Step)(nil)

// NewStep returns the runner of verify steps, which finds providers through src.
func NewStep(src ProviderSource, opts ...Option) *Step {
	o := options{now: time.Now, interval: 30 * time.Second, seqEvery: time.Second, retry: 2 * time.Second,
		timeout: 30 * time.Second, compare: DefaultCompare, sequential: DefaultSequential}
	for _, opt := range opts {
		opt(&o)
	}
	return &Step{src: src, o: o}
}

// StepIO is what an analysis needs of the engine's StepContext, which
// implements it; tests and tools may supply their own (verifytest.IO).
type StepIO interface {
	// Console shows a line on the execution's console.
	Console(level, format string, args ...any)
	// Sleep waits until t, or returns the interruption that must end the step.
	Sleep(ctx context.Context, t time.Time) error
	// Record durably stores one result of the step.
	Record(ctx context.Context, kind events.Type, message string, data any) error
	// Records returns what an earlier run of the same attempt stored.
	Records(ctx context.Context, kind events.Type) ([]json.RawMessage, error)
}

// Job is what one verify step attempt measures.
type Job struct {
	Verify          *spec.VerifyStep
	Service         string
	Canary          platform.Slot // the new slot
	Baseline        platform.Slot // the live slot; empty on a first release
	Variables       map[string]string
	Started         time.Time // when the attempt started; the schedule counts from it
	Deadline        time.Time // the step's timeout, if any: no measurement is due after it
	EnvironmentName string
	Environment     *spec.Environment
	// Background marks a phase's or workflow's background analysis, which runs
	// until the engine stops it rather than for a count or duration.
	Background bool
}

// Run runs one attempt of a verify step, continuing from its recorded
// measurements after a restart.
func (s *Step) Run(ctx context.Context, sc *engine.StepContext) error {
	if sc.Step == nil || sc.Step.Verify == nil {
		return fmt.Errorf("verify: step %s has no verify block", sc.StepKey)
	}
	j := Job{
		Verify: sc.Step.Verify, Service: sc.Service.Name, Canary: sc.NewSlot, Baseline: sc.LiveSlot,
		Variables: sc.Variables, Started: sc.StartedAt, EnvironmentName: sc.EnvironmentName, Environment: sc.Environment,
		Background: sc.Background,
	}
	if d := sc.Step.Timeout.Std(); d > 0 {
		j.Deadline = sc.StartedAt.Add(d)
	}
	return s.Analyse(ctx, j, sc)
}

// Analyse measures every metric of a job on its schedule until each has a
// verdict or one stops the analysis, and returns nil only when all succeeded; Run
// calls it with the engine's StepContext.
func (s *Step) Analyse(ctx context.Context, j Job, io StepIO) error {
	ms, err := s.metrics(ctx, j)
	if err != nil {
		return err
	}
	if err := s.replay(ctx, io, ms); err != nil {
		return err
	}
	s.check(ctx, io, ms, j.Service)
	begin := j.Started.Add(j.Verify.InitialDelay.Std())
	// metrics skipped before a restart get their fallbacks back, with what those recorded
	fbs, err := s.fallbacks(ctx, j, io, ms, begin)
	if err != nil {
		return err
	}
	if err := s.replay(ctx, io, fbs); err != nil {
		return err
	}
	ms = append(ms, fbs...)
	announce(io, j, ms, begin)
	a := &analysis{s: s, j: j, io: io, begin: begin}
	var sc *scored
	if j.Verify.Score != nil {
		sc = &scored{p: scoreParams(j.Verify)}
	}
	for steps := 0; ; steps++ {
		if sc != nil && sc.stop(ms) || sc == nil && (worstFinished(ms) != nil || allDone(ms)) {
			break
		}
		if steps > a.bound(ms) {
			return fmt.Errorf("verify: analysis did not finish after %d measurements", steps)
		}
		m := nextDue(ms, begin)
		at := m.due(begin)
		if !j.Deadline.IsZero() && at.After(j.Deadline) {
			return fmt.Errorf("verify: the step's timeout ends before metric %s has a verdict (%d of %d measurements taken)", m.name, m.next, m.n)
		}
		if at.After(s.o.now()) {
			if err := io.Sleep(ctx, at); err != nil {
				return err
			}
		}
		if err := a.measure(ctx, m); err != nil {
			return err
		}
		fbs, err := s.fallbacks(ctx, j, io, []*metric{m}, begin)
		if err != nil {
			return err
		}
		ms = append(ms, fbs...)
	}
	if sc != nil {
		return sc.conclude(io, ms)
	}
	return conclude(io, ms)
}

// metrics prepares the step's metric and log checks with their providers.
func (s *Step) metrics(ctx context.Context, j Job) ([]*metric, error) {
	interval, span := s.schedule(j)
	var out []*metric
	windows := map[*metric]time.Duration{}
	for _, mc := range j.Verify.Metrics {
		p, err := s.src.Provider(ctx, j.EnvironmentName, j.Environment, mc.Provider)
		if err != nil {
			return nil, fmt.Errorf("verify: metric %s: provider %s: %w", mc.Name, mc.Provider, err)
		}
		m, err := newMetric(mc, j.Verify, p, &s.o)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		windows[m] = windowOf(mc, j.Verify, interval)
		out = append(out, m)
	}
	for _, lc := range j.Verify.Logs {
		p, err := s.src.Provider(ctx, j.EnvironmentName, j.Environment, lc.Provider)
		if err != nil {
			return nil, fmt.Errorf("verify: log check %s: provider %s: %w", lc.Name, lc.Provider, err)
		}
		m, err := newLogMetric(lc, p)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		windows[m] = windowOf(spec.MetricCheck{}, j.Verify, interval)
		out = append(out, m)
	}
	for _, m := range out {
		m.onProviderError = j.Verify.OnProviderError
		m.schedule(interval, span, s.o.seqEvery, windows[m])
		if m.baseline && !j.Baseline.Valid() {
			return nil, fmt.Errorf("verify: metric %s compares with a baseline, but no slot is live yet (first release)", m.name)
		}
		if _, err := Render(m.query, templateVars(j, j.Canary, interval)); err != nil {
			return nil, fmt.Errorf("verify: metric %s: %w", m.name, err)
		}
	}
	return out, nil
}

// schedule is a step's measurement interval and the span its measurements cover.
func (s *Step) schedule(j Job) (interval, span time.Duration) {
	interval, span = j.Verify.Interval.Std(), j.Verify.Duration.Std()
	if interval <= 0 {
		interval = s.o.interval
		if span > 0 && interval > span {
			interval = span // the duration bounds the step
		}
	}
	if span <= 0 {
		span = time.Duration(max(j.Verify.Count, 1)) * interval
	}
	return interval, span
}

// replay applies the measurements an earlier run of this attempt recorded.
func (s *Step) replay(ctx context.Context, io StepIO, ms []*metric) error {
	recs, err := io.Records(ctx, events.TypeMeasurement)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	byName := map[string]*metric{}
	for _, m := range ms {
		byName[m.name] = m
	}
	applied := 0
	for _, raw := range recs {
		var r Measurement
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("verify: recorded measurement: %w", err)
		}
		if m := byName[r.Metric]; m != nil && !m.done {
			m.apply(r, s.retryDelay(m))
			applied++
		}
	}
	if applied > 0 {
		io.Console("info", "resuming verification after %d recorded measurement(s)", applied)
	}
	return nil
}

// check asks each provider once whether it is reachable; a failure is only a
// warning here, as the measurements' error limits decide.
func (s *Step) check(ctx context.Context, io StepIO, ms []*metric, service string) {
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.providerName] {
			continue
		}
		seen[m.providerName] = true
		cctx, cancel := context.WithTimeout(ctx, s.o.timeout)
		err := m.provider.Check(cctx)
		if w, ok := m.provider.(Watcher); ok && err == nil {
			err = w.Watch(cctx, service)
		}
		cancel()
		if err != nil {
			io.Console("warn", "provider %s is not ready: %s", m.providerName, redact(m.provider, err.Error()))
		}
	}
}

func (s *Step) retryDelay(m *metric) time.Duration { return min(s.o.retry, m.every) }

// templateVars are the values a query template may use.
func templateVars(j Job, slot platform.Slot, window time.Duration) map[string]string {
	v := make(map[string]string, len(j.Variables)+4)
	for k, val := range j.Variables {
		v[k] = val
	}
	v["slot"], v["service"], v["window"] = string(slot), j.Service, WindowString(window)
	v["canary"], v["baseline"] = string(j.Canary), string(j.Baseline)
	return v
}

// announce shows the plan of the analysis on the console.
func announce(io StepIO, j Job, ms []*metric, begin time.Time) {
	for _, m := range ms {
		if m.done || m.next > 0 {
			continue
		}
		against := ""
		if m.baseline {
			against = " against " + string(j.Baseline)
		}
		windows := ""
		if m.window != m.every {
			windows = " over " + WindowString(m.window) + " windows"
		}
		if j.Background {
			io.Console("info", "watching %s on %s%s: %s judge, every %s%s from %s until its scope ends",
				m.name, j.Canary, against, m.judge, m.every, windows, begin.Add(m.every).Format(time.TimeOnly))
			continue
		}
		io.Console("info", "verifying %s on %s%s: %s judge, %d measurement(s) every %s%s from %s",
			m.name, j.Canary, against, m.judge, m.n, m.every, windows, begin.Add(m.every).Format(time.TimeOnly))
	}
}

func allDone(ms []*metric) bool {
	for _, m := range ms {
		if !m.done {
			return false
		}
	}
	return true
}

// worstFinished returns a finished metric whose verdict stops the analysis now
// (Failed, Error or Inconclusive), the worst first; a skipped metric does not.
func worstFinished(ms []*metric) *metric {
	var worst *metric
	for _, m := range ms {
		if m.done && !m.skipped && m.verdict != Successful && (worst == nil || m.verdict > worst.verdict) {
			worst = m
		}
	}
	return worst
}

// nextDue returns the unfinished metric due first.
func nextDue(ms []*metric, begin time.Time) *metric {
	var best *metric
	for _, m := range ms {
		if !m.done && (best == nil || m.due(begin).Before(best.due(begin))) {
			best = m
		}
	}
	return best
}

// conclude returns the step's verdict: nil when every metric succeeded, otherwise
// the worst metric's error.
func conclude(io StepIO, ms []*metric) error {
	if w := worstFinished(ms); w != nil {
		err := w.verdictError()
		io.Console("error", "%s", err)
		return err
	}
	if n := skippedCount(ms); n > 0 {
		io.Console("warn", "verification successful: %d check(s) passed, %d skipped because their provider stayed unavailable", len(ms)-n, n)
		return nil
	}
	io.Console("info", "verification successful: %d check(s) passed", len(ms))
	return nil
}

func redact(p Provider, s string) string {
	if r, ok := p.(Redacter); ok {
		return r.Redact(s)
	}
	return s
}

// skippedCount counts the metrics skipped for a provider that stayed unavailable.
func skippedCount(ms []*metric) int {
	n := 0
	for _, m := range ms {
		if m.skipped {
			n++
		}
	}
	return n
}
