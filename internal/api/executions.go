package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/store"
)

// run starts an execution of a workflow with the body's variables.
func (h *handler) run(w http.ResponseWriter, r *http.Request) {
	var req RunRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.Version < 0 {
		h.fail(w, r, badRequest("version", "version must be positive, or 0 for the latest"))
		return
	}
	vars, err := variableValues(req.Variables)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	name := r.PathValue("name")
	n := noted(r.Context(), "run", "workflow/"+name, "")
	if h.Auth != nil {
		env, version, err := h.runEnvironment(r.Context(), name, req.Version, vars)
		n.environment = env
		if err == nil {
			req.Version = version
			err = h.authorize(r, roleDeployer, env, "running workflow "+name)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	ex, err := h.Engine.Start(r.Context(), engine.StartRequest{Workflow: name,
		Version: req.Version, Variables: vars, StartedBy: IdentityFrom(r.Context()).User})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	n.target, n.environment = "execution/"+ex.ID, ex.Environment
	n.summary = fmt.Sprintf("started execution %s of workflow %s v%d in %s with %s", ex.ID, ex.Workflow,
		ex.WorkflowVersion, ex.Environment, formatVars(vars))
	w.Header().Set("Location", "/api/v1/executions/"+ex.ID)
	writeJSON(w, http.StatusCreated, executionOf(ex, true))
}

// variableValues turns JSON strings, numbers and booleans into the strings the
// engine's variables take.
func variableValues(raw map[string]json.RawMessage) (map[string]string, error) {
	out := make(map[string]string, len(raw))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := bytes.TrimSpace(raw[k])
		var s string
		switch {
		case len(v) > 0 && v[0] == '"':
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, badRequest("variables."+k, "variables.%s: %v", k, err)
			}
		case bytes.Equal(v, []byte("true")), bytes.Equal(v, []byte("false")):
			s = string(v)
		case len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')):
			s = string(v)
		default:
			return nil, badRequest("variables."+k, "variables.%s: expected a string, number or boolean, got %s", k, v)
		}
		out[k] = s
	}
	return out, nil
}

