package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
)

// ProviderSource finds the provider that a metric names in an execution's
// environment; the server's wiring implements it (providers.Source does).
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

// stepIO is what the analysis needs of the engine's StepContext.
type stepIO interface {
	Console(level, format string, args ...any)
	Sleep(ctx context.Context, t time.Time) error
	Record(ctx context.Context, kind, message string, data any) error
	Records(ctx context.Context, kind string) ([]json.RawMessage, error)
}

// job is what one verify step attempt measures.
type job struct {
	verify   *spec.VerifyStep
	service  string
	canary   platform.Slot
	baseline platform.Slot
	vars     map[string]string
	started  time.Time
	envName  string
	env      *spec.Environment
}

// Run runs one attempt of a verify step, continuing from its recorded
// measurements after a restart.
func (s *Step) Run(ctx context.Context, sc *engine.StepContext) error {
	if sc.Step == nil || sc.Step.Verify == nil {
		return fmt.Errorf("verify: step %s has no verify block", sc.StepKey)
	}
	j := job{
		verify: sc.Step.Verify, service: sc.Service.Name, canary: sc.NewSlot, baseline: sc.LiveSlot,
		vars: sc.Variables, started: sc.StartedAt, envName: sc.EnvironmentName, env: sc.Environment,
	}
	return s.analyse(ctx, j, sc)
}

// analyse measures every metric on its schedule until each has a verdict or one
// fails, and returns nil only when all succeeded.
func (s *Step) analyse(ctx context.Context, j job, io stepIO) error {
	ms, err := s.metrics(ctx, j)
	if err != nil {
		return err
	}
	if err := s.replay(ctx, io, ms); err != nil {
		return err
	}
	s.check(ctx, io, ms)
	begin := j.started.Add(j.verify.InitialDelay.Std())
	a := &analysis{s: s, j: j, io: io, begin: begin}
	for steps := 0; ; steps++ {
		if stop := worstFinished(ms); stop != nil || allDone(ms) {
			break
		}
		if steps > a.bound(ms) {
			return fmt.Errorf("verify: analysis did not finish after %d measurements", steps)
		}
		m := nextDue(ms, begin)
		if at := m.due(begin); at.After(s.o.now()) {
			if err := io.Sleep(ctx, at); err != nil {
				return err
			}
		}
		if err := a.measure(ctx, m); err != nil {
			return err
		}
	}
	return conclude(io, ms)
}

// metrics prepares the step's metric and log checks with their providers.
func (s *Step) metrics(ctx context.Context, j job) ([]*metric, error) {
	interval := j.verify.Interval.Std()
	if interval <= 0 {
		interval = s.o.interval
	}
	span := j.verify.Duration.Std()
	if span <= 0 {
		span = time.Duration(max(j.verify.Count, 1)) * interval
	}
	var out []*metric
	for _, mc := range j.verify.Metrics {
		p, err := s.src.Provider(ctx, j.envName, j.env, mc.Provider)
		if err != nil {
			return nil, fmt.Errorf("verify: metric %s: provider %s: %w", mc.Name, mc.Provider, err)
		}
		m, err := newMetric(mc, p, &s.o)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		out = append(out, m)
	}
	for _, lc := range j.verify.Logs {
		p, err := s.src.Provider(ctx, j.envName, j.env, lc.Provider)
		if err != nil {
			return nil, fmt.Errorf("verify: log check %s: provider %s: %w", lc.Name, lc.Provider, err)
		}
		m, err := newLogMetric(lc, p)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		out = append(out, m)
	}
	for _, m := range out {
		m.schedule(interval, span, s.o.seqEvery)
		if m.baseline && !j.baseline.Valid() {
			return nil, fmt.Errorf("verify: metric %s compares with a baseline, but no slot is live yet (first release)", m.name)
		}
		if _, err := Render(m.query, templateVars(j, j.canary, interval)); err != nil {
			return nil, fmt.Errorf("verify: metric %s: %w", m.name, err)
		}
	}
	return out, nil
}

// replay applies the measurements an earlier run of this attempt recorded.
func (s *Step) replay(ctx context.Context, io stepIO, ms []*metric) error {
	recs, err := io.Records(ctx, "measurement")
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	byName := map[string]*metric{}
	for _, m := range ms {
		byName[m.name] = m
	}
	for _, raw := range recs {
		var r Measurement
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("verify: recorded measurement: %w", err)
		}
		if m := byName[r.Metric]; m != nil && !m.done {
			m.apply(r, s.retryDelay(m))
		}
	}
	if len(recs) > 0 {
		io.Console("info", "resuming verification after %d recorded measurement(s)", len(recs))
	}
	return nil
}

// check asks each provider once whether it is reachable; a failure is only a
// warning here, as the measurements' error limits decide.
func (s *Step) check(ctx context.Context, io stepIO, ms []*metric) {
	seen := map[Provider]bool{}
	for _, m := range ms {
		if seen[m.provider] {
			continue
		}
		seen[m.provider] = true
		cctx, cancel := context.WithTimeout(ctx, s.o.timeout)
		err := m.provider.Check(cctx)
		cancel()
		if err != nil {
			io.Console("warn", "provider of %s is not ready: %s", m.name, redact(m.provider, err.Error()))
		}
	}
}

func (s *Step) retryDelay(m *metric) time.Duration { return min(s.o.retry, m.every) }

// templateVars are the values a query template may use.
func templateVars(j job, slot platform.Slot, window time.Duration) map[string]string {
	v := make(map[string]string, len(j.vars)+4)
	for k, val := range j.vars {
		v[k] = val
	}
	v["slot"], v["service"], v["window"] = string(slot), j.service, WindowString(window)
	v["canary"], v["baseline"] = string(j.canary), string(j.baseline)
	return v
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
// (Failed, Error or Inconclusive), the worst first.
func worstFinished(ms []*metric) *metric {
	var worst *metric
	for _, m := range ms {
		if m.done && m.verdict != Successful && (worst == nil || m.verdict > worst.verdict) {
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
func conclude(io stepIO, ms []*metric) error {
	if w := worstFinished(ms); w != nil {
		err := w.verdictError()
		io.Console("error", "%s", err)
		return err
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
