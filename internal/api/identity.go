package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/internal/auth"
)

// Identity is who makes a request and how they proved it.
type Identity = auth.Identity

// Identity headers: with authentication off, callers name themselves.
const (
	HeaderUser   = "X-Sluice-User"
	HeaderGroups = "X-Sluice-Groups"
	// HeaderCSRF carries a session's CSRF token on every state-changing request made
	// with the session cookie.
	HeaderCSRF = "X-Sluice-CSRF"
	// AnonymousUser is the identity of a request that names no user.
	AnonymousUser = "anonymous"
)

// Cookies of a web session.
const (
	// SessionCookie holds the session secret: HttpOnly, Secure, SameSite=Strict.
	SessionCookie = "sluice_session"
	// CSRFCookie holds the session's CSRF token for the UI's script to echo in HeaderCSRF.
	CSRFCookie = "sluice_csrf"
)

type identityKey struct{}

// IdentityFrom returns the caller's identity stored in ctx by the identity middleware.
func IdentityFrom(ctx context.Context) Identity {
	if id, ok := ctx.Value(identityKey{}).(Identity); ok {
		return id
	}
	return Identity{User: AnonymousUser}
}

// publicRoutes answer without credentials.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /api/v1/healthz": true, "GET /readyz": true, "POST /api/v1/login": true,
}

// probeRoutes ignore credentials altogether: a probe or load balancer that sends a
// stale or wrong token still learns whether the server is up.
var probeRoutes = map[string]bool{
	"GET /healthz": true, "GET /api/v1/healthz": true, "GET /readyz": true,
	"HEAD /healthz": true, "HEAD /api/v1/healthz": true, "HEAD /readyz": true,
}

// isHook reports whether r is a trigger's webhook, which proves itself with the
// trigger's secret, not with sluice credentials (Harbor even sends its own
// Authorization header).
func isHook(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, hookPrefix)
}

// identify is the one place that decides who the caller is. With authentication off
// (Deps.Auth nil) it trusts the X-Sluice-User and X-Sluice-Groups headers; otherwise
// the caller proves who they are with a bearer token or a session cookie, and a
// state-changing request made with a cookie must echo its CSRF token.
func (h *handler) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if probeRoutes[r.Method+" "+r.URL.Path] || isHook(r) {
			anon := Identity{User: AnonymousUser}
			noteIdentity(r.Context(), anon)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, anon)))
			return
		}
		id, err := h.authenticate(r)
		if errors.Is(err, auth.ErrNoCredentials) && publicRoutes[r.Method+" "+r.URL.Path] {
			id, err = Identity{User: AnonymousUser}, nil
		}
		if err != nil {
			noteIdentity(r.Context(), Identity{User: AnonymousUser})
			h.fail(w, r, authError(err))
			return
		}
		noteIdentity(r.Context(), id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

// authenticate returns the caller's identity or an *apiError saying why there is none.
func (h *handler) authenticate(r *http.Request) (Identity, error) {
	if h.Auth == nil {
		return headerIdentity(r), nil
	}
	if v := r.Header.Get("Authorization"); v != "" {
		scheme, secret, _ := strings.Cut(v, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return Identity{}, unauthorized("Authorization header: want Bearer <token>")
		}
		id, err := h.bearerIdentity(r.Context(), strings.TrimSpace(secret))
		return id, authError(err)
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return Identity{}, auth.ErrNoCredentials
	}
	id, err := h.Auth.AuthenticateSession(r.Context(), c.Value)
	if err != nil {
		return Identity{}, authError(err)
	}
	if stateChanging(r.Method) && !auth.CheckCSRF(c.Value, r.Header.Get(HeaderCSRF)) {
		return Identity{}, &apiError{status: http.StatusForbidden, code: CodeCSRF,
			msg: "missing or wrong " + HeaderCSRF + " header: a request made with the session cookie must echo the CSRF token from login"}
	}
	return id, nil
}

// authError maps an authentication failure; store trouble stays a server error.
func authError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrBadToken), errors.Is(err, auth.ErrNoCredentials):
		return unauthorized(err.Error())
	}
	return err
}

func unauthorized(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: CodeUnauthorized, msg: msg}
}

// headerIdentity is the self-declared identity used when authentication is off.
func headerIdentity(r *http.Request) Identity {
	id := Identity{User: strings.TrimSpace(r.Header.Get(HeaderUser)), Method: auth.MethodHeader}
	if id.User == "" {
		id.User = AnonymousUser
	}
	for _, g := range strings.Split(r.Header.Get(HeaderGroups), ",") {
		if g = strings.TrimSpace(g); g != "" {
			id.Groups = append(id.Groups, g)
		}
	}
	return id
}

// stateChanging reports whether a method may change state.
func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
