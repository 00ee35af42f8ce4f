package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/pipeline"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// Pipelines is what the API asks of the pipeline runner.
type Pipelines interface {
	// Start checks and stores a run of a pipeline, and starts driving it.
	Start(ctx context.Context, r pipeline.StartRequest) (store.PipelineRun, error)
	// Get returns a run and its progress.
	Get(ctx context.Context, id string) (store.PipelineRun, pipeline.State, error)
	// Decide records an approval or rejection on the gate holding a stage.
	Decide(ctx context.Context, id, stage string, d engine.Decision) error
	// Abort stops a run: stages in flight roll back, the others are skipped.
	Abort(ctx context.Context, id, by, reason string) error
	// Events returns up to limit lines of a run's log after the first `after`, as
	// events (Seq: the line's place, from 1).
	Events(ctx context.Context, id string, after int64, limit int) ([]store.Event, error)
	// Subscribe streams a run's events after `after`: the stored ones, then new ones
	// as any server writes them; the channel closes when ctx ends or the store fails.
	Subscribe(ctx context.Context, id string, after int64) (<-chan store.Event, *events.Subscription)
}

// PipelineRun is one run of a pipeline with its stages.
type PipelineRun struct {
	ID              string            `json:"id"`
	Pipeline        string            `json:"pipeline"`
	PipelineVersion int64             `json:"pipelineVersion"`
	Variables       map[string]string `json:"variables,omitempty"`
	StartedBy       string            `json:"startedBy"`
	CreatedAt       time.Time         `json:"createdAt"`
	UpdatedAt       time.Time         `json:"updatedAt"`
	Status          store.Status      `json:"status"`
	Reason          string            `json:"reason,omitempty"`
	Owner           string            `json:"owner,omitempty"`
	// Stages are in the pipeline's order, each with its gates and execution.
	Stages []pipeline.StageState `json:"stages"`
	// Log is the run's own log, oldest first; only on GET of one run.
	Log []pipeline.Line `json:"log,omitempty"`
}

// PipelineRunList is a list of runs, newest first.
type PipelineRunList struct {
	Items []PipelineRun `json:"items"`
}

// PipelineDecisionRequest is the body of POST /pipeline-runs/{id}/approve and /reject.
type PipelineDecisionRequest struct {
	Stage   string `json:"stage"`
	Comment string `json:"comment,omitempty"`
}

// UndoService puts a service's previous release back, as POST
// /api/v1/services/{environment}/{service}/undo does, for callers inside the server
// (a pipeline undoing its finished stages); it returns the execution that does it.
func UndoService(ctx context.Context, st store.Store, eng Engine, env, service, who, reason string) (string, error) {
	h := &handler{Deps: Deps{Store: st, Engine: eng}}
	res, err := h.undoService(ctx, env, service, who, reason)
	if err != nil {
		return "", err
	}
	return res.Execution, nil
}

func (h *handler) pipelineRoutes(mux *http.ServeMux, p string) {
	mux.HandleFunc("POST "+p+"/pipelines/{name}/run", h.runPipeline)
	mux.HandleFunc("GET "+p+"/pipeline-runs", h.listPipelineRuns)
	mux.HandleFunc("GET "+p+"/pipeline-runs/{id}", h.getPipelineRun)
	mux.HandleFunc("GET "+p+"/pipeline-runs/{id}/events", h.pipelineEvents)
	mux.HandleFunc("POST "+p+"/pipeline-runs/{id}/approve", h.decidePipeline(true))
	mux.HandleFunc("POST "+p+"/pipeline-runs/{id}/reject", h.decidePipeline(false))
	mux.HandleFunc("POST "+p+"/pipeline-runs/{id}/abort", h.abortPipeline)
}

// pipelinesOn answers 503 when the server runs no pipelines.
func (h *handler) pipelinesOn() error {
	if h.Pipelines == nil {
		return &apiError{status: http.StatusServiceUnavailable, code: CodeUnavailable, msg: "this server runs no pipelines"}
	}
	return nil
}

