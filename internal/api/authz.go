package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// Roles and scopes, named here for brevity.
const (
	roleViewer      = auth.RoleViewer
	roleDeployer    = auth.RoleDeployer
	roleApprover    = auth.RoleApprover
	roleAdmin       = auth.RoleAdmin
	allEnvironments = auth.AllEnvironments
)

// authorize returns a 403 *apiError naming the role and environment unless the caller
// holds need in env; with authentication off everything is allowed.
func (h *handler) authorize(r *http.Request, need auth.Role, env, action string) error {
	if h.Auth == nil {
		return nil
	}
	err := h.Auth.Authorize(r.Context(), IdentityFrom(r.Context()), need, env, action)
	var fe *auth.ForbiddenError
	if errors.As(err, &fe) {
		return &apiError{status: http.StatusForbidden, code: CodeForbidden, msg: fe.Error()}
	}
	return err
}

// grants returns the caller's effective role per environment, or nil when
// authentication is off (everything allowed).
func (h *handler) grants(ctx context.Context) (*roles, error) {
	if h.Auth == nil {
		return nil, nil
	}
	gs, err := h.Auth.Grants(ctx)
	if err != nil {
		return nil, err
	}
	return &roles{grants: gs, id: IdentityFrom(ctx)}, nil
}

// roles answers "may the caller do this here" for many environments with one read.
type roles struct {
	grants []auth.Grant
	id     Identity
}

// has reports whether the caller holds need in env; a nil *roles allows everything.
func (r *roles) has(need auth.Role, env string) bool {
	return r == nil || auth.RoleIn(r.grants, r.id, env).Includes(need)
}

// any reports whether the caller holds need in some environment.
func (r *roles) any(need auth.Role) bool {
	if r == nil {
		return true
	}
	subjects := r.id.Subjects()
	for _, g := range r.grants {
		if slices.Contains(subjects, g.Subject) && g.Role.Includes(need) {
			return true
		}
	}
	return false
}

// authorizeAny returns a 403 unless the caller holds need in some environment.
func (h *handler) authorizeAny(r *http.Request, need auth.Role, action string) error {
	rs, err := h.grants(r.Context())
	if err != nil {
		return err
	}
	if !rs.any(need) {
		return &apiError{status: http.StatusForbidden, code: CodeForbidden,
			msg: fmt.Sprintf("%s needs role %s in at least one environment; %s has none", action, need, rs.id.User)}
	}
	return nil
}

// runEnvironment finds the environment a run would deploy to, and pins the workflow
// version it was found in so that the check and the start see the same definition.
func (h *handler) runEnvironment(ctx context.Context, name string, version int64, vars map[string]string) (string, int64, error) {
	d, err := h.Store.GetDefinition(ctx, store.KindWorkflow, name, version)
	if err != nil {
		return "", 0, definitionError(store.KindWorkflow, name, version, err)
	}
	wf, err := spec.ParseWorkflow(name, []byte(d.Source))
	if err != nil {
		return "", 0, err
	}
	inst, _, err := wf.Instantiate(vars)
	if err != nil {
		return "", 0, err
	}
	return inst.Spec.Environment, d.Version, nil
}

// definitionScope is the environment a definition belongs to for authorization: an
// Environment is its own; a Workflow is a template shared by every environment.
func definitionScope(k store.Kind, name string) string {
	if k == store.KindEnvironment {
		return name
	}
	return allEnvironments
}

// authorizeExecution authorizes need on an execution. A caller who may not even view
// the execution's environment is answered 404, exactly as for an unknown id, so that
// ids from other environments cannot be probed; a viewer lacking need gets the 403.
func (h *handler) authorizeExecution(r *http.Request, need auth.Role, ex store.Execution, action string) error {
	if h.Auth == nil {
		return nil
	}
	if err := h.authorize(r, roleViewer, ex.Environment, action); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusForbidden {
			return executionError(ex.ID, store.ErrNotFound)
		}
		return err
	}
	return h.authorize(r, need, ex.Environment, action)
}
