package engine

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
)

// Runtime is what an environment resolves to: where instances run and what splits
// their traffic.
type Runtime struct {
	Platform platform.Platform
	Router   traffic.Router
}

// Resolver turns an environment document into its runtime. An unknown platform or
// router type is an error.
type Resolver interface {
	Resolve(ctx context.Context, name string, env *spec.Environment) (Runtime, error)
}

// Publisher receives console events once they are durable.
type Publisher interface {
	Publish(evs ...store.Event)
}

// Options configures an Engine. Store and Resolver are required.
type Options struct {
	Store     Store
	Resolver  Resolver
	Publisher Publisher    // nil: events are only stored
	Logger    *slog.Logger // nil: discard
	// NewID returns a new execution ID; nil uses a random 12-character ID.
	NewID func() string
	// Clock tells the time and drives every timer of the engine (waits, timeouts,
	// backoffs, polls, lease renewals); nil uses WallClock. Tests inject a fake one
	// (enginetest.Clock) and advance it instead of sleeping.
	Clock Clock
	// Now, when set, reads the time instead of Clock.Now while timers still follow
	// Clock; nil uses Clock.Now. Set Clock instead: a Now without a Clock makes
	// timers and timestamps disagree.
	Now func() time.Time
	// CrashPoint, when set, is called at every journal boundary with its name
	// (step.started, effect.intent, effect.applied, effect.done, step.finished); tests
	// use it to kill the process at an exact point.
	CrashPoint func(point string)
	// PollInterval is how often readiness is polled; default 200ms.
	PollInterval time.Duration
	// RequestPoll is how often the engine reads the requests other servers stored for
	// the executions it drives; default PollInterval. WakeRequests reads them at once,
	// so a server whose store announces new requests (PostgreSQL's LISTEN/NOTIFY)
	// polls only as the fallback.
	RequestPoll time.Duration
	// RetryBackoff is the first delay between router write retries; default 200ms,
	// doubled up to MaxBackoff.
	RetryBackoff time.Duration
	// MaxBackoff caps retry delays; default 10s.
	MaxBackoff time.Duration
	// Owner names this engine's server in execution leases; servers sharing a store
	// need different names, and a restarted server keeps its name to resume at once.
	// Default "local".
	Owner string
	// Lease is how long a claim on an execution lasts without renewal; another server
	// takes the execution over once it lapses. Default 15s; renewed every Lease/5.
	Lease time.Duration
	// CallTimeout bounds every call to a platform or router; default 30s. A call that
	// times out fails like any other (retried or rolled back per the workflow).
	CallTimeout time.Duration
	// Redact, when set, masks secrets in every console line, reason and state the
	// engine stores (secrets.Default.String).
	Redact func(string) string
	// Steps adds runners for step types that live outside the engine (verify,
	// loadtest). A type without a runner fails clearly when a workflow reaches it.
	Steps map[spec.StepType]StepRunner
	// EvidenceNote, when set, reads the measurements recorded in the current phase
	// (its steps' and the analyses') and says where a judge lacks the evidence for
	// a pass, e.g. "errors-vs-live: not enough evidence: 9 requests on the canary
	// (57 needed)"; an approval step shows it to the people it waits for. The
	// server sets verify.EvidenceNoteJSON.
	EvidenceNote func(measurements []json.RawMessage) string
}

// Engine runs executions. Create it with New, call Recover once at start, Close at the end.
type Engine struct {
	opt   Options
	store Store
	log   *slog.Logger
	base  context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu      sync.Mutex
	runs    map[string]*run
	driving map[serviceKey]string // which execution drives each service now
	defs    definitions
	output  map[string]*outputBuffer
	answers waiters // callers waiting here for a request's answer
	// wakeRequests makes requestLoop read stored requests now (WakeRequests).
	wakeRequests chan struct{}
}

// New returns an engine; it starts nothing until Start or Recover.
func New(opt Options) (*Engine, error) {
	if opt.Store == nil || opt.Resolver == nil {
		return nil, errors.New("engine: store and resolver are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.NewID == nil {
		opt.NewID = randomID
	}
	if opt.Clock == nil {
		opt.Clock = WallClock{}
	}
	if opt.Now == nil {
		opt.Now = opt.Clock.Now
	}
	if opt.CrashPoint == nil {
		opt.CrashPoint = func(string) {}
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 200 * time.Millisecond
	}
	if opt.RequestPoll <= 0 {
		opt.RequestPoll = opt.PollInterval
	}
	if opt.RetryBackoff <= 0 {
		opt.RetryBackoff = 200 * time.Millisecond
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 10 * time.Second
	}
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = 30 * time.Second
	}
	if opt.Redact == nil {
		opt.Redact = func(s string) string { return s }
	}
	if opt.Owner == "" {
		opt.Owner = "local"
	}
	if opt.Lease <= 0 {
		opt.Lease = 15 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		opt: opt, store: opt.Store, log: opt.Logger, base: ctx, stop: cancel,
		runs: map[string]*run{}, driving: map[serviceKey]string{}, output: map[string]*outputBuffer{},
		wakeRequests: make(chan struct{}, 1),
	}
	e.wg.Add(3)
	go e.writeOutput()
	go e.leaseLoop()
	go e.requestLoop()
	return e, nil
}

