package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
)

// GVR is the Release resource.
var GVR = schema.GroupVersionResource{Group: "sluice.dev", Version: "v1alpha1", Resource: "releases"}

// FieldManager is the name sluice writes Release statuses under.
const FieldManager = "sluice"

// Starter starts a run of a workflow; the engine is one.
type Starter interface {
	Start(ctx context.Context, r engine.StartRequest) (store.Execution, error)
}

// Executions reads runs and their events; the store is one.
type Executions interface {
	GetExecution(ctx context.Context, id string) (store.Execution, error)
	Events(ctx context.Context, executionID string, after int64, limit int) ([]store.Event, error)
}

// Definitions reads workflows and environments; the store is one.
type Definitions interface {
	GetDefinition(ctx context.Context, kind store.Kind, name string, version int64) (store.Definition, error)
}

// Controller starts a run for each new generation of a Release and keeps the
// Release's status in step with it. Several servers may run one: a status update
// that claims a generation carries the Release's resourceVersion, so exactly one of
// them starts its run.
type Controller struct {
	Client dynamic.Interface
	// Namespace is where Releases are read; empty reads every namespace.
	Namespace string
	Engine    Starter
	Store     Executions
	// Definitions tells which environment a Release's run would use, so that a
	// Release starts runs only in environments that accept its namespace.
	Definitions Definitions
	// Interval is how often Releases are listed; one second when zero.
	Interval time.Duration
	Log      *slog.Logger
	// Now is the clock of condition times; time.Now when nil.
	Now func() time.Time

	mu      sync.Mutex
	seen    map[string]int64              // execution id -> last event seq read
	verdict map[string]map[string]Verdict // execution id -> metric -> latest verdict
}

