package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/auth"
)

// OIDC routes: they answer without credentials and before the caller is identified,
// so a stale session cookie never stands in the way of signing in again.
const (
	oidcPrefix   = "/api/v1/oidc"
	oidcInfo     = oidcPrefix            // GET: whether SSO is on, for the sign-in view
	oidcLogin    = oidcPrefix + "/login" // GET ?return=/path: off to the provider
	oidcCallback = oidcPrefix + "/callback"
	// OIDCFlowCookie keeps a sign-in's state, nonce and PKCE verifier between the
	// redirect to the provider and its answer: HttpOnly, Secure, SameSite=Lax (the
	// answer is a navigation from the provider's site), ten minutes, callback path only.
	OIDCFlowCookie = "sluice_oidc"
	oidcFlowTTL    = 10 * time.Minute
)

// oidcRoutes serves the OIDC sign-in routes and passes every other request on.
func (h *handler) oidcRoutes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case oidcInfo, oidcLogin, oidcCallback:
		default:
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeError(w, &apiError{status: http.StatusMethodNotAllowed, code: CodeMethodNotAllowed,
				msg: "method " + r.Method + " not allowed on " + r.URL.Path + "; allowed: GET"})
			return
		}
		switch r.URL.Path {
		case oidcInfo:
			writeJSON(w, http.StatusOK, OIDCInfo{Enabled: h.OIDC != nil && h.Auth != nil, LoginURL: oidcLogin})
		case oidcLogin:
			h.oidcBegin(w, r)
		default:
			h.oidcFinish(w, r)
		}
	})
}

// OIDCInfo says whether the server offers single sign-on.
type OIDCInfo struct {
	Enabled  bool   `json:"enabled"`
	LoginURL string `json:"loginUrl"` // open it in the browser, with ?return=/path
}

// oidcBegin sends the browser to the provider with a fresh state, nonce and PKCE
// challenge, kept in the flow cookie.
func (h *handler) oidcBegin(w http.ResponseWriter, r *http.Request) {
	if h.OIDC == nil || h.Auth == nil {
		writeError(w, badRequest("", "single sign-on is off on this server (start it with --auth and --oidc-issuer)"))
		return
	}
	ret := localPath(r.URL.Query().Get("return"))
	u, flow, err := h.OIDC.Begin(h.redirectURL(r), ret)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := json.Marshal(flow)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: OIDCFlowCookie, Value: base64.RawURLEncoding.EncodeToString(b),
		Path: oidcCallback, MaxAge: int(oidcFlowTTL.Seconds()), HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
}

