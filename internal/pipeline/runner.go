package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// Engine is what a pipeline asks of the execution engine: stage executions start
// exactly as POST /api/v1/workflows/{name}/run starts them.
type Engine interface {
	Start(ctx context.Context, r engine.StartRequest) (store.Execution, error)
	Rollback(ctx context.Context, id, by, reason string) error
}

// Store is the part of the store a pipeline uses.
type Store interface {
	store.PipelineRuns
	GetDefinition(ctx context.Context, kind store.Kind, name string, version int64) (store.Definition, error)
	GetExecution(ctx context.Context, id string) (store.Execution, error)
	ListExecutions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error)
	Events(ctx context.Context, executionID string, after int64, limit int) ([]store.Event, error)
	GetService(ctx context.Context, environment, service string) (store.ServiceState, error)
}

// Options configures a Runner. Store and Engine are required.
type Options struct {
	Store  Store
	Engine Engine
	// Authorize checks that id may deploy to env (role deployer) before a stage
	// starts there; nil allows everyone (authentication off).
	Authorize func(ctx context.Context, id auth.Identity, env, action string) error
	// Undo puts the previous release of a service back (POST .../undo) and returns the
	// execution that does it; needed for onFailure: rollback-all.
	Undo func(ctx context.Context, env, service, who, reason string) (string, error)
	// Verifier runs verification gates (the server's verify step runner); nil fails
	// every verification gate.
	Verifier Verifier
	Logger   *slog.Logger
	// Owner names this server in leases (as engine.Options.Owner); default "local".
	Owner string
	// Lease is how long a claim lasts without renewal; default 15s.
	Lease time.Duration
	// Poll is how often a run looks at its stages; default 500ms.
	Poll time.Duration
	// Announce, when set, wakes the server named owner (PostgreSQL's NOTIFY) when a
	// decision or an abort for a run it drives is stored here; without it, or when it
	// fails, the owner sees the change at its next look (Poll).
	Announce func(ctx context.Context, owner string) error
	// StreamPoll is how often a subscriber (Subscribe) re-reads its stored run for
	// lines another server wrote; default 500ms.
	StreamPoll time.Duration
	Now        func() time.Time
	NewID      func() string
}

// Runner drives pipeline runs. Create it with New, call Recover once, Close at the end.
type Runner struct {
	opt  Options
	st   Store
	log  *slog.Logger
	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	logs logs // runs' logs, as event streams

	mu     sync.Mutex
	runs   map[string]*driver
	verify verifications
}

// driver is the goroutine of one run.
type driver struct {
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}
}

// New returns a Runner; it drives nothing until Start or Recover.
func New(opt Options) (*Runner, error) {
	if opt.Store == nil || opt.Engine == nil {
		return nil, errors.New("pipeline: store and engine are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Owner == "" {
		opt.Owner = "local"
	}
	if opt.Lease <= 0 {
		opt.Lease = 15 * time.Second
	}
	if opt.Poll <= 0 {
		opt.Poll = 500 * time.Millisecond
	}
	if opt.StreamPoll <= 0 {
		opt.StreamPoll = 500 * time.Millisecond
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.NewID == nil {
		opt.NewID = randomID
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{opt: opt, st: opt.Store, log: opt.Logger, base: ctx, stop: cancel, runs: map[string]*driver{},
		logs: newLogs(opt)}
	r.wg.Add(1)
	go r.leaseLoop()
	return r, nil
}

// Close stops driving runs and hands their leases back; they resume on the next
// Recover, here or on another server.
func (r *Runner) Close() {
	ids := r.driven()
	r.stop()
	r.wg.Wait()
	if len(ids) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := r.st.RenewPipelineLeases(ctx, r.opt.Owner, ids, r.opt.Now().UTC()); err != nil {
			r.log.Warn("cannot hand pipeline runs back", "err", err)
		}
	}
}

// StartRequest asks for a run of a pipeline.
type StartRequest struct {
	Pipeline  string
	Version   int64 // 0: the latest
	Variables map[string]string
	// Identity is who starts the run; every stage is started and authorised as them.
	Identity auth.Identity
}

// Start checks the request (the pipeline's variables, and that the caller may deploy
// to every stage's environment), stores a new run and starts driving it.
func (r *Runner) Start(ctx context.Context, req StartRequest) (store.PipelineRun, error) {
	def, p, err := r.definition(ctx, req.Pipeline, req.Version)
	if err != nil {
		return store.PipelineRun{}, err
	}
	vars, err := p.Values(req.Variables)
	if err != nil {
		return store.PipelineRun{}, err
	}
	if r.opt.Authorize != nil {
		for _, s := range p.Spec.Stages {
			if err := r.opt.Authorize(ctx, req.Identity, s.Environment, fmt.Sprintf("running pipeline %s (stage %s)", p.Metadata.Name, s.Name)); err != nil {
				return store.PipelineRun{}, err
			}
		}
	}
	now := r.opt.Now().UTC()
	st := newState(p, req.Identity.Groups)
	st.started(now, def, req.Identity.User)
	raw, err := json.Marshal(st)
	if err != nil {
		return store.PipelineRun{}, fmt.Errorf("pipeline: encode state: %w", err)
	}
	run := store.PipelineRun{ID: r.opt.NewID(), Pipeline: def.Name, PipelineVersion: def.Version, Variables: vars,
		StartedBy: req.Identity.User, CreatedAt: now, UpdatedAt: now, Status: store.StatusRunning, State: raw,
		Owner: r.opt.Owner, LeaseUntil: now.Add(r.opt.Lease)}
	if err := r.st.CreatePipelineRun(ctx, &run); err != nil {
		return store.PipelineRun{}, fmt.Errorf("pipeline: %w", err)
	}
	r.publish(run.ID, st.Log, 0)
	r.drive(run.ID)
	return run, nil
}

// newState lists every stage as pending.
func newState(p *spec.Pipeline, groups []string) *State {
	st := &State{Groups: groups}
	for _, s := range p.Spec.Stages {
		ss := StageState{Name: s.Name, Workflow: s.Workflow, Environment: s.Environment, Status: StagePending, Needs: s.Needs}
		for _, g := range s.Gates {
			gi := GateInfo{Kind: g.Kind()}
			if a := g.Approval; a != nil {
				gi.Approvers, gi.Required, gi.Message = a.Approvers, max(a.Required, 1), a.Message
			} else if g.Soak > 0 {
				gi.Soak = g.Soak.String()
			}
			ss.Gates = append(ss.Gates, gi)
		}
		st.Stages = append(st.Stages, ss)
	}
	return st
}

// definition reads and parses one version of a pipeline.
func (r *Runner) definition(ctx context.Context, name string, version int64) (store.Definition, *spec.Pipeline, error) {
	def, err := r.st.GetDefinition(ctx, store.KindPipeline, name, version)
	if err != nil {
		return def, nil, fmt.Errorf("pipeline %s: %w", name, err)
	}
	p, err := spec.ParsePipeline(fmt.Sprintf("pipeline/%s@v%d", def.Name, def.Version), []byte(def.Source))
	if err != nil {
		return def, nil, err
	}
	return def, p, nil
}

// Recover claims the runs this server held before a restart, and free ones, and
// drives them; it returns how many.
func (r *Runner) Recover(ctx context.Context) (int, error) {
	return r.claim(ctx, true)
}

// Wait blocks until the run is no longer driven here (it ended or the runner
// closed) or ctx ends.
func (r *Runner) Wait(ctx context.Context, id string) error {
	r.mu.Lock()
	d := r.runs[id]
	r.mu.Unlock()
	if d == nil {
		return nil
	}
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drive starts the goroutine of a run unless it runs here already.
func (r *Runner) drive(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.runs[id]; ok || r.base.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.base)
	d := &driver{cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{})}
	r.runs[id] = d
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer cancel()
		r.loop(ctx, id, d.wake)
		r.mu.Lock()
		delete(r.runs, id)
		r.mu.Unlock()
		close(d.done)
	}()
}