// Run syncs every Interval until ctx ends; a failed sync is logged and retried.
func (c *Controller) Run(ctx context.Context) {
	every := c.Interval
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := c.Sync(ctx); err != nil && ctx.Err() == nil {
			c.log().Warn("release: sync failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sync reconciles every Release once.
func (c *Controller) Sync(ctx context.Context) error {
	list, err := c.Client.Resource(GVR).Namespace(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("release: list: %w", err)
	}
	var errs []error
	for i := range list.Items {
		if err := c.reconcile(ctx, &list.Items[i]); err != nil {
			errs = append(errs, fmt.Errorf("release %s/%s: %w", list.Items[i].GetNamespace(), list.Items[i].GetName(), err))
		}
	}
	return errors.Join(errs...)
}

// reconcile starts the run of a Release's new generation once its previous run has
// ended, and otherwise copies its run's progress to its status.
func (c *Controller) reconcile(ctx context.Context, obj *unstructured.Unstructured) error {
	st, err := statusOf(obj)
	if err != nil {
		return err
	}
	gen := obj.GetGeneration()
	switch {
	case st.ObservedGeneration != gen && (st.ExecutionID == "" || terminal(st.Phase)):
		return c.start(ctx, obj, st)
	case st.ExecutionID == "" && st.Phase == PhasePending && c.abandoned(st):
		// the server that claimed it stopped before it recorded its run
		return c.start(ctx, obj, st)
	case st.ExecutionID == "" || terminal(st.Phase):
		return nil // nothing runs, or its end is already written
	}
	next, err := c.progress(ctx, st)
	if err != nil || reflect.DeepEqual(next, st) {
		return err
	}
	return c.writeStatus(ctx, obj, next)
}

// start claims the Release's generation with a status update (only one server's
// succeeds), then starts the run and records its id.
func (c *Controller) start(ctx context.Context, obj *unstructured.Unstructured, prev Status) error {
	claim := Status{Phase: PhasePending, ObservedGeneration: obj.GetGeneration(), Message: "starting the run",
		Conditions: conditions(PhasePending, "starting the run", prev.Conditions, c.now())}
	if err := c.writeStatus(ctx, obj, claim); err != nil {
		if apierrors.IsConflict(err) {
			return nil // another server claimed it, or the Release changed: next sync
		}
		return err
	}
	req, err := startRequest(obj)
	if err == nil {
		err = c.admit(ctx, obj.GetNamespace(), &req)
	}
	if err == nil {
		var ex store.Execution
		if ex, err = c.Engine.Start(ctx, req); err == nil {
			claim.ExecutionID, claim.Environment, claim.Service = ex.ID, ex.Environment, ex.Service
			claim.Phase, claim.Message = phaseOf(ex.Status), "execution "+ex.ID
			claim.Conditions = conditions(claim.Phase, claim.Message, claim.Conditions, c.now())
			c.log().Info("release: started", "release", obj.GetNamespace()+"/"+obj.GetName(), "execution", ex.ID)
			return c.writeStatus(ctx, obj, claim)
		}
	}
	claim.Phase, claim.Message = PhaseFailed, "the run did not start: "+err.Error()
	claim.Conditions = conditions(PhaseFailed, claim.Message, claim.Conditions, c.now())
	return c.writeStatus(ctx, obj, claim)
}

// ClaimTimeout is how long a claimed Release may wait for its run's id before
// another server claims it again.
const ClaimTimeout = time.Minute

// abandoned reports whether a Pending claim is older than ClaimTimeout.
func (c *Controller) abandoned(st Status) bool {
	for _, cond := range st.Conditions {
		if cond.Type == "Progressing" {
			t, err := time.Parse(time.RFC3339, cond.LastTransitionTime)
			return err == nil && c.now().Sub(t) > ClaimTimeout
		}
	}
	return true
}

// startRequest reads a Release's spec.
func startRequest(obj *unstructured.Unstructured) (engine.StartRequest, error) {
	spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
	wf, _ := spec["workflow"].(string)
	if wf == "" {
		return engine.StartRequest{}, errors.New("spec.workflow is empty")
	}
	req := engine.StartRequest{Workflow: wf, Variables: map[string]string{},
		StartedBy: "release:" + obj.GetNamespace() + "/" + obj.GetName()}
	switch v := spec["version"].(type) {
	case int64:
		req.Version = v
	case float64:
		req.Version = int64(v)
	}
	vars, _ := spec["variables"].(map[string]any)
	for k, v := range vars {
		s, ok := v.(string)
		if !ok {
			return req, fmt.Errorf("spec.variables.%s is not a string", k)
		}
		req.Variables[k] = s
	}
	return req, nil
}

// progress is the status a Release's run gives now.
func (c *Controller) progress(ctx context.Context, st Status) (Status, error) {
	ex, err := c.Store.GetExecution(ctx, st.ExecutionID)
	if err != nil {
		return st, fmt.Errorf("execution %s: %w", st.ExecutionID, err)
	}
	next := st
	next.Phase = phaseOf(ex.Status)
	next.Message = "execution " + ex.ID + " is " + strings.ReplaceAll(string(ex.Status), "_", " ")
	if ex.Reason != "" {
		next.Message += ": " + ex.Reason
	}
	next.Environment, next.Service = ex.Environment, ex.Service
	if w := weightsOf(ex.State); w != nil {
		next.Weights = w
	}
	if next.Verdicts, err = c.verdicts(ctx, ex.ID); err != nil {
		return st, err
	}
	next.Conditions = conditions(next.Phase, next.Message, st.Conditions, c.now())
	return next, nil
}

// verdicts reads the run's measurement events since the last call and returns the
// latest verdict of each metric, by metric name.
func (c *Controller) verdicts(ctx context.Context, id string) ([]Verdict, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen, c.verdict = map[string]int64{}, map[string]map[string]Verdict{}
	}
	if c.verdict[id] == nil {
		c.verdict[id] = map[string]Verdict{}
	}
	for {
		evs, err := c.Store.Events(ctx, id, c.seen[id], 500)
		if err != nil {
			return nil, fmt.Errorf("events of %s: %w", id, err)
		}
		for _, ev := range evs {
			c.seen[id] = ev.Seq
			if events.Type(ev.Type) != events.TypeMeasurement {
				continue
			}
			var m struct {
				Metric  string    `json:"metric"`
				Verdict string    `json:"verdict"`
				Reason  string    `json:"reason"`
				At      time.Time `json:"at"`
			}
			if json.Unmarshal(ev.Data, &m) == nil && m.Metric != "" {
				c.verdict[id][m.Metric] = Verdict{Metric: m.Metric, Verdict: m.Verdict, Reason: m.Reason,
					At: m.At.UTC().Format(time.RFC3339)}
			}
		}
		if len(evs) < 500 {
			break
		}
	}
	out := make([]Verdict, 0, len(c.verdict[id]))
	for _, v := range c.verdict[id] {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Verdict) int { return strings.Compare(a.Metric, b.Metric) })
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// writeStatus replaces the Release's status; the update carries the resourceVersion
// the Release was read at, so a concurrent change makes it a conflict.
func (c *Controller) writeStatus(ctx context.Context, obj *unstructured.Unstructured, st Status) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	obj.Object["status"] = m
	updated, err := c.Client.Resource(GVR).Namespace(obj.GetNamespace()).UpdateStatus(ctx, obj,
		metav1.UpdateOptions{FieldManager: FieldManager})
	if err != nil {
		return err
	}
	obj.SetResourceVersion(updated.GetResourceVersion())
	return nil
}

// statusOf reads a Release's status.
func statusOf(obj *unstructured.Unstructured) (Status, error) {
	var st Status
	raw, ok := obj.Object["status"]
	if !ok {
		return st, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	return st, nil
}

func (c *Controller) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Controller) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}
