package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/events"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/verify"
)

// Verifier runs the analysis of a verify block, as the verify step does
// (*verify.Step is one): measurements on their schedule, verdicts, limits.
type Verifier interface {
	Analyse(ctx context.Context, j verify.Job, io verify.StepIO) error
}

// Record is one result a verification gate recorded (a measurement), kept in the
// run so that the analysis continues from it after a restart.
type Record struct {
	Gate   int             `json:"gate"`
	Target string          `json:"target"` // the stage measured
	Kind   string          `json:"kind"`
	Data   json.RawMessage `json:"data"`
}

// verifications runs verification gates in the background: one goroutine per gate,
// whose outcome the reconciler reads.
type verifications struct {
	mu      sync.Mutex
	running map[string]*verification
}

type verification struct {
	done chan struct{}
	err  error
}

// verifyGate starts the gate's analysis unless it runs, and reports its outcome
// once it has one.
func (t *tick) verifyGate(ss *StageState, vs *spec.VerifyStep) (pass bool, fail string) {
	if t.r.opt.Verifier == nil {
		return false, "this server runs no verifications"
	}
	key := fmt.Sprintf("%s/%s/%d", t.run.ID, ss.Name, ss.Gate)
	v := &t.r.verify
	v.mu.Lock()
	job := v.running[key]
	if job == nil {
		job = &verification{done: make(chan struct{})}
		if v.running == nil {
			v.running = map[string]*verification{}
		}
		v.running[key] = job
		t.r.wg.Add(1)
		go func(runID, stage string, gate int, since time.Time, needs []string) {
			defer t.r.wg.Done()
			defer close(job.done)
			job.err = t.r.analyseGate(t.r.base, runID, stage, gate, since, needs, vs)
		}(t.run.ID, ss.Name, ss.Gate, ss.GateSince, ss.Needs)
	}
	v.mu.Unlock()
	select {
	case <-job.done:
	default:
		return false, ""
	}
	v.mu.Lock()
	delete(v.running, key)
	v.mu.Unlock()
	if job.err != nil {
		if t.r.base.Err() != nil {
			return false, "" // stopping: the next owner measures again from the records
		}
		return false, "verification: " + job.err.Error()
	}
	return true, ""
}

// analyseGate measures the live release of every stage before, one after the other.
func (r *Runner) analyseGate(ctx context.Context, runID, stage string, gate int, since time.Time, needs []string, vs *spec.VerifyStep) error {
	for _, up := range needs {
		run, st, err := r.Get(ctx, runID)
		if err != nil {
			return err
		}
		us := st.stage(up)
		if us == nil || us.Service == "" {
			continue
		}
		svc, err := r.st.GetService(ctx, us.Environment, us.Service)
		if err != nil {
			return fmt.Errorf("stage %s: %w", up, err)
		}
		def, err := r.st.GetDefinition(ctx, store.KindEnvironment, us.Environment, 0)
		if err != nil {
			return fmt.Errorf("environment %s: %w", us.Environment, err)
		}
		env, err := spec.ParseEnvironment(fmt.Sprintf("environment/%s@v%d", def.Name, def.Version), []byte(def.Source))
		if err != nil {
			return err
		}
		io := &gateIO{r: r, runID: run.ID, stage: stage, gate: gate, target: up}
		j := verify.Job{Verify: vs, Service: us.Service, Canary: platform.Slot(svc.LiveSlot), Variables: us.Variables,
			Started: since, EnvironmentName: us.Environment, Environment: env}
		if err := r.opt.Verifier.Analyse(ctx, j, io); err != nil {
			return fmt.Errorf("stage %s in %s: %w", up, us.Environment, err)
		}
	}
	return nil
}

// gateIO is what a verification gate's analysis writes to: the run's log and records.
type gateIO struct {
	r                    *Runner
	runID, stage, target string
	gate                 int
}

var _ verify.StepIO = (*gateIO)(nil)

// Console appends a line to the run's log.
func (g *gateIO) Console(level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	err := g.r.update(context.Background(), g.runID, func(_ *store.PipelineRun, st *State) error {
		st.log(g.r.opt.Now().UTC(), events.TypePipelineGateVerify, level, g.stage, "verify %s: %s", g.target, msg)
		return nil
	})
	if err != nil {
		g.r.log.Warn("pipeline: verification console", "run", g.runID, "err", err)
	}
}

// Sleep waits until t or the runner stops.
func (g *gateIO) Sleep(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Record keeps one result in the run.
func (g *gateIO) Record(ctx context.Context, kind events.Type, message string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("verification record: %w", err)
	}
	return g.r.update(ctx, g.runID, func(_ *store.PipelineRun, st *State) error {
		ss := st.stage(g.stage)
		if ss == nil {
			return fmt.Errorf("no stage %s", g.stage)
		}
		ss.Records = append(ss.Records, Record{Gate: g.gate, Target: g.target, Kind: string(kind), Data: raw})
		if message != "" {
			st.log(g.r.opt.Now().UTC(), events.TypePipelineGateVerify, "info", g.stage, "verify %s: %s", g.target, message)
		}
		return nil
	})
}

// Records returns what this gate recorded for its target before.
func (g *gateIO) Records(ctx context.Context, kind events.Type) ([]json.RawMessage, error) {
	_, st, err := g.r.Get(ctx, g.runID)
	if err != nil {
		return nil, err
	}
	ss := st.stage(g.stage)
	if ss == nil {
		return nil, nil
	}
	var out []json.RawMessage
	for _, rec := range ss.Records {
		if rec.Gate == g.gate && rec.Target == g.target && rec.Kind == string(kind) {
			out = append(out, rec.Data)
		}
	}
	return out, nil
}
