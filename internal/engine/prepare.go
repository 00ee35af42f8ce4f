package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// prepared is everything an execution needs from its definitions: the workflow with
// its values substituted, its environment, and the runtime they resolve to.
type prepared struct {
	wdef   store.Definition
	edef   store.Definition
	wf     *spec.Workflow
	values map[string]string
	env    *spec.Environment
	rt     Runtime
}

// prepare reads and checks the definitions of an execution. Version 0 of the
// environment means its latest version (at start); a resumed execution passes the
// version it started with.
func (e *Engine) prepare(ctx context.Context, workflow string, wversion int64, vars map[string]string, eversion int64) (*prepared, error) {
	p := &prepared{}
	var err error
	if p.wdef, err = e.store.GetDefinition(ctx, store.KindWorkflow, workflow, wversion); err != nil {
		return nil, fmt.Errorf("workflow %q: %w", workflow, err)
	}
	tmpl, err := e.defs.workflow(p.wdef)
	if err != nil {
		return nil, err
	}
	if p.wf, p.values, err = tmpl.Instantiate(vars); err != nil {
		return nil, err
	}
	name := p.wf.Spec.Environment
	if p.edef, err = e.store.GetDefinition(ctx, store.KindEnvironment, name, eversion); err != nil {
		return nil, fmt.Errorf("environment %q: %w", name, err)
	}
	if p.env, err = e.defs.environment(p.edef); err != nil {
		return nil, err
	}
	if ps := p.wf.CheckEnvironment(p.env); len(ps) > 0 {
		return nil, ps
	}
	if p.rt, err = e.opt.Resolver.Resolve(ctx, name, p.env); err != nil {
		return nil, fmt.Errorf("environment %q: %w", name, err)
	}
	return p, nil
}

// maxCachedDefinitions bounds the parsed-definition cache; it is emptied when full.
const maxCachedDefinitions = 1024

// defKey names one version of one definition.
type defKey struct {
	kind    store.Kind
	name    string
	version int64
}

// definitions caches parsed definitions: a stored version never changes, so it is
// parsed once however many executions use it.
type definitions struct {
	mu   sync.Mutex
	wfs  map[defKey]*spec.Workflow
	envs map[defKey]*spec.Environment
}

func (d *definitions) workflow(def store.Definition) (*spec.Workflow, error) {
	key := defKey{def.Kind, def.Name, def.Version}
	d.mu.Lock()
	wf, ok := d.wfs[key]
	d.mu.Unlock()
	if ok {
		return wf, nil
	}
	wf, err := spec.ParseWorkflow(defFile(def), []byte(def.Source))
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.wfs == nil || len(d.wfs) >= maxCachedDefinitions {
		d.wfs = map[defKey]*spec.Workflow{}
	}
	d.wfs[key] = wf
	return wf, nil
}

func (d *definitions) environment(def store.Definition) (*spec.Environment, error) {
	key := defKey{def.Kind, def.Name, def.Version}
	d.mu.Lock()
	env, ok := d.envs[key]
	d.mu.Unlock()
	if ok {
		return env, nil
	}
	env, err := spec.ParseEnvironment(defFile(def), []byte(def.Source))
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.envs == nil || len(d.envs) >= maxCachedDefinitions {
		d.envs = map[defKey]*spec.Environment{}
	}
	d.envs[key] = env
	return env, nil
}
