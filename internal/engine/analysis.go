package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// workflowScope is the key of the workflow's own background analysis; a phase's
// is "p<N>.analysis".
const workflowScope = "analysis"

// AnalysisState is the progress of one background analysis (a phase's or the
// workflow's `analysis:`), kept in the execution's state so that a resumed
// execution starts it again with the same schedule and its recorded measurements.
type AnalysisState struct {
	// StartedAt is when the new slot first had traffic within the analysis's scope.
	StartedAt time.Time `json:"startedAt"`
	// PromotedAt is when the analysis first saw the new slot live.
	PromotedAt *time.Time `json:"promotedAt,omitempty"`
	// Done is set once the scope ended (and its watch after promotion, if any).
	Done bool `json:"done,omitempty"`
}

// analysisFailed is how a background analysis's verdict reaches the execution:
// it ends the running step and the execution rolls back (or pauses, when the
// verdict asks a person to decide).
type analysisFailed struct {
	scope string
	err   error
}

func (a *analysisFailed) Error() string {
	return fmt.Sprintf("background %s failed: %v", a.scopeName(), a.err)
}

func (a *analysisFailed) Unwrap() error { return a.err }

func (a *analysisFailed) scopeName() string {
	if a.scope == workflowScope {
		return "analysis of the workflow"
	}
	return "analysis of phase " + a.scope
}

// background runs the analyses of one execution next to its steps.
type background struct {
	mu      sync.Mutex
	running map[string]context.CancelFunc // by scope key
	failed  *analysisFailed               // the first verdict that ends the execution
	step    context.CancelCauseFunc       // ends the step running now, if any
	wg      sync.WaitGroup
}

// analysisScope is one declared analysis and the phases it covers.
type analysisScope struct {
	key        string
	name       string // phase name, or "workflow"
	a          *spec.Analysis
	first, end int // phases [first, end) it covers
}

// scopes lists the workflow's declared analyses.
func (r *run) scopes() []analysisScope {
	var out []analysisScope
	if a := r.wf.Spec.Analysis; a != nil {
		out = append(out, analysisScope{key: workflowScope, name: workflowScope, a: a, first: 0, end: len(r.wf.Spec.Phases)})
	}
	for i, ph := range r.wf.Spec.Phases {
		if ph.Analysis != nil {
			out = append(out, analysisScope{key: fmt.Sprintf("p%d.analysis", i+1), name: ph.Name, a: ph.Analysis, first: i, end: i + 1})
		}
	}
	return out
}

// newSlotServes reports whether the new slot has traffic now.
func (r *run) newSlotServes() bool {
	return r.state.Promoted || r.state.Weights != nil && r.state.Weights.Of(r.state.NewSlot) > 0
}

// syncAnalyses starts the analyses whose scope is running and whose new slot has
// traffic, keeps a promoted scope's watch, and stops the analyses whose scope has
// ended. It returns the failure that ends the execution, if one came.
func (r *run) syncAnalyses(ctx context.Context) error {
	if err := r.analysisFailure(); err != nil {
		return err
	}
	runner := r.e.opt.Steps[spec.StepVerify]
	for _, sc := range r.scopes() {
		as := r.analysisState(sc.key)
		switch {
		case as != nil && as.Done:
			r.stopAnalysis(sc.key)
		case r.state.Phase >= sc.end:
			if as != nil {
				if err := r.watchAfterPromotion(ctx, sc, as, runner); err != nil {
					return err
				}
				as.Done = true
				r.stopAnalysis(sc.key)
				r.console("", "info", "%s ended with its scope", scopeText(sc))
			}
		case r.state.Phase >= sc.first && r.newSlotServes():
			if as == nil {
				as = &AnalysisState{StartedAt: r.e.opt.Now().UTC()}
				if r.state.Analyses == nil {
					r.state.Analyses = map[string]*AnalysisState{}
				}
				r.state.Analyses[sc.key] = as
				if err := r.commit(ctx, nil); err != nil {
					return err
				}
			}
			if r.state.Promoted && as.PromotedAt == nil {
				now := r.e.opt.Now().UTC()
				as.PromotedAt = &now
			}
			if err := r.startAnalysis(ctx, sc, as, runner); err != nil {
				return err
			}
		}
	}
	return nil
}

