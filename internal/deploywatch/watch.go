package deploywatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/trigger"
)

// Store is what the watcher reads and claims.
type Store interface {
	ListDefinitions(ctx context.Context, kind store.Kind) ([]store.Definition, error)
	GetService(ctx context.Context, environment, service string) (store.ServiceState, error)
	ListExecutions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error)
	ClaimDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error)
}

// Starter starts a run; the engine is one.
type Starter interface {
	Start(ctx context.Context, r engine.StartRequest) (store.Execution, error)
}

// Deployments reads a Deployment of an environment's cluster, with the environment's
// credentials and in its namespace.
type Deployments func(ctx context.Context, environment, name string) (*appsv1.Deployment, error)

// Watcher checks the watched Deployments every Interval.
type Watcher struct {
	Store       Store
	Engine      Starter
	Deployments Deployments
	// Interval is how often Deployments are read; 2 s when zero.
	Interval time.Duration
	Log      *slog.Logger
	Now      func() time.Time

	// claimed is the last delivery id each trigger claimed or found claimed, so a
	// generation that already had its run costs no store write on every check.
	claimed map[string]string
}

// Run checks every Interval until ctx ends; failures are logged and retried.
func (w *Watcher) Run(ctx context.Context) {
	every := w.Interval
	if every <= 0 {
		every = 2 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := w.Check(ctx); err != nil && ctx.Err() == nil {
			w.log().Warn("deploywatch: check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check looks at every watched Deployment once.
func (w *Watcher) Check(ctx context.Context) error {
	defs, err := w.Store.ListDefinitions(ctx, store.KindWorkflow)
	if err != nil {
		return fmt.Errorf("deploywatch: workflows: %w", err)
	}
	var errs []error
	for _, def := range defs {
		if !strings.Contains(def.Source, spec.TriggerDeployment) {
			continue // cheap filter before parsing
		}
		wf, err := spec.ParseWorkflow(def.Name, []byte(def.Source))
		if err != nil {
			continue // a stored workflow that no longer parses is reported where it is read
		}
		for _, t := range wf.Spec.Triggers {
			if t.Type != spec.TriggerDeployment {
				continue
			}
			if err := w.check(ctx, def, wf, t); err != nil {
				errs = append(errs, fmt.Errorf("trigger %s/%s: %w", def.Name, t.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// check starts a run when the watched Deployment's image is not the live artifact,
// no run of the service is active, and its generation has not started one before.
func (w *Watcher) check(ctx context.Context, def store.Definition, wf *spec.Workflow, t spec.Trigger) error {
	svc := wf.Spec.Service
	dep, err := w.Deployments(ctx, t.Environment, svc.WorkloadRef.Name)
	if err != nil {
		return err
	}
	push, err := imageOf(dep, svc.Container)
	if err != nil {
		return err
	}
	d := trigger.Delivery{ID: fmt.Sprintf("%s/%d/%s", dep.UID, dep.Generation, push.Image), Push: &push}
	vars, err := d.Variables(t)
	if err != nil {
		return err
	}
	inst, _, err := wf.Instantiate(vars)
	if err != nil {
		return err
	}
	if inst.Spec.Environment != t.Environment {
		return fmt.Errorf("the variables give environment %s, not the trigger's %s", inst.Spec.Environment, t.Environment)
	}
	name := inst.Spec.Service.Name
	live, err := w.Store.GetService(ctx, t.Environment, name)
	switch {
	case err == nil && live.Artifact == inst.Spec.Service.Artifact:
		return nil // that image is live
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	active, err := w.Store.ListExecutions(ctx, store.ExecutionFilter{Environment: t.Environment, Service: name, Active: true, Limit: 1})
	if err != nil || len(active) > 0 {
		return err // the next check, after this run ends
	}
	key := def.Name + "/" + t.Name
	if w.claimed[key] == d.ID {
		return nil
	}
	if _, err := w.Store.ClaimDelivery(ctx, store.Delivery{Trigger: key, ID: d.ID, At: w.now()}); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			w.remember(key, d.ID)
			return nil // this generation already had its run (rolled back, perhaps)
		}
		return err
	}
	w.remember(key, d.ID)
	ex, err := w.Engine.Start(ctx, engine.StartRequest{Workflow: def.Name, Version: def.Version, Variables: vars,
		StartedBy: "trigger:" + key})
	if err != nil {
		return fmt.Errorf("start for %s generation %d: %w", dep.Name, dep.Generation, err)
	}
	w.log().Info("deploywatch: started a release", "trigger", key, "deployment", dep.Namespace+"/"+dep.Name,
		"generation", dep.Generation, "image", push.Image, "execution", ex.ID)
	return nil
}

// imageOf reads the image of the named container (the first when name is empty).
func imageOf(dep *appsv1.Deployment, name string) (trigger.Push, error) {
	cs := dep.Spec.Template.Spec.Containers
	for i, c := range cs {
		if c.Name == name || name == "" && i == 0 {
			return trigger.PushOf(c.Image), nil
		}
	}
	return trigger.Push{}, fmt.Errorf("deployment %s has no container %q", dep.Name, name)
}

// remember notes the delivery id a trigger's generation claimed; Check runs on one
// goroutine, so the map needs no lock.
func (w *Watcher) remember(key, id string) {
	if w.claimed == nil {
		w.claimed = map[string]string{}
	}
	w.claimed[key] = id
}

func (w *Watcher) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Watcher) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.New(slog.DiscardHandler)
}