// oidcFinish checks the provider's answer, makes a web session for the person it
// names, records the sign-in in the audit log and opens the page they came from.
func (h *handler) oidcFinish(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	http.SetCookie(w, &http.Cookie{Name: OIDCFlowCookie, Path: oidcCallback, MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	if h.OIDC == nil || h.Auth == nil {
		signInPage(w, http.StatusBadRequest, "Single sign-on is off on this server.", "")
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		signInPage(w, http.StatusUnauthorized, "The identity provider refused the sign-in: "+e+" "+q.Get("error_description"), "")
		return
	}
	flow, err := readFlow(r)
	if err != nil {
		signInPage(w, http.StatusBadRequest, "This sign-in was not started in this browser, or took longer than ten minutes; start again.", "")
		return
	}
	c, err := h.OIDC.Finish(r.Context(), h.redirectURL(r), flow, q.Get("state"), q.Get("code"))
	if err != nil {
		h.oidcRefused(w, r, err)
		return
	}
	sess, err := h.Auth.StartSession(r.Context(), c.Identity(auth.MethodSession, ""),
		fmt.Sprintf("oidc sign-in: subject %s of %s", c.Subject, h.OIDC.Issuer()))
	if err != nil {
		h.log.Error("api: oidc session not stored", "err", err)
		signInPage(w, http.StatusInternalServerError, "The session could not be stored; try again.", "")
		return
	}
	h.recordOIDCSignIn(r, c, sess)
	setSessionCookies(w, sess)
	signInPage(w, http.StatusOK, "Signed in as "+sess.Identity.User+".", flow.Return)
}

// oidcRefused answers a refused sign-in; a failure to reach the provider is logged.
func (h *handler) oidcRefused(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, auth.ErrOIDC) {
		h.log.Debug("api: oidc sign-in refused", "remote", r.RemoteAddr, "err", err)
		signInPage(w, http.StatusUnauthorized, "Sign-in refused: "+err.Error(), "")
		return
	}
	h.log.Warn("api: oidc sign-in failed", "err", err)
	signInPage(w, http.StatusBadGateway, "The identity provider could not be reached; try again.", "")
}

// recordOIDCSignIn writes the audit entry of a sign-in: who, by which subject of
// which provider, with which groups.
func (h *handler) recordOIDCSignIn(r *http.Request, c auth.Claims, sess auth.Session) {
	if h.Audit == nil {
		return
	}
	n := &auditNote{who: sess.Identity, action: "login", target: "session/" + sess.Identity.TokenID,
		summary: fmt.Sprintf("oidc sign-in of %s (subject %s of %s%s); web session until %s", c.User, c.Subject,
			h.OIDC.Issuer(), groupsSuffix(c.Groups), sess.ExpiresAt.Format(time.RFC3339))}
	h.record(r, n, http.StatusOK)
}

// setSessionCookies hands the browser a web session, as login does.
func setSessionCookies(w http.ResponseWriter, sess auth.Session) {
	for _, c := range []*http.Cookie{
		{Name: SessionCookie, Value: sess.Secret, HttpOnly: true},
		{Name: CSRFCookie, Value: sess.CSRF},
	} {
		c.Path, c.Secure, c.SameSite, c.Expires = "/", true, http.SameSiteStrictMode, sess.ExpiresAt
		http.SetCookie(w, c)
	}
}

// readFlow decodes the flow cookie.
func readFlow(r *http.Request) (auth.Flow, error) {
	var f auth.Flow
	c, err := r.Cookie(OIDCFlowCookie)
	if err != nil {
		return f, err
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return f, err
	}
	return f, json.Unmarshal(b, &f)
}

// redirectURL is where the provider sends the browser back: the configured URL, or
// this server's callback on the request's own scheme and Host.
func (h *handler) redirectURL(r *http.Request) string {
	if u := h.OIDC.RedirectURL(); u != "" {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + oidcCallback
}

// localPath returns p when it is a path on this server, "/" otherwise: a sign-in never
// sends the browser to another site.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// signInPage answers the browser after a sign-in: a message, and when next is set, a
// same-site navigation there (a redirect would be part of the provider's cross-site
// navigation, and the SameSite=Strict session cookie would not be sent with it).
func signInPage(w http.ResponseWriter, status int, msg, next string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	var refresh template.HTML
	if next != "" { // a local path (localPath), escaped for the attribute
		refresh = template.HTML(`<meta http-equiv="refresh" content="0;url=` + html.EscapeString(next) + `">`)
	}
	_ = signInTmpl.Execute(w, struct {
		Msg, Next string
		Refresh   template.HTML
	}{msg, next, refresh})
}

var signInTmpl = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sluice sign-in</title>
{{.Refresh}}</head>
<body><p id="sso-message">{{.Msg}}</p><p><a id="sso-continue" href="{{if .Next}}{{.Next}}{{else}}/{{end}}">Continue to sluice</a></p></body></html>
`))

// bearerIdentity proves a bearer token: an OIDC ID token when it has a JWT's shape and
// single sign-on is on, a sluice API token otherwise.
func (h *handler) bearerIdentity(ctx context.Context, secret string) (Identity, error) {
	if h.OIDC != nil && auth.LooksLikeJWT(secret) {
		c, err := h.OIDC.VerifyBearer(ctx, secret)
		if err != nil {
			return Identity{}, err
		}
		return c.Identity(auth.MethodOIDC, "oidc:"+c.Subject), nil
	}
	return h.Auth.Authenticate(ctx, secret)
}
