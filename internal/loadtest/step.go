package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
)

// Defaults for the fields a workflow's loadtest step may leave out.
const (
	DefaultRate        = 20 // requests per second
	DefaultConcurrency = 16 // requests in flight at most
	DefaultMethod      = "GET"
	DefaultPath        = "/"
	DefaultTimeout     = 5 * time.Second // per request
	DefaultInterval    = 5 * time.Second // between progress records
)

// RecordKind is the kind of the step's records and the type of their events.
const RecordKind = events.TypeLoadTest

// TargetSource gives the addresses (host:port) of the ready instances of a slot.
type TargetSource interface {
	Endpoints(ctx context.Context, envName string, ref platform.SlotRef) ([]string, error)
}

// TargetFunc is a function that serves as a TargetSource.
type TargetFunc func(ctx context.Context, envName string, ref platform.SlotRef) ([]string, error)

// Endpoints calls f.
func (f TargetFunc) Endpoints(ctx context.Context, envName string, ref platform.SlotRef) ([]string, error) {
	return f(ctx, envName, ref)
}

// Option changes how the step runs.
type Option func(*Step)

// WithTimeout sets the per-request timeout (default 5s).
func WithTimeout(d time.Duration) Option { return func(s *Step) { s.timeout = d } }

// WithInterval sets how often progress is recorded and shown (default 5s).
func WithInterval(d time.Duration) Option { return func(s *Step) { s.interval = d } }

// WithTransport makes requests through rt instead of a transport of the step's own.
func WithTransport(rt http.RoundTripper) Option { return func(s *Step) { s.transport = rt } }

// Step runs loadtest steps; create it with NewStep.
type Step struct {
	targets   TargetSource
	timeout   time.Duration
	interval  time.Duration
	transport http.RoundTripper
}

var _ engine.StepRunner = (*Step)(nil)

// NewStep returns the runner of the loadtest step, which finds the instances to load
// through targets.
func NewStep(targets TargetSource, opts ...Option) engine.StepRunner {
	s := &Step{targets: targets, timeout: DefaultTimeout, interval: DefaultInterval}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Run sends the step's load and judges it. After a restart it sends the whole load
// again (a load cut in two by a crash is not the load the workflow asked for), unless
// the final report was already recorded, in which case that verdict stands.
func (s *Step) Run(ctx context.Context, sc *engine.StepContext) error {
	lt := sc.Step.LoadTest
	if lt == nil {
		return errors.New("loadtest: step has no loadtest block")
	}
	prev, err := previous(ctx, sc)
	if err != nil {
		return err
	}
	limits := Limits{MaxErrorRate: float64(lt.MaxErrorRate) / 100, MaxP99: lt.MaxP99.Std()}
	if prev.final != nil {
		sc.Console("info", "loadtest %s: already measured before the restart: %s", prev.final.Slot, prev.final.Line())
		return prev.final.Judge(limits)
	}
	d, err := s.destination(ctx, sc, lt)
	if err != nil {
		return err
	}
	cfg := s.config(lt, d)
	if prev.last != nil {
		sc.Console("warn", "loadtest %s: a restart cut run %d off after %s requests; sending the whole %s again",
			d.label, prev.last.Run, commas(prev.last.Requests), cfg.duration)
	}
	sc.Console("info", "loadtest %s: %d/s for %s to %s, %s, at most %d in flight%s",
		d.label, cfg.rate, cfg.duration, d.where, cfg.method, cfg.concurrency, headerNames(cfg.header))
	stamp := func(r Report) Report {
		r.Slot, r.Target, r.Run = d.slot, d.target, prev.run+1
		return r
	}
	final, err := s.load(ctx, sc, newGenerator(cfg), stamp, limitTest{limit: limits.MaxErrorRate})
	if err != nil {
		return err
	}
	return s.finish(ctx, sc, final, limits)
}

// earlyCheck is how often the running load is checked against its error limit.
const earlyCheck = 250 * time.Millisecond

// load runs the generator in the background and records its progress every interval
// until it ends, or until lt shows the error limit broken beyond chance: then the
// load stops at once and the report says so. An interruption (a rollback, an abort,
// the engine stopping) stops every worker at once and is returned unchanged.
func (s *Step) load(ctx context.Context, sc *engine.StepContext, g *generator, stamp func(Report) Report, lt limitTest) (Report, error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.run(lctx, start)
	}()
	stop := func(err error) (Report, error) {
		cancel()
		<-done
		return Report{}, err
	}
	next := start.Add(s.interval)
	for {
		select {
		case <-done:
			return stamp(g.report(start)), nil
		default:
		}
		wake, end := next, start.Add(g.cfg.duration)
		if !time.Now().Before(end) {
			wake = time.Now().Add(min(s.interval, 50*time.Millisecond)) // draining: requests in flight
		} else if end.Before(next) {
			wake = end
		}
		if check := time.Now().Add(earlyCheck); check.Before(wake) {
			wake = check
		}
		if err := sc.Sleep(ctx, wake); err != nil {
			return stop(err)
		}
		if r := g.report(start); lt.broken(float64(r.Requests-r.Successes), float64(r.Requests)) {
			cancel()
			<-done
			r = stamp(g.report(start))
			r.StoppedEarly = earlyReason(r, lt.limit)
			return r, nil
		}
		// Progress at or after the end would repeat the final report.
		if now := time.Now(); !now.Before(next) && now.Before(end) {
			r := stamp(g.report(start))
			if err := sc.Record(ctx, RecordKind, r.Line(), r); err != nil {
				return stop(fmt.Errorf("loadtest: record progress: %w", err))
			}
			for !next.After(now) {
				next = next.Add(s.interval)
			}
		}
	}
}

