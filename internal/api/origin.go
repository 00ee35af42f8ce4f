package api

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// HeaderRequest marks a request as made by a sluice client (the CLI, the Go client,
// the web UI). A browser sends a custom header only after a CORS preflight, which this
// server never grants to another origin, so a page elsewhere cannot set it.
const HeaderRequest = "X-Sluice-Request"

// Error codes of refused browser-origin requests.
const (
	// CodeForeignHost: the Host header is not a name the server is served as (421).
	CodeForeignHost = "foreign_host"
	// CodeCrossOrigin: a state-changing request from another origin (403).
	CodeCrossOrigin = "cross_origin"
	// CodeSimpleRequest: a state-changing request an HTML form could send (415).
	CodeSimpleRequest = "simple_request"
)

// Origins is which names the server is served as (the Host header it accepts) and
// which browser origins may change state. It is the API's defence against cross-site
// request forgery and DNS rebinding, with authentication on or off.
//
// A Host is accepted when it is an IP address (DNS rebinding needs a name the attacker
// controls), "localhost" or a name under .localhost (browsers resolve them to loopback
// themselves), the host of the public URL, or an allowed host. A state-changing request
// must also be same-origin by Sec-Fetch-Site or Origin when the browser sends them,
// and a POST must be non-simple: carry HeaderRequest or a Content-Type no HTML form
// can send.
type Origins struct {
	anyHost bool
	hosts   []hostPattern
	cop     *http.CrossOriginProtection
}

// hostPattern is one allowed name; an empty port matches every port.
type hostPattern struct {
	name, port string
}

// NewOrigins returns the policy for a server reachable at publicURL (may be empty)
// and under the extra allowedHosts ("name" for every port, "name:port", or "*" for
// any name, which turns the Host check off). Errors name the flag at fault.
func NewOrigins(publicURL string, allowedHosts []string) (*Origins, error) {
	o := &Origins{cop: http.NewCrossOriginProtection()}
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("--public-url %q: want an absolute http:// or https:// URL such as https://sluice.example.com", publicURL)
		}
		o.hosts = append(o.hosts, hostPattern{name: strings.ToLower(u.Hostname()), port: u.Port()})
		if err := o.cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, fmt.Errorf("--public-url %q: %w", publicURL, err)
		}
	}
	for _, h := range allowedHosts {
		p, err := parseHostPattern(h)
		if err != nil {
			return nil, err
		}
		if p.name == "*" {
			o.anyHost = true
			continue
		}
		o.hosts = append(o.hosts, p)
	}
	return o, nil
}

// parseHostPattern reads one --allowed-host value.
func parseHostPattern(s string) (hostPattern, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	bad := func(why string) (hostPattern, error) {
		return hostPattern{}, fmt.Errorf("--allowed-host %q: %s; want a host name or host:port, such as sluice.example.com or sluice.internal:7070", s, why)
	}
	switch {
	case v == "":
		return bad("empty")
	case v == "*":
		return hostPattern{name: "*"}, nil
	case strings.Contains(v, "://"):
		return bad("a URL, not a host (use --public-url for a URL)")
	case strings.ContainsAny(v, "/?#@ \t*"):
		return bad("not a host name")
	}
	name, port, err := net.SplitHostPort(v)
	if err != nil {
		name, port = strings.Trim(v, "[]"), ""
	}
	if name == "" {
		return bad("no host name")
	}
	return hostPattern{name: name, port: port}, nil
}

// hostAllowed reports whether host (a Host header, or an Origin's host) names this
// server.
func (o *Origins) hostAllowed(host string) bool {
	if o.anyHost {
		return true
	}
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		name, port = host, ""
	}
	name = strings.ToLower(strings.Trim(name, "[]"))
	if net.ParseIP(name) != nil || name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	for _, p := range o.hosts {
		if p.name == name && (p.port == "" || p.port == port) {
			return true
		}
	}
	return false
}

// healthRoutes answer whatever the Host (probes address a pod by IP or any name).
func healthRoute(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/api/v1/healthz"
}

// CheckHost refuses, with a 421 JSON error, a request whose Host header is not a name
// the server is served as; health checks are exempt. Wrap every route with it (the UI
// too) so that a DNS-rebinding page cannot read or change anything.
func (o *Origins) CheckHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthRoute(r.URL.Path) && !o.hostAllowed(r.Host) {
			writeError(w, &apiError{status: http.StatusMisdirectedRequest, code: CodeForeignHost,
				msg: fmt.Sprintf("Host %q is not a name this server is served as (DNS rebinding?); "+
					"start the server with --allowed-host %s or --public-url if it is", r.Host, hostOnly(r.Host))})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// checkRequest returns why a state-changing request is refused, or nil: it must come
// from this server's own origin and be one no HTML form or simple fetch can send.
func (o *Origins) checkRequest(r *http.Request) error {
	if !stateChanging(r.Method) {
		return nil
	}
	if err := o.cop.Check(r); err != nil {
		return &apiError{status: http.StatusForbidden, code: CodeCrossOrigin,
			msg: fmt.Sprintf("cross-origin request refused: %s %s from origin %q (Sec-Fetch-Site %q); "+
				"state-changing requests are only accepted from this server's own pages",
				r.Method, r.URL.Path, r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site"))}
	}
	// Only POST is both state-changing and CORS-safelisted: a page elsewhere sends
	// PUT, PATCH or DELETE only after a preflight, which is never granted.
	if r.Method != http.MethodPost || r.Header.Get(HeaderRequest) != "" || !formContentType(r.Header.Get("Content-Type")) {
		return nil
	}
	return &apiError{status: http.StatusUnsupportedMediaType, code: CodeSimpleRequest,
		msg: fmt.Sprintf("%s %s with Content-Type %q refused: send a JSON (or YAML for apply) body with "+
			"Content-Type application/json, or the %s: 1 header", r.Method, r.URL.Path, r.Header.Get("Content-Type"), HeaderRequest)}
}

// formContentType reports whether ct is one an HTML form or a simple cross-origin
// fetch can send without a preflight: none, or the three CORS-safelisted types.
func formContentType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true // browsers preflight what they cannot parse, but nothing legitimate sends it
	}
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return true
	}
	return false
}

// guard applies the Host check and the request rules before anything else (so a
// refused request is neither authenticated nor stored).
func (h *handler) guard(next http.Handler) http.Handler {
	return h.Origins.CheckHost(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.Origins.checkRequest(r); err != nil {
			writeError(w, toAPIError(err))
			return
		}
		next.ServeHTTP(w, r)
	}))
}
