package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/store"
)

// UndoRequest is the body of POST /api/v1/services/{environment}/{service}/undo.
type UndoRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Undo modes: how an undo puts the previous release back.
const (
	UndoSwitch   = "switch"   // the previous slot was still warm: traffic switched back
	UndoRedeploy = "redeploy" // the previous release runs again
)

// UndoResponse says how the previous release comes back.
type UndoResponse struct {
	Mode      string `json:"mode"`
	Execution string `json:"execution"` // the rolled back release (switch) or the new run (redeploy)
	Message   string `json:"message"`
}

// undo serves POST /api/v1/services/{environment}/{service}/undo: it puts the
// service's previous release back. While the release that replaced it still keeps the
// old slot warm (it waits in its scale-down delay), that release is rolled back: all
// traffic returns to the old slot at once. Otherwise the previous release's workflow
// runs again with its variables.
func (h *handler) undo(w http.ResponseWriter, r *http.Request) {
	env, name := r.PathValue("environment"), r.PathValue("service")
	n := noted(r.Context(), "undo", "service/"+env+"/"+name, env)
	if err := h.authorize(r, roleDeployer, env, "undoing the release of "+name); err != nil {
		h.fail(w, r, err)
		return
	}
	var req UndoRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	who := IdentityFrom(r.Context()).User
	res, err := h.undoService(r.Context(), env, name, who, req.Reason)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	n.summary = fmt.Sprintf("undo of %s in %s: %s", name, env, res.Message)
	writeJSON(w, http.StatusAccepted, res)
}

// undoService decides between switching back and redeploying.
func (h *handler) undoService(ctx context.Context, env, name, who, reason string) (UndoResponse, error) {
	svc, err := h.Store.GetService(ctx, env, name)
	if errors.Is(err, store.ErrNotFound) {
		return UndoResponse{}, &apiError{status: http.StatusNotFound, code: CodeNotFound,
			msg: fmt.Sprintf("service %s has no release in %s", name, env)}
	}
	if err != nil {
		return UndoResponse{}, fmt.Errorf("undo: %w", err)
	}
	cur, err := h.Store.GetExecution(ctx, svc.ExecutionID)
	if err != nil {
		return UndoResponse{}, fmt.Errorf("undo: execution %s: %w", svc.ExecutionID, err)
	}
	cause := "undo by " + who // never empty: the identity middleware names anonymous callers
	if reason != "" {
		cause += ": " + reason
	}
	if !cur.Status.Terminal() {
		if !warmAfterPromotion(cur.State) {
			return UndoResponse{}, &apiError{status: http.StatusConflict, code: CodeInvalidState,
				msg: fmt.Sprintf("execution %s of %s has not made its release live yet; roll it back instead", cur.ID, name)}
		}
		if err := h.Engine.Rollback(ctx, cur.ID, who, cause); err != nil && !errors.Is(err, engine.ErrRequestPending) {
			return UndoResponse{}, err
		}
		return UndoResponse{Mode: UndoSwitch, Execution: cur.ID,
			Message: fmt.Sprintf("rolling back execution %s: all traffic returns to the slot it replaced, which still runs", cur.ID)}, nil
	}
	prev, err := h.previousRelease(ctx, cur)
	if err != nil {
		return UndoResponse{}, err
	}
	ex, err := h.Engine.Start(ctx, engine.StartRequest{Workflow: prev.Workflow, Version: prev.WorkflowVersion,
		Variables: prev.Variables, StartedBy: who,
		Cause: fmt.Sprintf("%s, redeploying the release of execution %s, which %s replaced", cause, prev.ID, cur.ID)})
	if err != nil {
		return UndoResponse{}, err
	}
	return UndoResponse{Mode: UndoRedeploy, Execution: ex.ID,
		Message: fmt.Sprintf("the slot of the previous release is gone: execution %s runs the release of %s again", ex.ID, prev.ID)}, nil
}

// warmAfterPromotion reports whether an execution's state says its release is live
// and the slot it replaced still runs.
func warmAfterPromotion(state json.RawMessage) bool {
	var st struct {
		Promoted      bool `json:"promoted"`
		OldScaledDown bool `json:"oldScaledDown"`
	}
	return json.Unmarshal(state, &st) == nil && st.Promoted && !st.OldScaledDown
}

// previousRelease is the latest succeeded execution of cur's service before cur.
func (h *handler) previousRelease(ctx context.Context, cur store.Execution) (store.Execution, error) {
	list, err := h.Store.ListExecutions(ctx, store.ExecutionFilter{Environment: cur.Environment, Service: cur.Service,
		Status: store.StatusSucceeded})
	if err != nil {
		return store.Execution{}, fmt.Errorf("undo: %w", err)
	}
	for _, ex := range list {
		if ex.ID != cur.ID && ex.CreatedAt.Before(cur.CreatedAt) {
			return ex, nil
		}
	}
	return store.Execution{}, &apiError{status: http.StatusConflict, code: CodeInvalidState,
		msg: fmt.Sprintf("service %s has no earlier successful release in %s to go back to", cur.Service, cur.Environment)}
}
