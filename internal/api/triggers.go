package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/trigger"
)

// Deliveries claims the ids of webhook deliveries, so a replay is refused on every
// server; the SQLite and PostgreSQL stores implement it.
type Deliveries interface {
	ClaimDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error)
}

// notSigned is the answer to a webhook for a trigger that does not exist or whose
// signature is wrong: the same words, so the answer tells nothing about which.
const notSigned = "not signed with the secret of such a trigger"

// hookPrefix starts the path of every trigger's webhook: hookPrefix+WORKFLOW/TRIGGER.
const hookPrefix = "/api/v1/hooks/"

// TriggerResponse answers a webhook that started nothing.
type TriggerResponse struct {
	Status string `json:"status"` // "ignored"
	Reason string `json:"reason"`
}

// hook serves POST /api/v1/hooks/{workflow}/{trigger}: it authenticates the webhook
// with the trigger's secret (never with sluice credentials), refuses a replay, maps
// the payload to variables and starts a run in the trigger's environment.
func (h *handler) hook(w http.ResponseWriter, r *http.Request) {
	wfName, name := r.PathValue("workflow"), r.PathValue("trigger")
	ctx := r.Context()
	n := noted(ctx, "trigger", "workflow/"+wfName+"/trigger/"+name, "")
	body, err := readBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	def, wf, t, err := h.triggerOf(ctx, wfName, name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	n.environment = t.Environment
	d, err := h.receive(ctx, wfName+"/"+name, t, r, body)
	if errors.Is(err, trigger.ErrIgnored) {
		n.summary = err.Error()
		writeJSON(w, http.StatusAccepted, TriggerResponse{Status: "ignored", Reason: err.Error()})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ex, err := h.startFromHook(ctx, def, wf, t, d)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	n.target, n.environment = "execution/"+ex.ID, ex.Environment
	n.summary = fmt.Sprintf("delivery %s of trigger %s started execution %s of workflow %s v%d in %s",
		d.ID, name, ex.ID, ex.Workflow, ex.WorkflowVersion, ex.Environment)
	w.Header().Set("Location", "/api/v1/executions/"+ex.ID)
	writeJSON(w, http.StatusCreated, executionOf(ex, true))
}

// triggerOf reads the latest version of a workflow and its trigger called name. An
// unknown workflow or trigger is answered as a bad signature is (401), so a stranger
// cannot list which workflows and triggers exist.
func (h *handler) triggerOf(ctx context.Context, wfName, name string) (store.Definition, *spec.Workflow, spec.Trigger, error) {
	missing := unauthorized(fmt.Sprintf("trigger %s/%s: %s", wfName, name, notSigned))
	def, err := h.Store.GetDefinition(ctx, store.KindWorkflow, wfName, 0)
	if errors.Is(err, store.ErrNotFound) {
		return def, nil, spec.Trigger{}, missing
	}
	if err != nil {
		return def, nil, spec.Trigger{}, fmt.Errorf("trigger %s/%s: %w", wfName, name, err)
	}
	wf, err := spec.ParseWorkflow(wfName, []byte(def.Source))
	if err != nil {
		return def, nil, spec.Trigger{}, fmt.Errorf("trigger %s/%s: stored workflow: %w", wfName, name, err)
	}
	t, ok := wf.Trigger(name)
	if !ok || t.Type == spec.TriggerDeployment { // a deployment trigger takes no webhooks
		return def, nil, spec.Trigger{}, missing
	}
	return def, wf, t, nil
}

// receive authenticates the request with the trigger's secret and claims its
// delivery id under key (WORKFLOW/TRIGGER).
func (h *handler) receive(ctx context.Context, key string, t spec.Trigger, r *http.Request, body []byte) (trigger.Delivery, error) {
	if h.TriggerSecret == nil || h.Deliveries == nil {
		return trigger.Delivery{}, &apiError{status: http.StatusServiceUnavailable, code: CodeUnavailable,
			msg: "this server does not take webhooks: it has no secret resolver or no delivery store"}
	}
	secret, err := h.TriggerSecret(ctx, t.Environment, t.Secret)
	if err != nil {
		// 401, not 503: an unauthenticated caller is only counted in the audit log,
		// so a trigger whose secret is missing cannot be used to flood it
		h.log.Error("api: trigger secret not available", "trigger", t.Name, "err", h.redact(err.Error()))
		return trigger.Delivery{}, unauthorized(fmt.Sprintf("trigger %s cannot check signatures: its secret is not available on this server", t.Name))
	}
	now := h.Now()
	d, err := trigger.Receive(t, secret, trigger.Request{Header: r.Header, Query: r.URL.Query(), Body: body}, now)
	if err == nil || errors.Is(err, trigger.ErrIgnored) {
		// authentic from here on: the audit entry names the trigger, not "anonymous"
		noteIdentity(ctx, Identity{User: "trigger:" + key, Method: "webhook"})
	}
	switch {
	case errors.Is(err, trigger.ErrUnauthenticated):
		h.log.Info("api: webhook refused", "trigger", key, "why", err.Error())
		return d, unauthorized(fmt.Sprintf("trigger %s: %s", key, notSigned))
	case errors.Is(err, trigger.ErrStale):
		return d, unauthorized(fmt.Sprintf("trigger %s: %v", key, err))
	case errors.Is(err, trigger.ErrPayload):
		return d, badRequest("", "trigger %s: %v", t.Name, err)
	case err != nil:
		return d, err
	}
	first, err := h.Deliveries.ClaimDelivery(ctx, store.Delivery{Trigger: key, ID: d.ID, At: now})
	if errors.Is(err, store.ErrDuplicate) {
		return d, &apiError{status: http.StatusConflict, code: CodeConflict,
			msg: fmt.Sprintf("trigger %s: delivery %s was already received at %s; a replay starts nothing",
				t.Name, d.ID, first.At.UTC().Format("2006-01-02T15:04:05Z"))}
	}
	return d, err
}

// startFromHook starts the run a delivery asks for, refusing one whose variables
// would land outside the trigger's environment.
func (h *handler) startFromHook(ctx context.Context, def store.Definition, wf *spec.Workflow, t spec.Trigger, d trigger.Delivery) (store.Execution, error) {
	vars, err := d.Variables(t)
	if err != nil {
		return store.Execution{}, badRequest("", "trigger %s: %v", t.Name, err)
	}
	inst, _, err := wf.Instantiate(vars)
	if err != nil {
		return store.Execution{}, err
	}
	if env := inst.Spec.Environment; env != t.Environment {
		return store.Execution{}, &apiError{status: http.StatusForbidden, code: CodeForbidden,
			msg: fmt.Sprintf("trigger %s may start runs in %s only; these variables give %s", t.Name, t.Environment, env)}
	}
	return h.Engine.Start(ctx, engine.StartRequest{Workflow: def.Name, Version: def.Version, Variables: vars,
		StartedBy: "trigger:" + def.Name + "/" + t.Name})
}