// Close stops driving executions and waits for their goroutines. Executions stay in
// the store as they are and resume on the next Recover.
func (e *Engine) Close() {
	e.mu.Lock()
	ids := make([]string, 0, len(e.runs))
	for id := range e.runs {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	e.stop()
	e.wg.Wait()
	e.handBack(ids)
}

// handBack ends this engine's leases on executions it stopped driving, so another
// server takes them over at its next claim instead of after a whole lease.
func (e *Engine) handBack(ids []string) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.store.RenewLeases(ctx, e.opt.Owner, ids, e.opt.Now().UTC()); err != nil {
		e.log.Warn("cannot hand executions back", "count", len(ids), "err", err)
	}
}

// Active returns how many executions this engine drives now.
func (e *Engine) Active() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.runs)
}

// Wait blocks until the execution is no longer driven by this engine (it reached a
// terminal status or the engine closed) or ctx ends.
func (e *Engine) Wait(ctx context.Context, id string) error {
	e.mu.Lock()
	r := e.runs[id]
	e.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Start validates the request, stores a new execution and starts driving it.
func (e *Engine) Start(ctx context.Context, req StartRequest) (store.Execution, error) {
	p, err := e.prepare(ctx, req.Workflow, req.Version, req.Variables, 0)
	if err != nil {
		return store.Execution{}, err
	}
	wf, wdef, edef := p.wf, p.wdef, p.edef
	state, err := json.Marshal(newState(wf))
	if err != nil {
		return store.Execution{}, fmt.Errorf("engine: encode state: %w", err)
	}
	now := e.opt.Now().UTC()
	ex := store.Execution{
		ID: e.opt.NewID(), Workflow: wdef.Name, WorkflowVersion: wdef.Version,
		Environment: edef.Name, EnvironmentVersion: edef.Version, Service: wf.Spec.Service.Name,
		Variables: p.values, StartedBy: req.StartedBy, CreatedAt: now, UpdatedAt: now,
		Status: store.StatusPending, State: state, Owner: e.opt.Owner, LeaseUntil: now.Add(e.opt.Lease),
	}
	ev := store.Event{ExecutionID: ex.ID, At: now, Type: string(events.TypeStatus), Level: string(events.LevelInfo),
		Message: fmt.Sprintf("execution of %s v%d started by %s", ex.Workflow, ex.WorkflowVersion, orAnonymous(req.StartedBy))}
	if req.Cause != "" {
		ev.Message += ": " + req.Cause
	}
	ev.Data, _ = json.Marshal(events.StatusData{Status: store.StatusPending}) // a plain struct: no error
	c := &store.Commit{Execution: &ex, Create: true, Events: []store.Event{ev}}
	if err := e.store.Commit(ctx, c); err != nil {
		return store.Execution{}, err
	}
	e.publish(c.Events)
	if err := e.drive(ex, p); err != nil {
		return ex, err
	}
	return ex, nil
}

// Recover claims the executions this engine's owner held before a restart (and any
// free or expired ones) and resumes each from its journal; it returns how many. Call
// it once at start; the lease loop keeps claiming what other servers leave.
func (e *Engine) Recover(ctx context.Context) (int, error) {
	n, err := e.claim(ctx, true)
	if err != nil {
		return n, fmt.Errorf("engine: recover: %w", err)
	}
	return n, nil
}

// drive starts the goroutine of one execution unless it already runs here; p is its
// prepared definitions when the caller has them (a fresh start), nil on resume.
func (e *Engine) drive(ex store.Execution, p *prepared) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.base.Err() != nil {
		return errors.New("engine: closed")
	}
	if _, ok := e.runs[ex.ID]; ok {
		return nil
	}
	r := newRun(e, ex)
	r.pre = p
	ctx, cancel := context.WithCancel(e.base)
	r.cancel = cancel
	key := serviceKey{ex.Environment, ex.Service}
	e.runs[ex.ID] = r
	e.driving[key] = ex.ID
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer cancel()
		r.loop(ctx)
		e.mu.Lock()
		delete(e.runs, ex.ID)
		if e.driving[key] == ex.ID {
			delete(e.driving, key)
		}
		delete(e.output, ex.ID) // nothing is written after an execution's last status
		e.mu.Unlock()
		close(r.exited)
	}()
	return nil
}

func (e *Engine) publish(evs []store.Event) {
	if e.opt.Publisher != nil && len(evs) > 0 {
		e.opt.Publisher.Publish(evs...)
	}
}

// defFile is the file name shown in problems found in a stored definition.
func defFile(d store.Definition) string {
	return fmt.Sprintf("%s/%s@v%d", d.Kind, d.Name, d.Version)
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
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:12]
}