// finish judges the final report and records it with its verdict.
func (s *Step) finish(ctx context.Context, sc *engine.StepContext, r Report, limits Limits) error {
	r.Final = true
	verdict := r.Judge(limits)
	if r.StoppedEarly != "" {
		verdict = &LimitError{Report: r, Reasons: []string{r.StoppedEarly}}
	}
	msg := r.Line() + ": passed"
	if verdict != nil {
		r.Reason = verdict.Error()
		msg = r.Line() + ": failed"
	} else {
		r.Passed = true
	}
	if err := sc.Record(ctx, RecordKind, msg, r); err != nil {
		return fmt.Errorf("loadtest: record summary: %w", err)
	}
	if r.Unsent > 0 {
		sc.Console("warn", "loadtest %s: %s requests could not be sent in time: every worker was busy; raise concurrency or expect the latency above",
			r.Slot, commas(r.Unsent))
	}
	return verdict
}

// config fills the generator's configuration from the step and its
// destination, with defaults.
func (s *Step) config(lt *spec.LoadTestStep, d destination) config {
	c := config{
		urls: d.urls, header: d.header, method: lt.Method, rate: lt.Rate, concurrency: lt.Concurrency,
		duration: lt.Duration.Std(), timeout: s.timeout, transport: s.transport,
	}
	if c.method == "" {
		c.method = DefaultMethod
	}
	if c.rate <= 0 {
		c.rate = DefaultRate
	}
	if c.concurrency <= 0 {
		c.concurrency = DefaultConcurrency
	}
	return c
}

// history is what earlier runs of this attempt recorded.
type history struct {
	run   int     // the highest run number recorded
	last  *Report // the last progress report, if any
	final *Report // the final report, if one was recorded
}

// previous reads the records of earlier runs of this attempt.
func previous(ctx context.Context, sc *engine.StepContext) (history, error) {
	recs, err := sc.Records(ctx, RecordKind)
	if err != nil {
		return history{}, fmt.Errorf("loadtest: %w", err)
	}
	var h history
	for _, raw := range recs {
		var r Report
		if err := json.Unmarshal(raw, &r); err != nil {
			return history{}, fmt.Errorf("loadtest: decode record: %w", err)
		}
		h.run = max(h.run, r.Run)
		h.last = &r
		if r.Final {
			h.final = &r
		}
	}
	return h, nil
}