// driven lists the runs driven here.
func (r *Runner) driven() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Collect(maps.Keys(r.runs))
}

// poke makes the run's goroutine look again at once, when it runs here.
func (r *Runner) poke(id string) {
	r.mu.Lock()
	d := r.runs[id]
	r.mu.Unlock()
	if d != nil {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// loop reconciles a run until it ends or its context does.
func (r *Runner) loop(ctx context.Context, id string, wake <-chan struct{}) {
	t := time.NewTicker(r.opt.Poll)
	defer t.Stop()
	for {
		done, err := r.reconcile(ctx, id)
		switch {
		case done:
			return
		case errors.Is(err, store.ErrConflict):
			// someone else wrote (a decision, an abort, a new owner): look again
		case err != nil && ctx.Err() == nil:
			r.log.Warn("pipeline run", "run", id, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}

// leaseLoop renews and claims every Lease/5.
func (r *Runner) leaseLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.opt.Lease / 5)
	defer t.Stop()
	for {
		select {
		case <-r.base.Done():
			return
		case <-t.C:
		}
		if err := r.renew(r.base); err != nil {
			r.log.Warn("cannot renew pipeline leases", "err", err)
			continue
		}
		if _, err := r.claim(r.base, false); err != nil {
			r.log.Warn("cannot claim pipeline runs", "err", err)
		}
	}
}

// renew extends the leases of every run driven here and stops those it lost.
func (r *Runner) renew(ctx context.Context) error {
	ids := r.driven()
	if len(ids) == 0 {
		return nil
	}
	kept, err := r.st.RenewPipelineLeases(ctx, r.opt.Owner, ids, r.opt.Now().Add(r.opt.Lease).UTC())
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if !containsString(kept, id) && r.runs[id] != nil {
			r.log.Warn("pipeline lease lost; no longer driving run", "run", id)
			r.runs[id].cancel()
		}
	}
	return nil
}

// claim takes runs that are free, expired or (with own) this server's, and drives them.
func (r *Runner) claim(ctx context.Context, own bool) (int, error) {
	now := r.opt.Now()
	runs, err := r.st.ClaimPipelineRuns(ctx, store.ClaimRequest{Owner: r.opt.Owner, Now: now.UTC(),
		Until: now.Add(r.opt.Lease).UTC(), Own: own})
	if err != nil {
		return 0, fmt.Errorf("pipeline: claim: %w", err)
	}
	for _, run := range runs {
		r.log.Info("resuming pipeline run", "run", run.ID, "owner", r.opt.Owner)
		r.drive(run.ID)
	}
	return len(runs), nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orAnonymous(who string) string {
	if who == "" {
		return "anonymous"
	}
	return who
}

func randomID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return "p" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:11]
}
