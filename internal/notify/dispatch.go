package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// Store is what a Dispatcher reads (executions, environment definitions) and
// writes (a console line when a notifier fails).
type Store interface {
	GetExecution(ctx context.Context, id string) (store.Execution, error)
	GetDefinition(ctx context.Context, kind store.Kind, name string, version int64) (store.Definition, error)
	Commit(ctx context.Context, c *store.Commit) error
}

// Options configures a Dispatcher. Store is required.
type Options struct {
	Store Store
	// Console publishes the console lines the Dispatcher writes (the events broker);
	// nil: they are only stored.
	Console func(evs ...store.Event)
	// Resolve turns secret references of the environment envName into values,
	// registering them for masking; env is given so that Kubernetes Secrets are read
	// with its kubeconfig and namespace.
	Resolve func(ctx context.Context, envName string, env *spec.Environment, ref spec.SecretRef) (string, error)
	// Redact masks secrets in what is written to the console and the log.
	Redact func(string) string
	Logger *slog.Logger
	// HTTPClient sends Slack and webhook requests; a client with Timeout when nil.
	HTTPClient *http.Client
	Queue      int           // triggers waiting to be sent; default 256, more are dropped and logged
	Workers    int           // notifications sent at once; default 4
	Attempts   int           // tries per notifier and message; default 4
	Backoff    time.Duration // wait before the second try, doubled after each; default 1s
	Timeout    time.Duration // per try; default 10s
	Now        func() time.Time
}

// Dispatcher turns durable execution events into notifications. Publish never
// blocks: the engine's progress does not wait for any notifier.
type Dispatcher struct {
	o      Options
	events chan store.Event
	jobs   chan job
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex // guards closed against Publish racing Close
	closed bool
}

// job is one message for one notifier of an environment.
type job struct {
	msg      Message
	notifier spec.NotifierSpec
	env      *spec.Environment // the version the execution runs in
}

// New starts a Dispatcher; Close stops it.
func New(o Options) *Dispatcher {
	o = withDefaults(o)
	d := &Dispatcher{o: o, events: make(chan store.Event, o.Queue), jobs: make(chan job, o.Queue)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(1 + o.Workers)
	go d.decide()
	for range o.Workers {
		go d.work()
	}
	return d
}

func withDefaults(o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Redact == nil {
		o.Redact = func(s string) string { return s }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.Timeout}
	}
	o.Queue, o.Workers, o.Attempts = orDefault(o.Queue, 256), orDefault(o.Workers, 4), orDefault(o.Attempts, 4)
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	return o
}

func orDefault(n, d int) int {
	if n <= 0 {
		return d
	}
	return n
}

// Publish hands durable events over; those that may be triggers are queued.
func (d *Dispatcher) Publish(evs ...store.Event) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return
	}
	for _, e := range evs {
		if events.Type(e.Type) != events.TypeStatus && events.Type(e.Type) != events.TypeStep {
			continue
		}
		select {
		case d.events <- e:
		case <-d.ctx.Done():
			return
		default:
			d.o.Logger.Warn("notification queue full: dropping an event", "execution", e.ExecutionID, "type", e.Type)
		}
	}
}

// Close stops taking events and gives what is queued until ctx ends to be sent.
func (d *Dispatcher) Close(ctx context.Context) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	close(d.events)
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		d.cancel()
		<-done
	}
	d.cancel()
}

// decide reads events in order, turns triggers into jobs, and closes jobs at the end.
func (d *Dispatcher) decide() {
	defer d.wg.Done()
	defer close(d.jobs)
	for e := range d.events {
		ctx, cancel := context.WithTimeout(d.ctx, d.o.Timeout)
		jobs, err := d.jobsFor(ctx, e)
		cancel()
		if err != nil {
			d.o.Logger.Warn("cannot prepare notifications", "execution", e.ExecutionID, "err", d.o.Redact(err.Error()))
			continue
		}
		for _, j := range jobs {
			select {
			case d.jobs <- j:
			case <-d.ctx.Done():
				return
			default:
				d.fail(j, fmt.Errorf("the notification queue is full"))
			}
		}
	}
}

// jobsFor returns the notifications an event causes, none when it is no trigger or
// the execution's environment has no notifier that wants it.
func (d *Dispatcher) jobsFor(ctx context.Context, e store.Event) ([]job, error) {
	trigger, step, reason := triggerOf(e)
	if trigger == "" {
		return nil, nil
	}
	ex, err := d.o.Store.GetExecution(ctx, e.ExecutionID)
	if err != nil {
		return nil, fmt.Errorf("notify: read execution: %w", err)
	}
	if trigger == spec.TriggerVerificationFailed && stepType(ex.State, step) != string(spec.StepVerify) {
		return nil, nil
	}
	env, err := d.environment(ctx, ex)
	if err != nil {
		return nil, err
	}
	n := env.Spec.Notifications
	if n == nil {
		return nil, nil
	}
	msg := Message{Trigger: trigger, ExecutionID: ex.ID, Workflow: ex.Workflow, WorkflowVersion: ex.WorkflowVersion,
		Environment: ex.Environment, Service: ex.Service, Status: string(ex.Status), Reason: reason,
		Step: step, StartedBy: ex.StartedBy, At: e.At}
	msg.links(n.BaseURL)
	var jobs []job
	for _, ns := range n.Notifiers {
		if ns.Wants(trigger) {
			jobs = append(jobs, job{msg: msg, notifier: ns, env: env})
		}
	}
	return jobs, nil
}

// environment reads the environment version the execution runs in.
func (d *Dispatcher) environment(ctx context.Context, ex store.Execution) (*spec.Environment, error) {
	def, err := d.o.Store.GetDefinition(ctx, store.KindEnvironment, ex.Environment, ex.EnvironmentVersion)
	if err != nil {
		return nil, fmt.Errorf("notify: read environment %s: %w", ex.Environment, err)
	}
	env, err := spec.ParseEnvironment(fmt.Sprintf("environment %s v%d", def.Name, def.Version), []byte(def.Source))
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return env, nil
}

// triggerOf says which trigger an event is, if any, with the step and reason.
// A failed step is a candidate for verification_failed; its type decides.
func triggerOf(e store.Event) (trigger, step, reason string) {
	if events.Type(e.Type) == events.TypeStep {
		var d events.StepData
		if json.Unmarshal(e.Data, &d) == nil && d.Status == store.StatusFailed {
			return spec.TriggerVerificationFailed, e.Step, d.Message
		}
		return "", "", ""
	}
	var d events.StatusData
	if json.Unmarshal(e.Data, &d) != nil {
		return "", "", ""
	}
	switch d.Status {
	case store.StatusRunning:
		if d.From == store.StatusPending {
			return spec.TriggerStarted, "", ""
		}
	case store.StatusWaiting:
		return spec.TriggerApproval, "", d.Reason
	case store.StatusRolledBack:
		return spec.TriggerRolledBack, "", d.Reason
	case store.StatusSucceeded:
		return spec.TriggerSucceeded, "", ""
	}
	return "", "", ""
}

// stepType finds a step's type in the engine's state record.
func stepType(state json.RawMessage, key string) string {
	var st struct {
		Phases []struct {
			Steps []struct{ Key, Type string }
		}
	}
	if json.Unmarshal(state, &st) != nil {
		return ""
	}
	for _, p := range st.Phases {
		for _, s := range p.Steps {
			if s.Key == key {
				return s.Type
			}
		}
	}
	return ""
}