// watchAfterPromotion keeps a scope's analysis running for its afterPromotion
// once the new slot was promoted within the scope; the execution waits meanwhile
// and a failure ends the wait.
func (r *run) watchAfterPromotion(ctx context.Context, sc analysisScope, as *AnalysisState, runner StepRunner) error {
	if sc.a.AfterPromotion <= 0 || !r.state.Promoted {
		return nil
	}
	if as.PromotedAt == nil {
		now := r.e.opt.Now().UTC()
		as.PromotedAt = &now
	}
	until := as.PromotedAt.Add(sc.a.AfterPromotion.Std())
	if !r.e.opt.Now().Before(until) {
		return nil
	}
	if err := r.startAnalysis(ctx, sc, as, runner); err != nil {
		return err
	}
	r.console("", "info", "%s watches %s after its promotion until %s", scopeText(sc), r.state.NewSlot, until.Format(time.TimeOnly))
	if err := r.commit(ctx, nil); err != nil {
		return err
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.setStepCancel(cancel)
	defer r.setStepCancel(nil)
	err := r.block(wctx, until, nil)
	if f := r.analysisFailure(); f != nil {
		return f
	}
	return err
}

// startAnalysis runs a scope's analysis in the background unless it runs already.
func (r *run) startAnalysis(ctx context.Context, sc analysisScope, as *AnalysisState, runner StepRunner) error {
	if runner == nil {
		return &analysisFailed{scope: sc.name, err: fmt.Errorf("analysis: %w: this build has no verification providers", ErrUnavailable)}
	}
	b := r.bg()
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.running[sc.key]; ok {
		return nil
	}
	actx, cancel := context.WithCancel(ctx)
	b.running[sc.key] = cancel
	bsc := &StepContext{
		ExecutionID: r.ex.ID, EnvironmentName: r.ex.Environment, Environment: r.env,
		Service: r.wf.Spec.Service, Step: &spec.Step{Name: sc.key, Verify: sc.a.VerifyStep()},
		StepKey: sc.key, Attempt: 1, StartedAt: as.StartedAt, NewSlot: r.state.NewSlot,
		LiveSlot: r.state.slot(spec.RoleOld), Variables: r.ex.Variables, Runtime: r.rt, Background: true,
		bgRun: &bgIO{e: r.e, exID: r.ex.ID, key: fmt.Sprintf("%s/%s/a1", r.ex.ID, sc.key), label: scopeText(sc)},
	}
	r.console("", "info", "%s starts: watching %s in the background", scopeText(sc), r.state.NewSlot)
	b.wg.Go(func() {
		err := runner.Run(actx, bsc)
		if actx.Err() != nil {
			return // stopped with its scope, or the engine stopped
		}
		if err == nil {
			err = errors.New("the analysis ended before its scope")
		}
		r.failAnalysis(&analysisFailed{scope: sc.name, err: err})
	})
	return nil
}

func scopeText(sc analysisScope) string {
	if sc.key == workflowScope {
		return "analysis of the workflow"
	}
	return "analysis of phase " + sc.name
}

func (r *run) analysisState(key string) *AnalysisState {
	if r.state.Analyses == nil {
		return nil
	}
	return r.state.Analyses[key]
}

// bg returns the run's background analyses, created on first use.
func (r *run) bg() *background {
	r.bgOnce.Do(func() { r.bgs = &background{running: map[string]context.CancelFunc{}} })
	return r.bgs
}

// failAnalysis records the first failure of a background analysis and ends the
// step running now, if any.
func (r *run) failAnalysis(f *analysisFailed) {
	b := r.bg()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failed != nil {
		return
	}
	b.failed = f
	if b.step != nil {
		b.step(f)
	}
}

// analysisFailure returns the failure of a background analysis, if one came.
func (r *run) analysisFailure() *analysisFailed {
	b := r.bg()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failed
}

// setStepCancel sets what ends the running step when an analysis fails.
func (r *run) setStepCancel(cancel context.CancelCauseFunc) {
	b := r.bg()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.step = cancel
	if cancel != nil && b.failed != nil {
		cancel(b.failed)
	}
}

// stopAnalysis stops one background analysis.
func (r *run) stopAnalysis(key string) {
	b := r.bg()
	b.mu.Lock()
	cancel, ok := b.running[key]
	delete(b.running, key)
	b.mu.Unlock()
	if ok {
		cancel()
	}
}

// stopAnalyses stops every background analysis and waits for them to return.
func (r *run) stopAnalyses() {
	b := r.bg()
	b.mu.Lock()
	for k, cancel := range b.running {
		cancel()
		delete(b.running, k)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// onAnalysisFailure turns a background analysis's verdict into the next status:
// a person decides an inconclusive one, any other rolls back.
func (r *run) onAnalysisFailure(f *analysisFailed) (store.Status, error) {
	r.stopAnalyses()
	if r.state.Phase < len(r.state.Phases) {
		if cur := r.state.current(); cur.Status == store.StatusRunning {
			r.endStep(cur, store.StatusFailed, f.Error())
		}
	}
	r.console("", "error", "%v", f)
	if errors.Is(f.err, ErrNeedsDecision) {
		r.state.PausedFor = "failure"
		r.ex.Reason = f.Error() + "; waiting for a person to retry, resume, roll back or abort"
		return store.StatusPaused, nil
	}
	r.startRollback(f)
	return store.StatusRollingBack, nil
}

// bgIO is where a background analysis writes: its own journal key and direct
// commits of events, never the execution's state, which only the execution's
// goroutine writes.
type bgIO struct {
	e     *Engine
	exID  string
	key   string // the journal key of its records
	label string // console prefix
}

func (b *bgIO) console(level, format string, args ...any) {
	ev := store.Event{ExecutionID: b.exID, At: b.e.opt.Now().UTC(), Type: string(events.TypeConsole), Level: level,
		Message: b.e.opt.Redact(b.label + ": " + fmt.Sprintf(format, args...))}
	c := &store.Commit{ExecutionID: b.exID, Events: []store.Event{ev}}
	if err := b.e.store.Commit(context.Background(), c); err != nil {
		b.e.log.Warn("analysis console line not written", "execution", b.exID, "err", err)
		return
	}
	b.e.publish(c.Events)
}

func (b *bgIO) sleep(ctx context.Context, t time.Time) error {
	return sleepUntil(ctx, b.e.opt.Clock, t)
}

func (b *bgIO) record(ctx context.Context, step string, kind events.Type, message string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	body := json.RawMessage(b.e.opt.Redact(string(raw)))
	now := b.e.opt.Now().UTC()
	c := &store.Commit{ExecutionID: b.exID,
		Journal: []store.JournalEntry{{Key: b.key, Kind: string(events.RecordKind(kind)), Data: body, At: now}},
		Events:  []store.Event{{ExecutionID: b.exID, At: now, Type: string(kind), Step: step, Level: string(events.LevelInfo), Message: b.e.opt.Redact(message), Data: body}},
	}
	if err := b.e.store.Commit(ctx, c); err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	b.e.publish(c.Events)
	return nil
}

func (b *bgIO) records(ctx context.Context, kind events.Type) ([]json.RawMessage, error) {
	journal, err := b.e.store.Journal(ctx, b.exID)
	if err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	var out []json.RawMessage
	for _, j := range journal {
		if j.Key == b.key && events.Kind(j.Kind) == events.RecordKind(kind) {
			out = append(out, j.Data)
		}
	}
	return out, nil
}