func (h *handler) listExecutions(w http.ResponseWriter, r *http.Request) {
	f, err := executionFilter(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rs, err := h.grants(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	exs, err := h.Store.ListExecutions(r.Context(), f)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list executions: %w", err))
		return
	}
	out := ExecutionList{Items: make([]Execution, 0, len(exs))}
	wfs := workflowCache{}
	for _, e := range exs {
		if rs.has(roleViewer, e.Environment) {
			x := executionOf(e, false)
			x.Progress = h.progressOf(r.Context(), e, wfs)
			out.Items = append(out.Items, x)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// knownStatuses are the statuses an execution filter accepts.
var knownStatuses = []store.Status{store.StatusPending, store.StatusRunning, store.StatusWaiting,
	store.StatusPaused, store.StatusSucceeded, store.StatusFailed, store.StatusRollingBack,
	store.StatusRolledBack, store.StatusAborted}

func executionFilter(r *http.Request) (store.ExecutionFilter, error) {
	q := r.URL.Query()
	f := store.ExecutionFilter{Workflow: q.Get("workflow"), Environment: q.Get("environment"),
		Service: q.Get("service"), StartedBy: q.Get("startedBy")}
	if s := q.Get("status"); s != "" {
		f.Status = store.Status(s)
		known := false
		for _, k := range knownStatuses {
			known = known || k == f.Status
		}
		if !known {
			return f, badRequest("status", "unknown status %q; want one of %v", s, knownStatuses)
		}
	}
	active, err := boolParam(r, "active")
	if err != nil {
		return f, err
	}
	f.Active = active
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return f, badRequest("limit", "limit=%q is not a non-negative integer", s)
		}
		f.Limit = n
	}
	return f, nil
}

func (h *handler) getExecution(w http.ResponseWriter, r *http.Request) {
	ex, err := h.execution(r.Context(), r.PathValue("id"))
	if err == nil {
		err = h.authorizeExecution(r, roleViewer, ex, "reading execution "+ex.ID)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, executionOf(ex, true))
}

// execution reads one execution, with a not-found message that names it.
func (h *handler) execution(ctx context.Context, id string) (store.Execution, error) {
	ex, err := h.Store.GetExecution(ctx, id)
	if err != nil {
		return ex, executionError(id, err)
	}
	return ex, nil
}

func executionError(id string, err error) error {
	if err == nil {
		return nil
	}
	if ae := toAPIError(err); ae.code == CodeNotFound {
		return &apiError{status: http.StatusNotFound, code: CodeNotFound, msg: fmt.Sprintf("execution %q not found", id)}
	}
	return fmt.Errorf("execution %s: %w", id, err)
}

// actionFunc performs one action on an execution for the caller.
type actionFunc func(ctx context.Context, id string, who Identity, r *http.Request, w http.ResponseWriter) error

// actions are the POST /executions/{id}/{action} verbs.
func (h *handler) actions() map[string]actionFunc {
	decide := func(approve bool) actionFunc {
		return func(ctx context.Context, id string, who Identity, r *http.Request, w http.ResponseWriter) error {
			var req DecisionRequest
			if err := decodeJSON(w, r, &req); err != nil {
				return err
			}
			note(ctx).summary = map[bool]string{true: "approved", false: "rejected"}[approve] + prefixedComment(req.Comment)
			return h.Engine.Decide(ctx, id, engine.Decision{Approve: approve, By: who.User, Groups: who.Groups, Comment: req.Comment})
		}
	}
	withReason := func(fn func(ctx context.Context, id, by, reason string) error) actionFunc {
		return func(ctx context.Context, id string, who Identity, r *http.Request, w http.ResponseWriter) error {
			var req ReasonRequest
			if err := decodeJSON(w, r, &req); err != nil {
				return err
			}
			note(ctx).summary = "requested" + prefixedComment(req.Reason)
			return fn(ctx, id, who.User, req.Reason)
		}
	}
	plain := func(fn func(ctx context.Context, id, by string) error) actionFunc {
		return func(ctx context.Context, id string, who Identity, r *http.Request, w http.ResponseWriter) error {
			var req struct{}
			if err := decodeJSON(w, r, &req); err != nil {
				return err
			}
			return fn(ctx, id, who.User)
		}
	}
	return map[string]actionFunc{
		"approve":  decide(true),
		"reject":   decide(false),
		"rollback": withReason(h.Engine.Rollback),
		"abort":    withReason(h.Engine.Abort),
		"pause":    plain(h.Engine.Pause),
		"resume":   plain(h.Engine.Resume),
		"retry":    plain(h.Engine.Retry),
	}
}

// action serves one execution action; the engine's answer decides the status.
func (h *handler) action(name string, fn actionFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, who := r.PathValue("id"), IdentityFrom(r.Context())
		if err := h.authorizeAction(r, name, id); err != nil {
			h.fail(w, r, err)
			return
		}
		if err := fn(r.Context(), id, who, r, w); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				err = executionError(id, err)
			}
			h.fail(w, r, err) // the engine's own words otherwise
			return
		}
		h.log.Info("api: execution action", "execution", id, "action", name, "by", who.User)
		writeJSON(w, http.StatusAccepted, ActionResponse{ID: id, Action: name, By: who.User})
	}
}

func (h *handler) listServices(w http.ResponseWriter, r *http.Request) {
	rs, err := h.grants(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	svcs, err := h.Store.ListServices(r.Context(), r.URL.Query().Get("environment"))
	if err != nil {
		h.fail(w, r, fmt.Errorf("list services: %w", err))
		return
	}
	out := ServiceList{Items: make([]Service, 0, len(svcs))}
	for _, s := range svcs {
		if rs.has(roleViewer, s.Environment) {
			out.Items = append(out.Items, h.liveService(r.Context(), s))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// authorizeAction checks an execution action against the execution's environment:
// approve and reject need approver, the others deployer.
func (h *handler) authorizeAction(r *http.Request, action, id string) error {
	n := noted(r.Context(), action, "execution/"+id, "")
	ex, err := h.execution(r.Context(), id)
	if h.Auth == nil { // the engine has the last word on a missing execution
		n.environment = ex.Environment
		return nil
	}
	if err != nil {
		return err
	}
	n.environment = ex.Environment
	need := roleDeployer
	if action == "approve" || action == "reject" {
		need = roleApprover
	}
	return h.authorizeExecution(r, need, ex, action+" of execution "+id)
}

// formatVars lists variables as k=v in key order for the audit log.
func formatVars(vars map[string]string) string {
	if len(vars) == 0 {
		return "no variables"
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("variables ")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s", k, vars[k])
	}
	return b.String()
}

func prefixedComment(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}
