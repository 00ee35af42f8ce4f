package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store"
)

// authRoutes registers login, tokens, roles and the audit log.
func (h *handler) authRoutes(mux *http.ServeMux, p string) {
	mux.HandleFunc("POST "+p+"/login", h.needAuth(h.login))
	mux.HandleFunc("POST "+p+"/logout", h.needAuth(h.logout))
	mux.HandleFunc("GET "+p+"/whoami", h.whoami)
	mux.HandleFunc("GET "+p+"/tokens", h.needAuth(h.listTokens))
	mux.HandleFunc("POST "+p+"/tokens", h.needAuth(h.createToken))
	mux.HandleFunc("DELETE "+p+"/tokens/{id}", h.needAuth(h.revokeToken))
	mux.HandleFunc("GET "+p+"/roles", h.needAuth(h.listGrants))
	mux.HandleFunc("POST "+p+"/roles", h.needAuth(h.grant))
	mux.HandleFunc("DELETE "+p+"/roles", h.needAuth(h.revokeGrant))
	mux.HandleFunc("GET "+p+"/audit", h.needAudit(h.listAudit))
}

// needAuth answers 400 when authentication is off, as there are no tokens or roles.
func (h *handler) needAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.Auth == nil {
			h.fail(w, r, badRequest("", "authentication is off on this server: it trusts X-Sluice-User and has no tokens, sessions or roles (see docs/security.md)"))
			return
		}
		next(w, r)
	}
}

func (h *handler) needAudit(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.Audit == nil {
			h.fail(w, r, badRequest("", "this server keeps no audit log"))
			return
		}
		next(w, r)
	}
}

// login exchanges an API token for a session cookie and a CSRF token.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	n := noted(r.Context(), "login", "session", "")
	if err := decodeJSON(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	sess, err := h.Auth.Login(r.Context(), strings.TrimSpace(req.Token))
	if err != nil {
		h.fail(w, r, authError(err))
		return
	}
	n.who, n.target = sess.Identity, "session/"+sess.Identity.TokenID
	n.summary = "web session until " + sess.ExpiresAt.Format(time.RFC3339)
	for _, c := range []*http.Cookie{
		{Name: SessionCookie, Value: sess.Secret, HttpOnly: true},
		{Name: CSRFCookie, Value: sess.CSRF},
	} {
		c.Path, c.Secure, c.SameSite, c.Expires = "/", true, http.SameSiteStrictMode, sess.ExpiresAt
		http.SetCookie(w, c)
	}
	writeJSON(w, http.StatusOK, Login{User: sess.Identity.User, Groups: sess.Identity.Groups,
		CSRFToken: sess.CSRF, ExpiresAt: sess.ExpiresAt})
}

// logout ends the caller's web session and clears its cookies.
func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	noted(r.Context(), "logout", "session/"+id.TokenID, "")
	if id.Method == auth.MethodSession {
		if _, err := h.Auth.Revoke(r.Context(), id.TokenID, id.User); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	for _, name := range []string{SessionCookie, CSRFCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1, Secure: true, SameSite: http.SameSiteStrictMode})
	}
	w.WriteHeader(http.StatusNoContent)
}

// whoami answers the caller's identity and the grants that apply to them.
func (h *handler) whoami(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	out := WhoAmI{User: id.User, Groups: id.Groups, Method: id.Method, AuthEnabled: h.Auth != nil, Grants: []Grant{}}
	if h.Auth != nil {
		gs, err := h.Auth.Grants(r.Context())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		subjects := id.Subjects()
		for _, g := range gs {
			if contains(subjects, g.Subject) {
				out.Grants = append(out.Grants, grantOf(g))
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// listTokens lists every token to an admin of "*", and their own tokens to others.
// kind=session lists web sessions instead of API tokens.
func (h *handler) listTokens(w http.ResponseWriter, r *http.Request) {
	kind := r.URL.Query().Get("kind")
	switch kind {
	case "":
		kind = auth.KindAPI
	case auth.KindAPI, auth.KindSession:
	default:
		h.fail(w, r, badRequest("kind", "kind=%q: want api or session", kind))
		return
	}
	all := h.authorize(r, roleAdmin, allEnvironments, "listing tokens") == nil
	ts, err := h.Auth.Tokens(r.Context(), kind)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	me, now := IdentityFrom(r.Context()).User, h.Now()
	out := TokenList{Items: make([]Token, 0, len(ts))}
	for _, t := range ts {
		if all || t.User == me {
			out.Items = append(out.Items, tokenOf(t, now))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// createToken makes an API token; only an admin of "*" may.
func (h *handler) createToken(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	n := noted(r.Context(), "token.create", "token", allEnvironments)
	if err := decodeJSON(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	n.target = "token/user:" + req.User
	if err := h.authorize(r, roleAdmin, allEnvironments, "creating tokens"); err != nil {
		h.fail(w, r, err)
		return
	}
	var ttl time.Duration
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			h.fail(w, r, badRequest("expiresIn", "expiresIn=%q: want a positive duration such as 720h", req.ExpiresIn))
			return
		}
		ttl = d
	}
	secret, t, err := h.Auth.CreateToken(r.Context(), auth.NewToken{User: req.User, Groups: req.Groups,
		Description: req.Description, TTL: ttl, CreatedBy: IdentityFrom(r.Context()).User})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	n.target = "token/" + t.ID
	n.summary = fmt.Sprintf("token %s for %s%s, %s", t.ID, t.User, groupsSuffix(t.Groups), expiry(t.ExpiresAt))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, TokenCreated{Token: tokenOf(t, h.Now()), Secret: secret})
}

func groupsSuffix(gs []string) string {
	if len(gs) == 0 {
		return ""
	}
	return " (groups " + strings.Join(gs, ",") + ")"
}

func expiry(t time.Time) string {
	if t.IsZero() {
		return "never expires"
	}
	return "expires " + t.Format(time.RFC3339)
}

// revokeToken revokes a token and its sessions: any token for an admin of "*", one's
// own tokens for everyone.
func (h *handler) revokeToken(w http.ResponseWriter, r *http.Request) {
	id, me := r.PathValue("id"), IdentityFrom(r.Context())
	n := noted(r.Context(), "token.revoke", "token/"+id, allEnvironments)
	t, err := h.Auth.Tokens(r.Context(), "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	owner := ""
	for _, tk := range t {
		if tk.ID == id {
			owner = tk.User
		}
	}
	if owner != me.User || owner == "" {
		if err := h.authorize(r, roleAdmin, allEnvironments, "revoking another user's token"); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	rt, err := h.Auth.Revoke(r.Context(), id, me.User)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = &apiError{status: http.StatusNotFound, code: CodeNotFound, msg: fmt.Sprintf("token %q not found", id)}
		}
		h.fail(w, r, err)
		return
	}
	n.summary = fmt.Sprintf("revoked token %s of %s and its sessions", rt.ID, rt.User)
	writeJSON(w, http.StatusOK, tokenOf(rt, h.Now()))
}
