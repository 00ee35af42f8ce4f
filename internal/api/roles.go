package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store"
)

// listGrants lists the grants of the environments the caller administers (all of
// them for an admin of "*"); environment=NAME narrows it to grants that apply there.
func (h *handler) listGrants(w http.ResponseWriter, r *http.Request) {
	if err := h.authorizeAny(r, roleAdmin, "listing roles"); err != nil {
		h.fail(w, r, err)
		return
	}
	rs, err := h.grants(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	env := r.URL.Query().Get("environment")
	out := GrantList{Items: []Grant{}}
	for _, g := range rs.grants {
		if env != "" && g.Environment != env && g.Environment != allEnvironments {
			continue
		}
		if rs.has(roleAdmin, g.Environment) {
			out.Items = append(out.Items, grantOf(g))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// grantBody reads a grant from the body (POST) or the query (DELETE) and checks that
// the caller administers its environment.
func (h *handler) grantBody(w http.ResponseWriter, r *http.Request, action string) (auth.Grant, error) {
	var req Grant
	if r.Method == http.MethodDelete {
		q := r.URL.Query()
		req = Grant{Subject: q.Get("subject"), Role: q.Get("role"), Environment: q.Get("environment")}
	} else if err := decodeJSON(w, r, &req); err != nil {
		return auth.Grant{}, err
	}
	g := auth.Grant{Subject: req.Subject, Role: auth.Role(req.Role), Environment: req.Environment,
		CreatedBy: IdentityFrom(r.Context()).User}
	n := noted(r.Context(), action, "role/"+g.Subject, g.Environment)
	n.summary = fmt.Sprintf("%s %s in %s", g.Subject, g.Role, g.Environment)
	if err := auth.CheckGrant(g); err != nil {
		return g, err
	}
	if err := h.authorize(r, roleAdmin, g.Environment, action+" in "+g.Environment); err != nil {
		return g, err
	}
	return g, nil
}

// grant gives a subject a role in an environment.
func (h *handler) grant(w http.ResponseWriter, r *http.Request) {
	g, err := h.grantBody(w, r, "role.grant")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	created, err := h.Auth.Grant(r.Context(), g)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	note(r.Context()).summary = fmt.Sprintf("granted %s %s in %s", g.Subject, g.Role, g.Environment)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, GrantResponse{Grant: grantOf(g), Created: created})
}

// revokeGrant removes a grant.
func (h *handler) revokeGrant(w http.ResponseWriter, r *http.Request) {
	g, err := h.grantBody(w, r, "role.revoke")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.Auth.RevokeGrant(r.Context(), g); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = &apiError{status: http.StatusNotFound, code: CodeNotFound,
				msg: fmt.Sprintf("%s has no grant of %s in %s", g.Subject, g.Role, g.Environment)}
		}
		h.fail(w, r, err)
		return
	}
	note(r.Context()).summary = fmt.Sprintf("revoked %s %s in %s", g.Subject, g.Role, g.Environment)
	w.WriteHeader(http.StatusNoContent)
}