// runPipeline starts a run; the runner checks that the caller may deploy to every
// stage's environment before anything starts.
func (h *handler) runPipeline(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	noted(r.Context(), "run", "pipeline/"+name, allEnvironments)
	var req RunRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	vars, err := variableValues(req.Variables)
	if err == nil {
		err = h.pipelinesOn()
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := IdentityFrom(r.Context())
	if h.Auth == nil {
		id.Groups = nil // named by headers only: nothing to authorise against later
	}
	run, err := h.Pipelines.Start(r.Context(), pipeline.StartRequest{Pipeline: name, Version: req.Version, Variables: vars, Identity: id})
	if err != nil {
		h.fail(w, r, h.forbidden(err))
		return
	}
	n := note(r.Context())
	n.target = "pipeline-run/" + run.ID
	n.summary = fmt.Sprintf("started run %s of pipeline %s v%d with %s", run.ID, run.Pipeline, run.PipelineVersion, formatVars(vars))
	w.Header().Set("Location", "/api/v1/pipeline-runs/"+run.ID)
	_, st, _ := h.Pipelines.Get(r.Context(), run.ID)
	writeJSON(w, http.StatusCreated, pipelineRunOf(run, st, true))
}

// forbidden turns the auth service's refusal into the API's 403.
func (h *handler) forbidden(err error) error {
	var ae *apiError
	if errors.As(err, &ae) || h.Auth == nil {
		return err
	}
	var fe *auth.ForbiddenError
	if errors.As(err, &fe) {
		return &apiError{status: http.StatusForbidden, code: CodeForbidden, msg: fe.Error()}
	}
	return err
}

func (h *handler) listPipelineRuns(w http.ResponseWriter, r *http.Request) {
	ps, ok := h.Store.(store.PipelineRuns)
	if !ok {
		h.fail(w, r, h.pipelinesOn())
		return
	}
	f := store.PipelineRunFilter{Pipeline: r.URL.Query().Get("pipeline")}
	active, err := boolParam(r, "active")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f.Active = active
	if s := r.URL.Query().Get("limit"); s != "" {
		if f.Limit, err = strconv.Atoi(s); err != nil || f.Limit < 0 {
			h.fail(w, r, badRequest("limit", "limit %q is not a non-negative integer", s))
			return
		}
	}
	rs, err := h.grants(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	runs, err := ps.ListPipelineRuns(r.Context(), f)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list pipeline runs: %w", err))
		return
	}
	out := PipelineRunList{Items: make([]PipelineRun, 0, len(runs))}
	for _, run := range runs {
		st, err := decodeRunState(run)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if viewsAll(rs, st) {
			out.Items = append(out.Items, pipelineRunOf(run, st, false))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// viewsAll reports whether the caller may view every environment of a run.
func viewsAll(rs *roles, st pipeline.State) bool {
	for _, s := range st.Stages {
		if !rs.has(roleViewer, s.Environment) {
			return false
		}
	}
	return true
}

func decodeRunState(run store.PipelineRun) (pipeline.State, error) {
	var st pipeline.State
	if err := json.Unmarshal(run.State, &st); err != nil {
		return st, fmt.Errorf("pipeline run %s: decode state: %w", run.ID, err)
	}
	return st, nil
}

// pipelineRun reads a run the caller may view; a run in an environment the caller
// cannot view is answered 404 like an unknown one.
func (h *handler) pipelineRun(r *http.Request, id string) (store.PipelineRun, pipeline.State, error) {
	if err := h.pipelinesOn(); err != nil {
		return store.PipelineRun{}, pipeline.State{}, err
	}
	run, st, err := h.Pipelines.Get(r.Context(), id)
	notFound := &apiError{status: http.StatusNotFound, code: CodeNotFound, msg: "no pipeline run " + strconv.Quote(id)}
	if errors.Is(err, store.ErrNotFound) {
		return run, st, notFound
	}
	if err != nil {
		return run, st, err
	}
	rs, err := h.grants(r.Context())
	if err != nil {
		return run, st, err
	}
	if !viewsAll(rs, st) {
		return run, st, notFound
	}
	return run, st, nil
}

func (h *handler) getPipelineRun(w http.ResponseWriter, r *http.Request) {
	run, st, err := h.pipelineRun(r, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pipelineRunOf(run, st, true))
}

// pipelineEvents serves a run's log as events, with the rules of GET of the run (404
// to a caller who cannot view every environment of it): a Server-Sent Events stream
// when the client accepts text/event-stream (resuming after Last-Event-ID or ?after=,
// ending with `event: end` once the run has ended), else a JSON page.
func (h *handler) pipelineEvents(w http.ResponseWriter, r *http.Request) {
	after, err := afterParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	run, st, err := h.pipelineRun(r, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	envs := make([]string, 0, len(st.Stages))
	for _, s := range st.Stages {
		envs = append(envs, s.Environment)
	}
	f := feed{what: "pipeline run", id: run.ID,
		subscribe: func(ctx context.Context, after int64) (<-chan store.Event, *events.Subscription) {
			return h.Pipelines.Subscribe(ctx, run.ID, after)
		},
		stored: func(ctx context.Context, after int64, limit int) ([]store.Event, error) {
			return h.Pipelines.Events(ctx, run.ID, after, limit)
		},
		state: func(ctx context.Context) (store.Status, string, error) {
			cur, _, err := h.Pipelines.Get(ctx, run.ID)
			return cur.Status, cur.Reason, err
		},
		changes: func(e store.Event) bool { return events.Type(e.Type) == events.TypePipelineFinished },
		recheck: func(ctx context.Context) error {
			return h.stillAllowed(r, "reading the events of pipeline run "+run.ID, envs...)
		},
	}
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		h.stream(w, r, f, run.Status, run.Reason, after)
		return
	}
	h.page(w, r, f, run.Status, after)
}

// decidePipeline serves approve and reject: the caller needs approver in the
// environment of the stage the gate holds, and must be among the gate's approvers.
func (h *handler) decidePipeline(approve bool) http.HandlerFunc {
	action := map[bool]string{true: "approve", false: "reject"}[approve]
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		n := noted(r.Context(), action, "pipeline-run/"+id, "")
		var req PipelineDecisionRequest
		if err := decodeJSON(w, r, &req); err != nil {
			h.fail(w, r, err)
			return
		}
		if req.Stage == "" {
			h.fail(w, r, badRequest("stage", "stage is required: the stage whose gate you decide on"))
			return
		}
		_, st, err := h.pipelineRun(r, id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		env := ""
		for _, s := range st.Stages {
			if s.Name == req.Stage {
				env = s.Environment
			}
		}
		n.environment = env
		if env != "" {
			if err := h.authorize(r, roleApprover, env, action+" of pipeline run "+id); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		who := IdentityFrom(r.Context())
		err = h.Pipelines.Decide(r.Context(), id, req.Stage, engine.Decision{Approve: approve, By: who.User, Groups: who.Groups, Comment: req.Comment})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		n.summary = fmt.Sprintf("%s stage %s%s", action, req.Stage, prefixedComment(req.Comment))
		writeJSON(w, http.StatusAccepted, ActionResponse{ID: id, Action: action, By: who.User})
	}
}

// abortPipeline needs deployer in every environment of the run.
func (h *handler) abortPipeline(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n := noted(r.Context(), "abort", "pipeline-run/"+id, allEnvironments)
	var req ReasonRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	_, st, err := h.pipelineRun(r, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, s := range st.Stages {
		if err := h.authorize(r, roleDeployer, s.Environment, "abort of pipeline run "+id); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	who := IdentityFrom(r.Context())
	if err := h.Pipelines.Abort(r.Context(), id, who.User, req.Reason); err != nil {
		h.fail(w, r, err)
		return
	}
	n.summary = "requested" + prefixedComment(req.Reason)
	writeJSON(w, http.StatusAccepted, ActionResponse{ID: id, Action: "abort", By: who.User})
}

func pipelineRunOf(run store.PipelineRun, st pipeline.State, full bool) PipelineRun {
	out := PipelineRun{ID: run.ID, Pipeline: run.Pipeline, PipelineVersion: run.PipelineVersion, Variables: run.Variables,
		StartedBy: run.StartedBy, CreatedAt: run.CreatedAt, UpdatedAt: run.UpdatedAt, Status: run.Status,
		Reason: run.Reason, Owner: run.Owner, Stages: st.Stages}
	if out.Stages == nil {
		out.Stages = []pipeline.StageState{}
	}
	if full {
		out.Log = st.Log
	}
	return out
}

// checkPipelines checks every Pipeline among docs against the workflows and
// environments it names: those in the same apply, and those stored.
func (h *handler) checkPipelines(ctx context.Context, docs []spec.Document) error {
	var probs spec.Problems
	var wfs map[string]*spec.Workflow
	var envs map[string]bool
	for _, d := range docs {
		if d.Pipeline == nil {
			continue
		}
		if wfs == nil {
			var err error
			if wfs, envs, err = h.knownDefinitions(ctx, docs); err != nil {
				return err
			}
		}
		probs = append(probs, spec.CheckPipelineReferences(d.Pipeline, wfs, envs)...)
	}
	return probs.Err()
}

// knownDefinitions lists the workflows and environments an apply may refer to.
func (h *handler) knownDefinitions(ctx context.Context, docs []spec.Document) (map[string]*spec.Workflow, map[string]bool, error) {
	wfs, envs := map[string]*spec.Workflow{}, map[string]bool{}
	stored, err := h.Store.ListDefinitions(ctx, store.KindWorkflow)
	if err != nil {
		return nil, nil, fmt.Errorf("check pipelines: %w", err)
	}
	for _, d := range stored {
		if wf, err := spec.ParseWorkflow(d.Name, []byte(d.Source)); err == nil {
			wfs[d.Name] = wf
		}
	}
	storedEnvs, err := h.Store.ListDefinitions(ctx, store.KindEnvironment)
	if err != nil {
		return nil, nil, fmt.Errorf("check pipelines: %w", err)
	}
	for _, d := range storedEnvs {
		envs[d.Name] = true
	}
	for _, d := range docs {
		switch {
		case d.Workflow != nil:
			wfs[d.Name] = d.Workflow
		case d.Environment != nil:
			envs[d.Name] = true
		}
	}
	return wfs, envs, nil
}
